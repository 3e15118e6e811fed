// swift-tools-version: 6.0
//
// Boltwork: a toolkit for DIY smart locks on Linux single-board computers.
//
// Dependencies point one way:
//   BoltworkHAL (protocols, time, errors)
//     <- BoltworkLinux (libgpiod, libi2c) and BoltworkSimulation (in-memory hardware)
//     <- drivers <- lock logic <- executables, which pick a backend.
import PackageDescription

let package = Package(
    name: "Boltwork",
    products: [
        .library(name: "BoltworkHAL", targets: ["BoltworkHAL"]),
        .library(name: "BoltworkLinux", targets: ["BoltworkLinux"]),
        .library(name: "BoltworkSimulation", targets: ["BoltworkSimulation"]),
        .library(name: "BoltworkDrivers", targets: ["BoltworkDrivers"]),
        .library(name: "BoltworkLock", targets: ["BoltworkLock"]),
        .library(name: "BoltworkStore", targets: ["BoltworkStore"]),
        .library(name: "BoltworkBoard", targets: ["BoltworkBoard"]),
        .library(name: "BoltworkControl", targets: ["BoltworkControl"]),
        .library(name: "BoltworkDoctor", targets: ["BoltworkDoctor"]),
        .executable(name: "boltwork-probe", targets: ["boltwork-probe"]),
        .executable(name: "boltd", targets: ["boltd"]),
        .executable(name: "boltctl", targets: ["boltctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // MARK: Hardware-abstraction layer: small I/O-only protocols, time, errors.
        .target(name: "BoltworkHAL"),

        // MARK: Linux backends.
        // C shim over libgpiod; picks the 1.6 (v1) or 2.x (v2) API at compile time.
        .target(name: "CBoltworkGPIOD", linkerSettings: [.linkedLibrary("gpiod")]),
        // C shim over libi2c and the /dev/i2c-N ioctls.
        .target(name: "CBoltworkI2C", linkerSettings: [.linkedLibrary("i2c")]),
        .target(name: "BoltworkLinux", dependencies: ["BoltworkHAL", "CBoltworkGPIOD", "CBoltworkI2C"]),

        // MARK: Simulated hardware and scripted mocks, shipped for makers' own tests.
        .target(name: "BoltworkSimulation", dependencies: ["BoltworkHAL"]),

        // MARK: Device drivers: keypad, motor, bolt and door sensors, fuel gauges. They depend on
        // the protocols only, so they run unchanged on Linux and on the simulated backend.
        .target(name: "BoltworkDrivers", dependencies: ["BoltworkHAL"]),

        // MARK: Lock logic: the bolt state machine, users and credentials, lockout, modes,
        // schedules, battery policy. Depends on device-level protocols only, never a backend.
        .target(
            name: "BoltworkLock",
            dependencies: [
                "BoltworkHAL", "BoltworkDrivers",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]),
        // The durable store: SQLite through GRDB (WAL, synchronous=FULL), audit hash chain.
        .target(
            name: "BoltworkStore",
            dependencies: ["BoltworkLock", .product(name: "GRDB", package: "GRDB.swift")]),

        // Board files: YAML pin maps, validated at load.
        .target(
            name: "BoltworkBoard",
            dependencies: ["BoltworkHAL", "BoltworkDrivers", "BoltworkSimulation", "Yams"]),

        // The daemon's control protocol (JSON lines over a Unix socket) and systemd notifications,
        // shared by boltd and its clients.
        .target(name: "BoltworkControl"),

        // `doctor`: examines a lock (credentials, activity, battery, bolt, clock, devices) and
        // reports findings with their fix; a pure function of its input, plus the Linux facts.
        .target(name: "BoltworkDoctor", dependencies: ["BoltworkLock", "BoltworkDrivers", "CBoltworkClock"]),
        // C shim over adjtimex(2) (<sys/timex.h> is not in Swift's Glibc module).
        .target(name: "CBoltworkClock"),

        // The daemon's parts: the running lock, the control handler, the scripted simulator, the
        // interactive simulator's model and renderer, the log handler.
        .target(
            name: "BoltworkDaemon",
            dependencies: [
                "BoltworkHAL", "BoltworkDrivers", "BoltworkSimulation", "BoltworkLock", "BoltworkBoard",
                "BoltworkControl", "BoltworkStore", "BoltworkDoctor",
                .product(name: "Logging", package: "swift-log"),
            ]),

        // MARK: Executables.
        // The lock controller daemon.
        .executableTarget(
            name: "boltd",
            dependencies: [
                "BoltworkHAL", "BoltworkLinux", "BoltworkLock", "BoltworkStore", "BoltworkBoard",
                "BoltworkControl", "BoltworkDoctor",
                "BoltworkDaemon", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // The admin CLI: talks to a running boltd over its control socket.
        .executableTarget(
            name: "boltctl",
            dependencies: [
                "BoltworkControl", "BoltworkDoctor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // Inspects chips, lines and I2C devices on a board, or runs the simulated backend.
        .executableTarget(
            name: "boltwork-probe",
            dependencies: [
                "BoltworkHAL", "BoltworkLinux", "BoltworkSimulation", "BoltworkBoard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Measures reaction time, idle cost, size and endurance (`scripts/bench`); prints figures,
        // never passes or fails. Not part of `swift test`.
        .executableTarget(
            name: "boltwork-bench",
            dependencies: [
                "BoltworkHAL", "BoltworkLinux", "BoltworkSimulation", "BoltworkDrivers", "BoltworkLock",
                "BoltworkStore", "BoltworkBoard", "BoltworkControl", "BoltworkDaemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // MARK: Examples
        // Small programs a maker copies from, each runnable with --board on the simulated board or
        // a real one (Examples/README.md). ExampleSupport holds the board plumbing they share;
        // ExamplesTests runs each built example against Boards/simulator.yaml.
        .target(
            name: "ExampleSupport",
            dependencies: [
                "BoltworkHAL", "BoltworkLinux", "BoltworkSimulation", "BoltworkDrivers", "BoltworkLock",
                "BoltworkBoard", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/ExampleSupport"),
        .executableTarget(
            name: "keypad-echo",
            dependencies: [
                "ExampleSupport", "BoltworkDrivers",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/KeypadEcho"),
        .executableTarget(
            name: "motor-jog",
            dependencies: [
                "ExampleSupport", "BoltworkDrivers",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/MotorJog"),
        .executableTarget(
            name: "bolt-watch",
            dependencies: [
                "ExampleSupport", "BoltworkDrivers",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/BoltWatch"),
        .executableTarget(
            name: "battery-read",
            dependencies: [
                "ExampleSupport", "BoltworkDrivers",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/BatteryRead"),
        .executableTarget(
            name: "minimal-lock",
            dependencies: [
                "ExampleSupport", "BoltworkDrivers", "BoltworkLock",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/MinimalLock"),
        .testTarget(
            name: "ExamplesTests",
            dependencies: ["keypad-echo", "motor-jog", "bolt-watch", "battery-read", "minimal-lock"]),

        // MARK: Tests.
        // Runs inside the real-kernel tier's qemu guest against gpio-sim and i2c-stub
        // (scripts/kernel-tier); not part of `swift test`.
        .executableTarget(
            name: "boltwork-kernel-tests",
            dependencies: [
                "BoltworkHAL", "BoltworkLinux", "BoltworkDrivers", "BoltworkLock", "BoltworkControl",
            ],
            path: "Tests/KernelTier"),
        .testTarget(name: "BoltworkHALTests", dependencies: ["BoltworkHAL", "BoltworkSimulation"]),
        .testTarget(name: "BoltworkLinuxTests", dependencies: ["BoltworkLinux", "BoltworkSimulation"]),
        .testTarget(name: "BoltworkSimulationTests", dependencies: ["BoltworkSimulation"]),
        .testTarget(name: "BoltworkDriversTests", dependencies: ["BoltworkDrivers", "BoltworkSimulation"]),
        .testTarget(
            name: "BoltworkLockTests",
            dependencies: ["BoltworkLock", "BoltworkDrivers", "BoltworkSimulation"]),
        .testTarget(name: "BoltworkStoreTests", dependencies: ["BoltworkStore", "BoltworkLock"]),
        .testTarget(name: "BoltworkControlTests", dependencies: ["BoltworkControl"]),
        .testTarget(
            name: "BoltworkScenarioTests",
            dependencies: [
                "BoltworkLock", "BoltworkBoard", "BoltworkDrivers", "BoltworkSimulation", "BoltworkStore",
                "BoltworkDaemon",
                // To tamper with the lock's database the way someone with the file would.
                .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        .testTarget(
            name: "BoltworkDaemonTests",
            dependencies: [
                "BoltworkDaemon", "BoltworkDoctor", "BoltworkBoard", "BoltworkLock", "BoltworkSimulation",
                "BoltworkStore",
                "BoltworkHAL", .product(name: "Logging", package: "swift-log"),
            ]),
        // The control handler against a simulated lock, and boltctl end to end against a real
        // boltd process (depending on the executables makes SwiftPM build them for the tests).
        .testTarget(
            name: "BoltctlTests",
            dependencies: [
                "BoltworkControl", "BoltworkDaemon", "BoltworkLock", "BoltworkBoard", "BoltworkSimulation",
                "BoltworkStore", "boltd", "boltctl",
            ]),
        .testTarget(
            name: "BoltworkDoctorTests",
            dependencies: [
                "BoltworkDoctor", "BoltworkLock", "BoltworkDrivers", "BoltworkBoard", "BoltworkSimulation",
                "BoltworkDaemon", "BoltworkControl", "BoltworkHAL",
            ]),
        .testTarget(
            name: "BoltworkBoardTests",
            dependencies: ["BoltworkBoard", "BoltworkDrivers", "BoltworkSimulation"]),
    ]
)
