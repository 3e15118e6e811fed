import ArgumentParser
import BoltworkBoard
import BoltworkControl
import BoltworkDaemon
import BoltworkDoctor
import BoltworkHAL
import BoltworkLinux
import BoltworkLock
import BoltworkStore
import Dispatch
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// `boltd`: the lock controller daemon.
@main
struct Boltd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "boltd",
        abstract: "The Boltwork lock controller daemon.",
        subcommands: [Run.self, Init.self, Simulate.self, SelfTest.self],
        defaultSubcommand: Run.self)
}

/// Reads a code without echo from the terminal, or a line from standard input.
func readCode(prompt: String, fromStandardInput: Bool) -> String? {
    if fromStandardInput || isatty(STDIN_FILENO) == 0 {
        return readLine(strippingNewline: true)
    }
    FileHandle.standardError.write(Data(prompt.utf8))
    var original = termios()
    tcgetattr(STDIN_FILENO, &original)
    var silent = original
    silent.c_lflag &= ~tcflag_t(ECHO)
    tcsetattr(STDIN_FILENO, TCSANOW, &silent)
    defer {
        tcsetattr(STDIN_FILENO, TCSANOW, &original)
        FileHandle.standardError.write(Data("\n".utf8))
    }
    return readLine(strippingNewline: true)
}

extension Boltd {
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set the first admin code (there is no default code).")

        @Option(help: "The state directory holding boltwork.db.")
        var state = "/var/lib/boltwork"

        @Option(help: "The admin's name.")
        var name = "admin"

        @Flag(help: "Read the code from standard input instead of the terminal.")
        var codeStdin = false

        func run() throws {
            let store = try SQLiteLockStore(path: state + "/boltwork.db")
            let access = try AccessController(store: store, wallClock: SystemWallClock())
            guard let code = readCode(prompt: "New admin code (6-10 digits): ", fromStandardInput: codeStdin),
                !code.isEmpty
            else {
                throw ValidationError("no code given")
            }
            if !codeStdin, isatty(STDIN_FILENO) != 0 {
                guard readCode(prompt: "Again: ", fromStandardInput: false) == code else {
                    throw ValidationError("the two codes differ; nothing was stored")
                }
            }
            let user = try access.initializeAdmin(name: name, pin: code)
            print("admin code set for \(user.name) (\(user.id)); keypad entry is enabled")
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Run the lock: on a board file with the Linux backends, or on the simulated board in real time."
        )

        @Option(help: "The board file (YAML).")
        var board = "Boards/simulator.yaml"

        @Option(
            help: "The lock config file (YAML; see Examples/lock.yaml). Without it, the documented defaults.")
        var config: String?

        @Flag(help: "Run on the simulated board instead of the Linux GPIO and I2C backends.")
        var simulated = false

        @Option(help: "The state directory holding boltwork.db.")
        var state = "/var/lib/boltwork"

        @Option(help: "The control socket.")
        var socket = ControlProtocol.defaultSocketPath

        @Option(help: "The group allowed to use the control socket (none: the daemon's own group).")
        var group: String?

        @Option(help: "The lowest level logged.")
        var logLevel: LogLevelArgument = .info

        func run() throws {
            // SIGTERM and SIGINT are blocked before any thread starts, so every thread inherits the
            // block and the signal waits for `sigwait` below. (A Dispatch signal source does not
            // see them reliably once other threads run: the signal can end up pending on a
            // Dispatch worker thread that blocks it.)
            var stopSignals = sigset_t()
            sigemptyset(&stopSignals)
            sigaddset(&stopSignals, SIGTERM)
            sigaddset(&stopSignals, SIGINT)
            pthread_sigmask(SIG_BLOCK, &stopSignals, nil)

            let level = logLevel.level
            LoggingSystem.bootstrap { _ in JournalLogHandler(level: level) }
            let logger = Logger(label: "boltd")
            let boardFile = try BoardFile.load(path: board)
            let lockConfig =
                try config.map { path throws(BoardFileError) in try LockConfigFile.load(path: path) }
                ?? LockConfigFile()
            let clock = SystemClock()
            let notifier = SystemdNotifier()
            let store = try SQLiteLockStore(path: state + "/boltwork.db")
            let calibration = try BoltCalibration.load(from: store)
            for problem in calibration.ignored { logger.warning("calibration: \(problem)") }
            var linux: LinuxGPIO?
            let hardware: LockHardware
            var simulation: SimulatedBoard?
            if simulated {
                let sim = try SimulatedBoard(board: boardFile.applying(calibration), clock: clock)
                simulation = sim
                hardware = try sim.hardware()
            } else {
                let gpio = LinuxGPIO(clock: clock)
                linux = gpio
                hardware = try BoardAssembly.assemble(
                    boardFile.applying(calibration), gpio: gpio,
                    i2c: { number throws(I2CError) in
                        try LinuxI2CBus(bus: number, retry: I2CRetryPolicy(attempts: 3))
                    },
                    clock: clock)
            }
            // On a board, codes limited in time are refused while the clock is known to be wrong.
            let clockWatch =
                simulated
                ? nil
                : ClockSyncWatch { answer in
                    switch answer {
                    case .synchronized(let source): logger.info("the wall clock is synchronised (\(source))")
                    case .unsynchronized(let source):
                        logger.warning(
                            "the wall clock is not synchronised (\(source)): codes limited in time are refused until it is; turn on time synchronisation (sudo timedatectl set-ntp true)"
                        )
                    case .unknown(let reason):
                        logger.notice("cannot tell whether the wall clock is synchronised (\(reason))")
                    }
                }
            let lock = try RunningLock(
                hardware: hardware, store: store, wallClock: SystemWallClock(), clock: clock,
                config: lockConfig,
                simulation: simulation, clockIsSynchronized: { clockWatch?.isSynchronized ?? true })
            lock.controller.setNoticeHandler { notice in
                switch notice {
                case .recorded(let event): logger.info("event: \(describe(event))")
                case .storeFailed(let detail): logger.critical("not recorded: \(detail)")
                case .fault(let detail): logger.error("fault: \(detail)")
                }
            }
            let found = try lock.start()
            lock.startRetention()
            if !lock.controller.status().hasAdminCode {
                logger.warning(
                    "no admin code is set: keypad entry is disabled until you run `boltd init --state \(state)`"
                )
            }
            let server = try ControlHandler.server(path: socket, group: group, lock: lock)
            notifier.ready(status: "bolt \(found)")
            logger.notice(
                "boltd ready on \(boardFile.name)\(simulated ? " (simulated)" : ""): bolt \(found); control socket \(socket)"
            )
            if let interval = notifier.watchdogPingInterval {
                @Sendable func ping() {
                    notifier.watchdog()
                    clock.schedule(after: interval) { ping() }
                }
                clock.execute { ping() }
            }

            // Wait for SIGTERM or SIGINT, then stop cleanly.
            var received: Int32 = 0
            sigwait(&stopSignals, &received)
            notifier.stopping()
            logger.notice("stopping: finishing or safely stopping any move, releasing lines")
            server.close()
            lock.shutdown()
            clockWatch?.stop()
            linux?.shutdown()
            clock.shutdown()
            // The idle-cost figures `boltwork-bench` reads: an idle keypad scans nothing.
            logger.notice(
                "stopped: \(lock.hardware.keypad.scanCount) keypad scans, \(clock.wakeupCount) clock wake-ups since start"
            )
        }
    }
}
