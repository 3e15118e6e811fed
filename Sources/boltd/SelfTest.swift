import ArgumentParser
import BoltworkBoard
import BoltworkDaemon
import BoltworkHAL
import BoltworkLinux
import BoltworkLock
import BoltworkStore
import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

extension Boltd {
    struct SelfTest: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "selftest",
            abstract: "Check a new build's wiring and calibrate the bolt's throw (stop boltd first).",
            discussion: """
                Checks that every line in the board file exists and is free, that the fuel gauge and \
                the AS5600 answer with their identity, that each key is the key the map says (press \
                each key when asked), and that the motor moves the bolt the right way; measures the \
                throw time in each direction (and the AS5600's end angles) and stores them for boltd. \
                The motor is stopped on every path, Ctrl-C included. With --simulated, the simulated \
                board presses the keys itself; --simulate-fault seeds a wiring fault.
                """)

        @Option(help: "The board file (YAML).")
        var board = "Boards/simulator.yaml"

        @Option(help: "The lock config file (YAML), for the move timeout the calibration gives.")
        var config: String?

        @Option(
            help:
                "The state directory holding boltwork.db (default /var/lib/boltwork; with --simulated, nothing is stored unless given)."
        )
        var state: String?

        @Flag(help: "Test the simulated board, on virtual time; its keypad presses the prompted keys itself.")
        var simulated = false

        @Flag(help: "Leave out the keypad check.")
        var skipKeypad = false

        @Flag(help: "Answer yes to every question (the motor moves without asking).")
        var yes = false

        @Option(
            name: .customLong("simulate-fault"),
            help:
                "With --simulated, seed a fault: swapped-motor, dead-key:KEY, dead-line:LINE, missing-gauge.")
        var simulateFaults: [String] = []

        func validate() throws {
            if !simulateFaults.isEmpty && !simulated {
                throw ValidationError("--simulate-fault needs --simulated")
            }
        }

        func run() throws {
            let boardFile = try BoardFile.load(path: board)
            let lockConfig =
                try config.map { path throws(BoardFileError) in try LockConfigFile.load(path: path) }
                ?? LockConfigFile()
            let store: any LockStore
            if let state {
                store = try SQLiteLockStore(path: state + "/boltwork.db")
            } else if simulated {
                store = MemoryLockStore()
                print("(--simulated without --state: the calibration is kept in memory only)")
            } else {
                store = try SQLiteLockStore(path: "/var/lib/boltwork/boltwork.db")
            }
            let options = WiringSelfTest.Options(skipKeypad: skipKeypad)
            let test: WiringSelfTest
            var shutdown: () -> Void = {}
            if simulated {
                let faults: SimulatedBoard.Faults
                faults = try SimulatedBoard.Faults(specifications: simulateFaults, board: boardFile)
                let yes = self.yes
                test = try WiringSelfTest.simulated(
                    board: boardFile, config: lockConfig, faults: faults, store: store,
                    wallClock: SystemWallClock(), options: options,
                    confirm: { question in yes || Self.ask(question) }, output: { print($0) })
            } else {
                let clock = SystemClock()
                let gpio = LinuxGPIO(clock: clock)
                test = WiringSelfTest(
                    board: boardFile, config: lockConfig, gpio: gpio,
                    i2c: { number throws(I2CError) in
                        try LinuxI2CBus(bus: number, retry: I2CRetryPolicy(attempts: 3))
                    },
                    timeline: RealTimeline(clock: clock), store: store, wallClock: SystemWallClock(),
                    operator: TerminalOperator(yes: yes), options: options)
                shutdown = {
                    gpio.shutdown()
                    clock.shutdown()
                }
            }

            // Ctrl-C or SIGTERM: stop the motor at once; give the run a moment to release the
            // lines and print its summary, then leave even if it waits for an answer.
            let finished = DispatchSemaphore(value: 0)
            signal(SIGINT, SIG_IGN)
            signal(SIGTERM, SIG_IGN)
            let sources = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler {
                    test.abort()
                    FileHandle.standardError.write(Data("interrupted: the motor is stopped\n".utf8))
                    if finished.wait(timeout: .now() + .seconds(2)) == .timedOut { Glibc.exit(130) }
                }
                source.resume()
                return source
            }
            let report = test.run()
            finished.signal()
            shutdown()
            _ = sources
            if report.interrupted { throw ExitCode(130) }
            if !report.passed {
                let count = report.failures.count
                print(
                    "\(count) problem\(count == 1 ? "" : "s") found; fix \(count == 1 ? "it" : "them") and run the self-test again"
                )
                throw ExitCode.failure
            }
        }

        /// Asks a yes/no question on the terminal; no answer (end of input) is no.
        static func ask(_ question: String) -> Bool {
            print("\(question) [y/N] ", terminator: "")
            fflush(nil)
            guard let answer = readLine(strippingNewline: true) else { return false }
            return ["y", "yes"].contains(answer.trimmingCharacters(in: .whitespaces).lowercased())
        }
    }
}

/// The person at the terminal: prompts and findings on standard output, answers from standard
/// input.
final class TerminalOperator: SelfTestOperator {
    let yes: Bool

    init(yes: Bool) {
        self.yes = yes
    }

    func show(_ text: String) {
        print(text)
        fflush(nil)
    }

    func report(_ finding: SelfTestFinding) {
        print(finding.description)
        fflush(nil)
    }

    func confirm(_ question: String) -> Bool {
        if yes {
            print("\(question) yes (--yes)")
            return true
        }
        return Boltd.SelfTest.ask(question)
    }

    func askToPress(_ key: Character) {
        print("press \(key)")
        fflush(nil)
    }
}
