import Dispatch
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the built example programs as a maker would, against Boards/simulator.yaml, and checks
/// what they print. A simulated run ends by itself (virtual time); a deadline kills a run that
/// does not, and fails the test.
@Suite("Examples", .serialized)
struct ExamplesTests {
    // MARK: keypad-echo

    @Test("keypad-echo prints each key of its demo, pressed then released")
    func keypadEchoDemo() throws {
        let run = try Example.run("keypad-echo", ["--board", Example.simulator])
        try run.expectSuccess()
        #expect(run.lines.first?.hasSuffix("keypad ready (4x3); press some keys") == true)
        #expect(run.keys(.pressed) == ["1", "5", "9", "*", "0", "#"])
        #expect(run.keys(.released) == ["1", "5", "9", "*", "0", "#"])
        for key in ["1", "5", "9", "*", "0", "#"] {
            #expect(run.isInOrder(["key \(key) pressed", "key \(key) released"]))
        }
    }

    @Test("keypad-echo echoes exactly the keys the simulation types")
    func keypadEchoScript() throws {
        let run = try Example.run("keypad-echo", ["--board", Example.simulator, "--simulate", "keys 42#"])
        try run.expectSuccess()
        #expect(run.keys(.pressed) == ["4", "2", "#"])
        #expect(run.output.contains("(simulated) 3 keys typed"))
    }

    @Test("any board file with named lines can be simulated: the Pi 4 wiring")
    func keypadEchoOtherBoard() throws {
        let run = try Example.run(
            "keypad-echo",
            ["--board", Example.boards + "/raspberry-pi-4b.yaml", "--simulated", "--simulate", "keys 7"])
        try run.expectSuccess()
        #expect(run.keys(.pressed) == ["7"])
    }

    // MARK: motor-jog

    @Test("motor-jog runs the motor for its time and stops between the ends")
    func motorJogTimed() throws {
        let run = try Example.run("motor-jog", ["--board", Example.simulator, "extend"])
        try run.expectSuccess()
        #expect(
            run.isInOrder([
                "bolt retracted", "running the motor to extend the bolt", "bolt between ends",
                "[  0.300s] motor stopped: 300 ms are up", "bolt between ends",
            ]))
        #expect(!run.output.contains("bolt extended"))
    }

    @Test("motor-jog stops at the end of travel when the sensor sees it, before its time is up")
    func motorJogToTheEnd() throws {
        let run = try Example.run(
            "motor-jog", ["--board", Example.simulator, "extend", "--milliseconds", "5000"])
        try run.expectSuccess()
        #expect(run.isInOrder(["bolt extended", "motor stopped: the bolt reached the end", "bolt extended"]))
        #expect(!run.output.contains("ms are up"))
    }

    @Test("motor-jog does nothing when the bolt is already at that end")
    func motorJogAlreadyThere() throws {
        let run = try Example.run("motor-jog", ["--board", Example.simulator, "retract"])
        try run.expectSuccess()
        #expect(run.output.contains("the bolt is already retracted: nothing to do"))
        #expect(!run.output.contains("running the motor"))
    }

    // MARK: bolt-watch

    @Test("bolt-watch reports the hand turns and the door as the switches see them")
    func boltWatchDemo() throws {
        let run = try Example.run("bolt-watch", ["--board", Example.simulator])
        try run.expectSuccess()
        #expect(run.lines.prefix(2).map { $0.dropFirst(11) } == ["bolt retracted", "door closed"])
        #expect(
            run.isInOrder([
                "turned by hand to 50 %", "bolt between ends", "turned by hand to 100 %", "bolt extended",
                "the door opens", "door open", "the door closes", "door closed", "turned by hand to 0 %",
                "bolt between ends", "bolt retracted",
            ]))
    }

    // MARK: battery-read

    @Test("battery-read reads the simulated MAX17048 once")
    func batteryReadOnce() throws {
        let run = try Example.run("battery-read", ["--board", Example.simulator])
        try run.expectSuccess()
        #expect(run.output.contains("MAX17048 at 0x36 on /dev/i2c-1: version 0x"))
        let readings = run.lines.filter { $0.contains(" V, ") }
        #expect(readings.count == 1)
        #expect(readings.first?.contains("80.0 %") == true)
    }

    @Test("battery-read follows the battery over several readings")
    func batteryReadSeveral() throws {
        let run = try Example.run(
            "battery-read",
            [
                "--board", Example.simulator, "--count", "2", "--every", "5", "--simulate",
                "wait 1s; battery 15",
            ])
        try run.expectSuccess()
        let readings = run.lines.filter { $0.contains(" V, ") }
        #expect(readings.count == 2)
        #expect(readings.first?.hasPrefix("[  0.000s]") == true)
        #expect(readings.first?.contains("80.0 %") == true)
        #expect(readings.last?.hasPrefix("[  5.000s]") == true)
        #expect(readings.last?.contains("15.0 %") == true)
    }

    // MARK: minimal-lock

    @Test("minimal-lock locks, refuses a wrong code, opens for the owner's and relocks")
    func minimalLock() throws {
        let run = try Example.run("minimal-lock", ["--board", Example.simulator], input: "246810\n")
        try run.expectSuccess()
        #expect(
            run.isInOrder([
                "lock ready, bolt unlocked", "bolt locking", "bolt locked", "code refused", "code accepted",
                "bolt unlocking", "bolt unlocked", "bolt locking", "bolt locked",
            ]))
        #expect(run.lines.filter { $0.contains("code accepted") }.count == 1)
        // The code, and the wrong one the demo types, never appear anywhere.
        for secret in ["246810", "246811"] {
            #expect(!run.output.contains(secret))
            #expect(!run.errors.contains(secret))
        }
    }

    @Test("minimal-lock has no default code: without one it refuses to start")
    func minimalLockNeedsACode() throws {
        let run = try Example.run("minimal-lock", ["--board", Example.simulator], input: "")
        #expect(run.status != 0)
        #expect(run.errors.contains("no code given"))
        #expect(!run.output.contains("lock ready"))
    }

    // MARK: Mistakes

    @Test("a missing board file is named, with the fix")
    func missingBoard() throws {
        let run = try Example.run("bolt-watch", ["--board", "/nonexistent/board.yaml"])
        #expect(run.status != 0)
        #expect(run.errors.contains("/nonexistent/board.yaml"))
        #expect(run.errors.contains("Fix:"))
    }

    @Test("a simulation command the examples do not know is named, with the fix")
    func unknownSimulationCommand() throws {
        let run = try Example.run("keypad-echo", ["--board", Example.simulator, "--simulate", "dance 3"])
        #expect(run.status != 0)
        #expect(run.errors.contains("cannot do 'dance 3'"))
        #expect(run.errors.contains("Fix:"))
        #expect(run.output.isEmpty, "the script is checked before the example starts")
    }

    @Test("--simulate on real hardware is refused before any line is touched")
    func simulateNeedsTheSimulator() throws {
        let run = try Example.run(
            "keypad-echo", ["--board", Example.boards + "/raspberry-pi-4b.yaml", "--simulate", "keys 1"])
        #expect(run.status != 0)
        #expect(run.errors.contains("--simulate drives simulated hardware"))
    }

    @Test(
        "on a machine without the board's GPIO chip, the example says which chip and exits",
        .enabled(if: !FileManager.default.fileExists(atPath: "/dev/gpiochip0")))
    func noSuchChip() throws {
        let run = try Example.run("bolt-watch", ["--board", Example.boards + "/raspberry-pi-4b.yaml"])
        #expect(run.status != 0)
        #expect(run.errors.contains("pinctrl-bcm2711"))
        #expect(run.errors.contains("Fix:"))
    }
}

/// One finished run of an example.
struct ExampleRun {
    var status: Int32
    var output: String
    var errors: String

    var lines: [String] { output.split(separator: "\n").map(String.init) }

    enum KeyEdge: String {
        case pressed, released
    }

    /// The keys reported with `edge`, in order.
    func keys(_ edge: KeyEdge) -> [String] {
        lines.compactMap { line in
            guard let range = line.range(of: "] key "), line.hasSuffix(" \(edge.rawValue)") else {
                return nil
            }
            return String(line[range.upperBound...].prefix(1))
        }
    }

    /// Whether lines containing each of `fragments` appear in this order (other lines between).
    func isInOrder(_ fragments: [String]) -> Bool {
        var remaining = fragments[...]
        for line in lines {
            guard let next = remaining.first else { break }
            if line.contains(next) { remaining = remaining.dropFirst() }
        }
        return remaining.isEmpty
    }

    func expectSuccess(sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(
            status == 0, "exit status \(status); standard error:\n\(errors)", sourceLocation: sourceLocation)
        #expect(!lines.isEmpty, "no output", sourceLocation: sourceLocation)
    }
}

enum Example {
    /// The package root, for board files and as the examples' working directory.
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let boards = root.appendingPathComponent("Boards").path
    static let simulator = boards + "/simulator.yaml"

    /// Where the example binaries are: next to this test bundle, which SwiftPM builds in the
    /// same directory (`.build/<triple>/debug`), else the package's `.build/debug`.
    static func binary(_ name: String) throws -> URL {
        let bundleDirectory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            .deletingLastPathComponent()
        for directory in [bundleDirectory, root.appendingPathComponent(".build/debug")] {
            let candidate = directory.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw ExampleTestError(
            "no \(name) binary next to the tests (\(bundleDirectory.path)): build with `swift build --build-tests`"
        )
    }

    /// Runs `name` with `arguments` and `input` on standard input, and waits for it to exit by
    /// itself; after `deadline` it is killed and the run fails.
    static func run(_ name: String, _ arguments: [String], input: String = "", deadline: Int = 120) throws
        -> ExampleRun
    {
        let process = Process()
        process.executableURL = try binary(name)
        process.arguments = arguments
        process.currentDirectoryURL = root
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        try process.run()

        // Drain both pipes while the example runs, so a full pipe never blocks it.
        let output = Collected()
        let errors = Collected()
        let readers = DispatchGroup()
        for (handle, sink) in [(stdout.fileHandleForReading, output), (stderr.fileHandleForReading, errors)] {
            DispatchQueue.global().async(group: readers) { sink.set(handle.readDataToEndOfFile()) }
        }
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()

        if exited.wait(timeout: .now() + .seconds(deadline)) == .timedOut {
            process.terminate()
            if exited.wait(timeout: .now() + .seconds(10)) == .timedOut {
                kill(process.processIdentifier, SIGKILL)
                exited.wait()
            }
            readers.wait()
            throw ExampleTestError(
                "\(name) \(arguments.joined(separator: " ")) did not end within \(deadline) s; it printed:\n"
                    + output.text)
        }
        readers.wait()
        return ExampleRun(status: process.terminationStatus, output: output.text, errors: errors.text)
    }
}

/// Bytes read on another thread.
final class Collected: Sendable {
    private let data = Mutex(Data())

    func set(_ value: Data) { data.withLock { $0 = value } }

    var text: String { data.withLock { String(decoding: $0, as: UTF8.self) } }
}

struct ExampleTestError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
