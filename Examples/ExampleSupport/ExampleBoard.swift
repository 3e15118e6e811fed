// The plumbing every example shares: read the board file, build the drivers on the Linux
// backends or on simulated hardware, and run until done. Copy this file along with an example;
// the interesting part of each example is its own main file.

import ArgumentParser
import BoltworkBoard
import BoltworkDrivers
import BoltworkHAL
import BoltworkLinux
import BoltworkLock
import BoltworkSimulation
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The options every example takes: `--board FILE`, and for the simulated board `--simulated`
/// and `--simulate SCRIPT`.
public struct BoardOptions: ParsableArguments {
    /// The board file.
    @Option(
        help: ArgumentHelp(
            "The board file (YAML).",
            discussion:
                "Boards/simulator.yaml runs on simulated hardware; any other file drives the real GPIO and I2C lines."
        ))
    public var board: String

    /// Run on simulated hardware built from any board file.
    @Flag(help: "Simulate the hardware this board file describes instead of driving it.")
    public var simulated = false

    /// What the simulated outside world does.
    @Option(
        help: ArgumentHelp(
            "On the simulated board: what happens around the lock, commands separated by `;`.",
            discussion: """
                keys 1234# (type keys), wait 2s | 500ms, turn PERCENT (turn the bolt by hand), \
                door open | close, jam PERCENT, free, battery PERCENT, power off | on. \
                Without it, the example plays its own short demonstration.
                """))
    public var simulate: String?

    /// Creates the options with their defaults (ArgumentParser fills them in).
    public init() {}
}

/// A mistake the example can explain: what went wrong and what to do.
public struct ExampleError: Error, CustomStringConvertible {
    /// The message, ending with the fix.
    public var description: String

    /// Creates an error from its message.
    public init(_ description: String) {
        self.description = description
    }
}

/// The board an example runs on: the drivers from the board file, over the Linux backends on a
/// real board or over simulated hardware on virtual time.
///
/// On a real board, ``run(demo:untilFinished:)`` waits for Ctrl-C (or ``finish()``); on the
/// simulated board it plays the `--simulate` script (or the example's demo) on virtual time and
/// returns, so a simulated run always ends by itself and prints the same lines every time.
public final class ExampleBoard: Sendable {
    /// The label of the simulated board's chip (Boards/simulator.yaml).
    public static let simulatorChip = GPIOChipID.label("boltwork-sim")

    /// The board file.
    public let file: BoardFile
    /// The drivers: keypad, motor, bolt sensor, door contact, gauge, buzzer, LED.
    public let hardware: LockHardware
    /// The clock every driver runs on: the system's on a board, virtual time in simulation.
    public let clock: any BoltClock
    /// Wall-clock time (for the access layer's lockout and schedules).
    public let wallClock: any WallClock
    /// The simulated hardware, nil on a real board.
    public let simulation: SimulatedBoard?

    private let virtualClock: VirtualClock?
    private let linux: LinuxGPIO?
    private let script: [WorldAction]?
    private let start: MonotonicInstant
    private let done = DispatchSemaphore(value: 0)
    private let finished = Mutex(false)

    /// Loads the board file in `options` and builds its drivers. `consumer` is the name the
    /// kernel shows for the requested lines (`gpioinfo`).
    public init(_ options: BoardOptions, consumer: String) throws(ExampleError) {
        do {
            file = try BoardFile.load(path: options.board)
        } catch {
            throw ExampleError(error.description)
        }
        let simulated = options.simulated || file.defaultChip == Self.simulatorChip
        script = try options.simulate.map { text throws(ExampleError) in try WorldAction.parse(text) }
        if simulated {
            let clock = VirtualClock()
            do {
                let simulation = try SimulatedBoard(board: file, clock: clock)
                hardware = try simulation.hardware(consumer: consumer)
                self.simulation = simulation
            } catch {
                throw ExampleError(
                    "cannot simulate \(options.board): \(sentence(error)). Fix: simulate Boards/simulator.yaml, or a board file whose lines are names on one chip"
                )
            }
            virtualClock = clock
            self.clock = clock
            wallClock = LinkedWallClock(clock: clock, epoch: Date(timeIntervalSince1970: 1_800_000_000))
            linux = nil
        } else {
            guard options.simulate == nil else {
                throw ExampleError(
                    "--simulate drives simulated hardware. Fix: add --simulated, or run without --simulate on the board"
                )
            }
            let clock = SystemClock()
            let gpio = LinuxGPIO(clock: clock)
            do {
                hardware = try BoardAssembly.assemble(
                    file, gpio: gpio,
                    i2c: { number throws(I2CError) in
                        try LinuxI2CBus(bus: number, retry: I2CRetryPolicy(attempts: 3))
                    }, clock: clock, consumer: consumer)
            } catch {
                gpio.shutdown()
                clock.shutdown()
                throw ExampleError(
                    "\(options.board): \(sentence(error)). Fix: check the wiring and the board file with `boltwork-probe board \(options.board)`"
                )
            }
            self.clock = clock
            wallClock = SystemWallClock()
            linux = gpio
            virtualClock = nil
            simulation = nil
        }
        start = clock.now
    }

    /// Whether the hardware is simulated.
    public var isSimulated: Bool { simulation != nil }

    /// Prints `text` with the time since the start, `[  1.250s] bolt locked`, as one write so
    /// lines from the clock's thread and the main thread never mix, even into a pipe.
    public func say(_ text: String) {
        let seconds = Double((clock.now - start).totalMilliseconds) / 1000
        let line = Array(("[" + String(format: "%7.3f", seconds) + "s] " + text + "\n").utf8)
        var written = 0
        while written < line.count {
            let result = line[written...].withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if result > 0 {
                written += result
            } else if result < 0, errno == EINTR {
                continue
            } else {
                return  // standard output is gone: nothing left to tell
            }
        }
    }

    /// Ends ``run(demo:untilFinished:)`` early. Returns true the first time, so of several
    /// reasons to stop only the first acts.
    @discardableResult
    public func finish() -> Bool {
        let first = finished.withLock { value -> Bool in
            defer { value = true }
            return !value
        }
        if first { done.signal() }
        return first
    }

    /// Runs the example. On a real board: until Ctrl-C, or until ``finish()``. On the simulated
    /// board: plays the `--simulate` script, or `demo` when none was given, on virtual time; with
    /// `untilFinished`, then lets virtual time run until ``finish()`` (at most ten minutes).
    public func run(demo: String, untilFinished: Bool = false) throws(ExampleError) {
        guard let virtualClock else {
            waitForStop()
            return
        }
        virtualClock.runUntilIdle()
        var actions = script ?? []
        if script == nil { actions = try WorldAction.parse(demo) }
        for action in actions where !isFinished {
            perform(action, on: virtualClock)
        }
        if untilFinished {
            virtualClock.advance(until: { isFinished }, limit: .seconds(600), step: .milliseconds(10))
        } else {
            virtualClock.advance(by: .milliseconds(500))  // let the last events settle
        }
    }

    /// Stops every driver and releases every line.
    public func shutdown() {
        hardware.shutdown()
        linux?.shutdown()
        (clock as? SystemClock)?.shutdown()
    }

    /// Reads a secret line (a code): without echo from a terminal, else a plain line from
    /// standard input. Never printed.
    public static func readSecret(prompt: String) -> String? {
        guard isatty(STDIN_FILENO) != 0 else { return readLine(strippingNewline: true) }
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

    private var isFinished: Bool { finished.withLock { $0 } }

    /// Blocks until SIGINT, SIGTERM or ``finish()``.
    private func waitForStop() {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.finish() }
            source.resume()
            return source
        }
        done.wait()
        for source in sources { source.cancel() }
    }

    /// One action of the simulated world. Each takes a moment of virtual time so its effect
    /// (edges, debounce, the drivers' reactions) shows before the next one.
    private func perform(_ action: WorldAction, on clock: VirtualClock) {
        guard let simulation else { return }
        let mechanism = simulation.mechanism
        switch action {
        case .keys(let keys):
            say("(simulated) \(keys.count) key\(keys.count == 1 ? "" : "s") typed")  // never the keys: a code
            simulation.keypad.type(keys)
            advance(clock, until: clock.now + .milliseconds(250 * keys.count + 200))
        case .wait(let duration):
            advance(clock, until: clock.now + duration)
        case .turn(let percent):
            say("(simulated) the bolt is turned by hand to \(String(format: "%g", percent)) %")
            mechanism.turnByHand(to: percent, over: .milliseconds(800))
            advance(clock, until: clock.now + .seconds(1))
        case .door(let open):
            say("(simulated) the door \(open ? "opens" : "closes")")
            if open { mechanism.openDoor() } else { mechanism.closeDoor() }
            advance(clock, until: clock.now + .milliseconds(100))
        case .jam(let percent):
            say("(simulated) the bolt jams at \(String(format: "%g", percent)) %")
            mechanism.jam(at: percent)
        case .free:
            say("(simulated) the bolt is free again")
            mechanism.clearJam()
        case .battery(let percent):
            say("(simulated) the battery is at \(String(format: "%g", percent)) %")
            simulation.battery.setStateOfCharge(percent)
            advance(clock, until: clock.now + .milliseconds(100))
        case .power(let on):
            say("(simulated) motor power \(on ? "on" : "off")")
            if on { mechanism.restorePower() } else { mechanism.cutPower() }
        }
    }

    /// Advances virtual time to `target`, stopping early once the example has finished.
    private func advance(_ clock: VirtualClock, until target: MonotonicInstant) {
        clock.advance(
            until: { isFinished || clock.now >= target }, limit: target - clock.now, step: .milliseconds(10))
    }
}

/// An error's description as part of a sentence (without its final full stop).
private func sentence(_ error: some Error) -> String {
    let text = "\(error)"
    return text.hasSuffix(".") ? String(text.dropLast()) : text
}

/// What happens around the lock in simulation: one command of a `--simulate` script.
private enum WorldAction: Sendable {
    case keys(String)
    case wait(Duration)
    case turn(Double)
    case door(open: Bool)
    case jam(Double)
    case free
    case battery(Double)
    case power(on: Bool)

    /// Parses `keys 1234#; wait 2s; door open`, naming the first command it cannot read.
    static func parse(_ script: String) throws(ExampleError) -> [WorldAction] {
        var actions: [WorldAction] = []
        for command in script.split(whereSeparator: { $0 == ";" || $0 == "\n" }) {
            let words = command.split(separator: " ").map(String.init)
            guard let verb = words.first else { continue }
            let argument = words.count == 2 ? words[1] : nil
            let percent = argument.flatMap(Double.init).flatMap { (0...100).contains($0) ? $0 : nil }
            let action: WorldAction? =
                switch (verb, argument) {
                case ("keys", let keys?): .keys(keys)
                case ("wait", let text?): duration(text).map(WorldAction.wait)
                case ("turn", _): percent.map(WorldAction.turn)
                case ("door", "open"?): .door(open: true)
                case ("door", "close"?): .door(open: false)
                case ("jam", _): percent.map(WorldAction.jam)
                case ("free", nil): .free
                case ("battery", _): percent.map(WorldAction.battery)
                case ("power", "on"?): .power(on: true)
                case ("power", "off"?): .power(on: false)
                default: nil
                }
            guard let action else {
                throw ExampleError(
                    "--simulate: cannot do '\(words.joined(separator: " "))'. Fix: write keys 1234#, wait 2s, turn PERCENT, door open|close, jam PERCENT, free, battery PERCENT or power on|off"
                )
            }
            actions.append(action)
        }
        return actions
    }

    private static func duration(_ text: String) -> Duration? {
        if text.hasSuffix("ms"), let value = Int(text.dropLast(2)), value >= 0 { return .milliseconds(value) }
        if text.hasSuffix("s"), let value = Double(text.dropLast()), value >= 0, value <= 86_400 {
            return .milliseconds(Int(value * 1000))
        }
        return nil
    }
}
