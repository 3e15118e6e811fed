// boltwork-bench: Boltwork's figures of merit. How fast the lock reacts (key latency, the unlock
// path), what it costs while nobody touches it (idle CPU, wake-ups, scans), how small it is (RSS,
// start-up) and whether it lasts (lock/unlock cycles without memory growth), each beside a plain
// polling scanner on the same backend. It prints figures; it never passes or fails on timing.
// `scripts/bench` builds it and boltd in release mode and runs it.
import ArgumentParser
import BoltworkBoard
import BoltworkControl
import BoltworkHAL
import BoltworkLinux
import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "boltwork-bench",
        abstract: "Measure Boltwork's reaction time, idle cost, size and endurance.",
        discussion: """
            Run it through scripts/bench (release build). The host part runs boltd and the keypad \
            on the simulated board in real time; the VM part runs them against gpio-sim in the \
            real-kernel tier's qemu guest (scripts/kernel-tier). Figures only: nothing passes or fails.
            """,
        subcommands: [Run.self, Guest.self, IdleChild.self, EnduranceChild.self],
        defaultSubcommand: Run.self)
}

/// The sizes of a run: the issue's by default, smaller with `--quick`.
struct Sizes {
    var idleSeconds: Int
    var presses: Int
    var scanCostScans: Int
    var startRuns: Int
    var unlockSamples: Int
    var hashSamples: Int
    var cycles: Int

    static let full = Sizes(
        idleSeconds: 60, presses: 1000, scanCostScans: 1000, startRuns: 5, unlockSamples: 100,
        hashSamples: 20,
        cycles: 100_000)
    static let quick = Sizes(
        idleSeconds: 10, presses: 200, scanCostScans: 200, startRuns: 3, unlockSamples: 20, hashSamples: 5,
        cycles: 10_000)

    var dictionary: [String: Int] {
        [
            "idleSeconds": idleSeconds, "presses": presses, "scanCostScans": scanCostScans,
            "startRuns": startRuns,
            "unlockSamples": unlockSamples, "hashSamples": hashSamples, "cycles": cycles,
        ]
    }

    /// The VM part's arguments (at most 3 starts: each takes about a second under TCG).
    var guestArguments: [String] {
        [
            "--idle-seconds", "\(idleSeconds)", "--presses", "\(presses)", "--scan-cost-scans",
            "\(scanCostScans)",
            "--start-runs", "\(min(startRuns, 3))",
        ]
    }
}

/// The directory this executable is in (boltd is built next to it).
func executableDirectory() -> String {
    let path =
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: path).deletingLastPathComponent().path
}

/// The path of this executable.
func executablePath() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}

/// The libgpiod version this build links.
func libgpiodVersion() -> String {
    let clock = SystemClock()
    let gpio = LinuxGPIO(clock: clock)
    defer {
        gpio.shutdown()
        clock.shutdown()
    }
    return "\(gpio.libgpiodVersion) (API v\(gpio.libgpiodAPIMajor))"
}

extension Bench {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run every measurement and print the table (the default).")

        @Flag(help: "Print JSON instead of the table.")
        var json = false

        @Flag(help: "A short run for development: 10 s idle, 200 presses, 10,000 cycles.")
        var quick = false

        @Flag(help: "Skip the real-kernel VM part.")
        var skipVM = false

        @Option(help: "Override the idle window, seconds.")
        var idleSeconds: Int?

        @Option(help: "Override the number of key presses per latency figure.")
        var presses: Int?

        @Option(help: "Override the number of lock/unlock cycles of the endurance run.")
        var cycles: Int?

        @Option(help: "The boltd executable (default: next to this one).")
        var boltd: String?

        @Option(help: "The simulated board file.")
        var board = "Boards/simulator.yaml"

        @Option(help: "The real-kernel tier's runner.")
        var kernelTier = "scripts/kernel-tier/run"

        @Option(help: "qemu acceleration for the VM part: auto, kvm or tcg.")
        var accel = "auto"

        mutating func validate() throws {
            guard ["auto", "kvm", "tcg"].contains(accel) else {
                throw ValidationError("--accel must be auto, kvm or tcg, not '\(accel)'")
            }
            for (name, value) in [
                ("--idle-seconds", idleSeconds), ("--presses", presses), ("--cycles", cycles),
            ] {
                if let value, value < 1 { throw ValidationError("\(name) must be at least 1") }
            }
        }

        func run() throws {
            var sizes = quick ? Sizes.quick : Sizes.full
            if let idleSeconds { sizes.idleSeconds = idleSeconds }
            if let presses { sizes.presses = presses }
            if let cycles { sizes.cycles = cycles }
            let boltdPath = boltd ?? executableDirectory() + "/boltd"
            guard FileManager.default.isExecutableFile(atPath: boltdPath) else {
                throw ValidationError(
                    "no boltd at \(boltdPath): build it (`swift build -c release --product boltd`) or give --boltd"
                )
            }
            let boardFile: BoardFile
            do {
                boardFile = try BoardFile.load(path: board)
            } catch {
                throw ValidationError(
                    "cannot read the board file \(board): \(error) (run from the repository root)")
            }
            if buildConfiguration != "release" {
                progress(
                    "WARNING: this is a \(buildConfiguration) build; run scripts/bench for release figures")
            }
            let scratch = try makeScratchDirectory("boltwork-bench")
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime]
            let date = formatter.string(from: Date())

            let host = runHost(
                sizes: sizes, boltd: boltdPath, boardPath: board, boardFile: boardFile, scratch: scratch)
            var vm: Section?
            var skipped: String?
            if skipVM {
                skipped = "--skip-vm was given"
            } else {
                switch runVM(sizes: sizes, boltd: boltdPath, scratch: scratch) {
                case .success(let section): vm = section
                case .failure(let error): skipped = error.description
                }
            }
            if let skipped { progress("VM part not run: \(skipped)") }
            let report = Report(
                date: date, build: buildConfiguration, parameters: sizes.dictionary, host: host, vm: vm,
                vmSkipped: skipped, goals: evaluateGoals(host: host, vm: vm))
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print(render(report))
            }
        }

        private func runHost(
            sizes: Sizes, boltd: String, boardPath: String, boardFile: BoardFile, scratch: String
        )
            -> Section
        {
            var section = Section(
                place: "host", backend: "the simulated backend (SimulatedGPIO on SystemClock, real time)",
                machine: .current(), libgpiod: libgpiodVersion())
            func attempt(_ what: String, _ body: () throws(BenchError) -> Void) {
                do {
                    try body()
                } catch {
                    section.notes.append("\(what) not measured: \(error)")
                    progress("\(what) not measured: \(error)")
                }
            }
            attempt("boltd idle, memory and start-up") { () throws(BenchError) in
                let daemonScratch = scratch + "/daemon"
                try? FileManager.default.createDirectory(
                    atPath: daemonScratch, withIntermediateDirectories: true)
                let bench = DaemonBench(
                    boltd: boltd, runArguments: ["--simulated", "--board", boardPath],
                    bench: executablePath(),
                    pollerBackend: "simulated", scratch: daemonScratch, startRuns: sizes.startRuns,
                    idleSeconds: sizes.idleSeconds, readyLimit: .seconds(30),
                    subject: "boltd run --simulated",
                    prepare: { socket, code throws(BenchError) in
                        let client: ControlClient
                        do {
                            client = try ControlClient(path: socket)
                        } catch {
                            throw BenchError("cannot connect to boltd: \(error)")
                        }
                        _ = try control(client, "unlock", ["code": .string(code)])
                        _ = try control(client, "lock")
                        return
                            "start, an unlock with a code and a lock over the control socket, the idle window"
                    })
                let (daemon, idle, notes) = try bench.run()
                section.daemon = daemon
                section.idle = idle
                section.notes += notes
            }
            attempt("key latency and scan cost") { () throws(BenchError) in
                let keypad = try SimulatedKeypadBench()
                defer { keypad.shutdown() }
                let (latency, cost) = try keypadFigures(
                    rig: keypad.rig, stimulus: keypad, presses: sizes.presses,
                    scanCostScans: sizes.scanCostScans)
                section.latency = latency
                section.scanCost = cost
            }
            attempt("unlock path") { () throws(BenchError) in
                progress("unlock path: \(sizes.unlockSamples) codes typed on the simulated keypad")
                let unlockScratch = scratch + "/unlock-path"
                try? FileManager.default.createDirectory(
                    atPath: unlockScratch, withIntermediateDirectories: true)
                section.unlock = try measureUnlockPath(
                    board: boardFile, samples: sizes.unlockSamples, hashSamples: sizes.hashSamples,
                    scratch: unlockScratch)
            }
            attempt("endurance") { () throws(BenchError) in
                progress(
                    "endurance: \(grouped(sizes.cycles)) lock/unlock cycles on virtual time (a child process)"
                )
                section.endurance = try runEnduranceChild(
                    cycles: sizes.cycles, board: boardPath, scratch: scratch)
            }
            return section
        }

        private func runEnduranceChild(cycles: Int, board: String, scratch: String) throws(BenchError)
            -> EnduranceFigure
        {
            let child = try ChildProcess.spawn(
                executablePath(), ["endurance-child", "--cycles", "\(cycles)", "--board", board],
                environment: ProcessInfo.processInfo.environment, stdout: scratch + "/endurance.out",
                stderr: scratch + "/endurance.err")
            guard child.wait(limit: .seconds(3600)) == 0 else {
                throw BenchError("the endurance run failed: \(tail(scratch + "/endurance.err"))")
            }
            guard let text = readText(scratch + "/endurance.out"),
                let figure = try? JSONDecoder().decode(EnduranceFigure.self, from: Data(text.utf8))
            else {
                throw BenchError("the endurance run printed no result: \(tail(scratch + "/endurance.err"))")
            }
            return figure
        }

        private func runVM(sizes: Sizes, boltd: String, scratch: String) -> Result<Section, BenchError> {
            guard FileManager.default.isExecutableFile(atPath: kernelTier) else {
                return .failure(
                    BenchError("no kernel-tier runner at \(kernelTier) (run from the repository root)"))
            }
            let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
            let hasQemu = path.split(separator: ":").contains {
                FileManager.default.isExecutableFile(atPath: "\($0)/qemu-system-x86_64")
            }
            guard hasQemu else {
                return .failure(
                    BenchError(
                        "qemu-system-x86_64 is not installed: run `scripts/kernel-tier/run --install-deps` once"
                    ))
            }
            // TCG runs the guest several times slower than the host: allow for it.
            let limit = 300 + sizes.idleSeconds + sizes.presses * 3 / 10 + sizes.startRuns * 20
            progress(
                "VM part: booting the real-kernel guest (the first run builds its kernel, about 5 min); "
                    + "nothing is shown until it ends")
            let arguments =
                [
                    "--quiet", "--timeout", "\(limit)", "--accel", accel, "--tool", boltd, "--",
                    executablePath(),
                    "guest", "--boltd", boltd,
                ] + sizes.guestArguments
            let child: ChildProcess
            do {
                child = try ChildProcess.spawn(
                    kernelTier, arguments, environment: ProcessInfo.processInfo.environment,
                    stdout: scratch + "/vm.out", stderr: scratch + "/vm.err")
            } catch {
                return .failure(error)
            }
            let status = child.wait(limit: .seconds(Int64(limit + 900)))
            let output = (readText(scratch + "/vm.out") ?? "").replacingOccurrences(of: "\r", with: "")
            let errors = readText(scratch + "/vm.err") ?? ""
            for line in output.split(separator: "\n") where line.hasPrefix("bench: ") {
                progress("vm: " + line.dropFirst("bench: ".count))
            }
            guard status == 0, var section = decodeGuestSection(output) else {
                return .failure(
                    BenchError(
                        "the VM run failed (exit \(status.map(String.init) ?? "killed")): "
                            + (output + "\n" + errors).split(separator: "\n").suffix(8).joined(
                                separator: " | ")))
            }
            if let accel = errors.range(of: "(accel ").map({ errors[$0.upperBound...].prefix { $0 != ")" } })
            {
                section.backend += "; qemu accel \(accel)"
                if accel == "tcg" {
                    section.notes.append(
                        "the VM runs under TCG emulation: its absolute times are several times slower than "
                            + "hardware; idle CPU, wake-ups and scans are unaffected")
                }
            }
            return .success(section)
        }
    }
}

let guestBegin = "BOLTWORK-BENCH-RESULT-BEGIN"
let guestEnd = "BOLTWORK-BENCH-RESULT-END"

/// The guest's section from the VM's console output.
func decodeGuestSection(_ output: String) -> Section? {
    guard let begin = output.range(of: guestBegin + "\n"),
        let end = output.range(of: "\n" + guestEnd, range: begin.upperBound..<output.endIndex)
    else { return nil }
    let text = output[begin.upperBound..<end.lowerBound].filter { $0 != "\n" }
    return try? JSONDecoder().decode(Section.self, from: Data(text.utf8))
}

extension Bench {
    struct Guest: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The VM part; runs inside the kernel-tier guest (scripts/kernel-tier).",
            shouldDisplay: false)

        @Option var boltd: String
        @Option var idleSeconds = 60
        @Option var presses = 1000
        @Option var scanCostScans = 1000
        @Option var startRuns = 3

        func run() throws {
            let environment = ProcessInfo.processInfo.environment
            guard environment["BOLTWORK_KERNEL_TIER"] == "1",
                let sysfs = environment["BOLTWORK_GPIOSIM_MAIN_SYSFS"],
                let label = environment["BOLTWORK_GPIOSIM_MAIN_LABEL"]
            else {
                throw ValidationError(
                    "the guest part runs inside the kernel-tier VM: use `boltwork-bench` (or scripts/bench)")
            }
            let version = libgpiodVersion()
            var section = Section(
                place: "vm", backend: "gpio-sim through libgpiod \(version) (LinuxGPIO)", machine: .current(),
                libgpiod: version)
            let scratch = try makeScratchDirectory("boltwork-bench")
            func attempt(_ what: String, _ body: () throws(BenchError) -> Void) {
                do {
                    try body()
                } catch {
                    section.notes.append("\(what) not measured: \(error)")
                }
            }
            attempt("boltd idle, memory and start-up") { () throws(BenchError) in
                let lines = try GuestLines.load(environment["BOLTWORK_GPIOSIM_LINES_FILE"])
                let board = scratch + "/board.yaml"
                let text = guestBoard(label: label, bus: environment["BOLTWORK_I2C_BUS_NUM"] ?? "0")
                guard FileManager.default.createFile(atPath: board, contents: Data(text.utf8)) else {
                    throw BenchError("cannot write \(board)")
                }
                let bench = DaemonBench(
                    boltd: boltd, runArguments: ["--board", board], bench: executablePath(),
                    pollerBackend: "gpio-sim", scratch: scratch, startRuns: startRuns,
                    idleSeconds: idleSeconds,
                    readyLimit: .seconds(120), subject: "boltd run (gpio-sim)",
                    prepare: { socket, _ throws(BenchError) in
                        // No mechanism moves the bolt here: close the door and the extended-end
                        // switch by hand (the daemon's requests set the pulls up at start).
                        try lines.pull("DOOR", "pull-down")
                        try lines.pull("BOLT_RETRACTED", "pull-up")
                        try lines.pull("BOLT_EXTENDED", "pull-down")
                        let client: ControlClient
                        do {
                            client = try ControlClient(path: socket)
                        } catch {
                            throw BenchError("cannot connect to boltd: \(error)")
                        }
                        var bolt = ""
                        var door = ""
                        let settled = waitUntil(limit: .seconds(20), every: 50_000) {
                            guard case .object(let status)? = try? control(client, "status") else {
                                return false
                            }
                            bolt = status["bolt"]?.string ?? "?"
                            door = status["door"]?.string ?? "?"
                            return bolt == "locked" && door == "closed"
                        }
                        guard settled else {
                            throw BenchError(
                                "boltd did not see the bolt locked and the door closed (bolt \(bolt), door \(door))"
                            )
                        }
                        return "start and the idle window (no move: the VM has no bolt mechanism)"
                    })
                let (daemon, idle, notes) = try bench.run()
                section.daemon = daemon
                section.idle = idle
                section.notes += notes
            }
            attempt("key latency and scan cost") { () throws(BenchError) in
                let keypad = try GPIOSimKeypadBench(label: label, sysfs: sysfs)
                defer { keypad.shutdown() }
                let (latency, cost) = try keypadFigures(
                    rig: keypad.rig, stimulus: keypad, presses: presses, scanCostScans: scanCostScans)
                section.latency = latency
                section.scanCost = cost
            }
            section.notes.append(
                "in gpio-sim a pressed row reads active in every column (there is no matrix), so each press "
                    + "is four keys of one row going down together")
            let encoder = JSONEncoder()
            print(guestBegin)
            print(String(decoding: try encoder.encode(section), as: UTF8.self))
            print(guestEnd)
        }
    }
}

/// The kernel tier's table of simulated lines (`KEY LABEL CHIP_DEV OFFSET NAME SYSFS_DIR`).
struct GuestLines {
    var directories: [String: String]

    static func load(_ path: String?) throws(BenchError) -> GuestLines {
        guard let path, let text = readText(path) else {
            throw BenchError("the kernel tier's line table (BOLTWORK_GPIOSIM_LINES_FILE) is missing")
        }
        var directories: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count >= 6 { directories[String(fields[4])] = String(fields[5]) }
        }
        return GuestLines(directories: directories)
    }

    /// Sets what an input reads through gpio-sim's `pull` attribute.
    func pull(_ name: String, _ value: String) throws(BenchError) {
        guard let directory = directories[name] else { throw BenchError("gpio-sim has no line \(name)") }
        try writeAttribute(directory + "/pull", value)
    }
}

/// The simulator's board on the kernel tier's gpio-sim chip, with the keypad on the SPARE lines
/// so the polling baseline can hold ROW0-3 / COL0-3 at the same time.
func guestBoard(label: String, bus: String) -> String {
    """
    board: Kernel-tier VM (gpio-sim)
    chip: \(label)
    keypad:
      rows: [SPARE0, SPARE1, SPARE2, SPARE3]
      columns: [SPARE4, SPARE5, SPARE6]
      keys: ["123", "456", "789", "*0#"]
      active: low
      diodes: false
      columns-mode: open-drain
      debounce-ms: 5
    motor:
      driver: drv8833
      in1: MOTOR_IN1
      in2: MOTOR_IN2
      sleep: MOTOR_SLEEP
      extend: forward
      max-run-ms: 8000
    bolt:
      sensor: switches
      retracted: BOLT_RETRACTED
      extended: BOLT_EXTENDED
      active: low
      debounce-ms: 10
    door:
      contact: DOOR
      closed: low
    gauge:
      type: max17048
      bus: \(bus)
      address: 0x36
      alert: GAUGE_ALERT
    buzzer: BUZZER
    led: LED

    """
}

extension Bench {
    struct IdleChild: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "idle-child",
            abstract: "The polling baseline as its own process, for the idle window.", shouldDisplay: false)

        @Option var backend = "simulated"

        func run() throws {
            signal(SIGUSR1, SIG_IGN)
            signal(SIGTERM, SIG_IGN)
            let mark = Protected(0)
            let stop = DispatchSemaphore(value: 0)
            let poller: PollingScanner
            let shutdown: () -> Void
            switch backend {
            case "simulated":
                let keypad = try SimulatedKeypadBench()
                poller = PollingScanner(backend: keypad.rig.matrix, clock: keypad.clock)
                shutdown = keypad.shutdown
            case "gpio-sim":
                let environment = ProcessInfo.processInfo.environment
                let keypad = try GPIOSimKeypadBench(
                    label: environment["BOLTWORK_GPIOSIM_MAIN_LABEL"] ?? "boltwork-sim",
                    sysfs: environment["BOLTWORK_GPIOSIM_MAIN_SYSFS"] ?? "")
                poller = PollingScanner(backend: keypad.rig.matrix, clock: keypad.clock)
                shutdown = keypad.shutdown
            default:
                throw ValidationError("--backend must be simulated or gpio-sim")
            }
            let marker = DispatchSource.makeSignalSource(signal: SIGUSR1, queue: .global())
            marker.setEventHandler { [poller] in
                let scans = poller.scans
                mark.withLock { $0 = scans }
            }
            marker.resume()
            let stopper = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .global())
            stopper.setEventHandler { stop.signal() }
            stopper.resume()
            try poller.start(onPress: {}, onAllUp: {})
            SystemdNotifier().ready()
            stop.wait()
            poller.stop()
            let counts = PollerCounts(
                scansAtMark: mark.withLock { $0 }, scansAtEnd: poller.scans, errors: poller.errors)
            shutdown()
            print(String(decoding: try JSONEncoder().encode(counts), as: UTF8.self))
        }
    }

    struct EnduranceChild: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "endurance-child",
            abstract: "The endurance run as its own process, so its memory is its own.", shouldDisplay: false)

        @Option var cycles = 100_000
        @Option var board = "Boards/simulator.yaml"

        func run() throws {
            let boardFile = try BoardFile.load(path: board)
            let scratch = try makeScratchDirectory("boltwork-endurance")
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            let checkpoints = Array(Set([1000, cycles / 10, cycles / 2].filter { $0 > 0 && $0 < cycles }))
                .sorted()
            let figure = try runEndurance(
                board: boardFile, cycles: cycles, checkpoints: checkpoints, scratch: scratch)
            print(String(decoding: try JSONEncoder().encode(figure), as: UTF8.self))
        }
    }
}
