import BoltworkHAL
import BoltworkSimulation
import Dispatch

/// The parts of the wiring self-test, in the order they run.
public enum SelfTestStep: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Every GPIO line in the board file exists and is free; then all are requested.
    case lines
    /// The I2C devices answer with the right identity; the sensors read sensibly.
    case devices
    /// Each key, pressed when asked, is the key the key map says.
    case keypad
    /// The motor moves the bolt the right way, and how long each throw takes.
    case motor
    /// The measured values are stored for the daemon.
    case calibration

    /// The step's name.
    public var description: String { rawValue }
}

/// One result of the self-test: what was found, and what to do about it when it is wrong.
public struct SelfTestFinding: Sendable, Hashable, CustomStringConvertible {
    /// How it went.
    public enum Status: String, Sendable, Hashable {
        /// As it should be.
        case passed = "ok"
        /// Works, but worth a look.
        case warning
        /// Wrong: the lock should not be trusted until it is fixed.
        case failed = "FAIL"
        /// Not tested (an earlier failure, an option, no such part).
        case skipped
    }

    /// The step.
    public var step: SelfTestStep
    /// How it went.
    public var status: Status
    /// What was found, naming the part, key and line.
    public var message: String
    /// What to do about it.
    public var fix: String?

    /// Creates a finding.
    public init(_ step: SelfTestStep, _ status: Status, _ message: String, fix: String? = nil) {
        self.step = step
        self.status = status
        self.message = message
        self.fix = fix
    }

    /// `[FAIL] motor: the bolt moved the wrong way ...: swap IN1/IN2 ...`, on one line.
    public var description: String {
        "[\(status.rawValue)] \(step): \(message)" + (fix.map { ": \($0)" } ?? "")
    }
}

/// Everything the self-test found, and the calibration it measured.
public struct SelfTestReport: Sendable {
    /// The findings in the order they were made.
    public var findings: [SelfTestFinding]
    /// What was measured (throw times, AS5600 end angles), when the motor step got that far.
    public var calibration: BoltCalibration?
    /// Whether the calibration was written to the store.
    public var calibrationStored: Bool
    /// Whether the run was interrupted (SIGINT, ``WiringSelfTest/abort()``).
    public var interrupted: Bool

    /// Whether nothing failed and the run was not interrupted.
    public var passed: Bool { !interrupted && !findings.contains { $0.status == .failed } }

    /// The failures.
    public var failures: [SelfTestFinding] { findings.filter { $0.status == .failed } }

    /// The findings of one step.
    public func findings(in step: SelfTestStep) -> [SelfTestFinding] { findings.filter { $0.step == step } }
}

/// The person at the lock, as the self-test sees them: it shows progress and findings, asks
/// yes/no questions and asks for keys to be pressed. A terminal implements it in `boltd
/// selftest`; ``AutomaticOperator`` presses a simulated keypad itself.
public protocol SelfTestOperator: Sendable {
    /// Shows progress (a step starting, what is measured).
    func show(_ text: String)
    /// Shows a finding as soon as it is made.
    func report(_ finding: SelfTestFinding)
    /// Asks a yes/no question (the answer to go ahead is yes).
    func confirm(_ question: String) -> Bool
    /// Asks for `key` to be pressed on the keypad; returns at once (the self-test waits for the
    /// key event itself, with a timeout).
    func askToPress(_ key: Character)
}

/// An operator that needs nobody: it presses the prompted key on a simulated keypad a moment
/// after the prompt (a broken key then stays silent, as it would under a finger), answers
/// questions with `confirm` (yes by default) and keeps a transcript.
public final class AutomaticOperator: SelfTestOperator {
    private let keypad: SimulatedKeypad?
    private let clock: any BoltClock
    private let delay: Duration
    private let holdFor: Duration
    private let answer: @Sendable (String) -> Bool
    private let output: @Sendable (String) -> Void
    private let lines = Protected([String]())

    /// Presses keys on `keypad` (none: nobody presses) `delay` after each prompt on `clock`
    /// (the keypad's), holding each `holdFor`; `confirm` answers questions; `output` receives
    /// every line shown.
    public init(
        keypad: SimulatedKeypad?, clock: any BoltClock, delay: Duration = .milliseconds(300),
        holdFor: Duration = .milliseconds(120),
        confirm: @escaping @Sendable (String) -> Bool = { _ in true },
        output: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.keypad = keypad
        self.clock = clock
        self.delay = delay
        self.holdFor = holdFor
        self.answer = confirm
        self.output = output
    }

    /// Every line shown so far.
    public var transcript: [String] { lines.withLock { $0 } }

    private func emit(_ line: String) {
        lines.withLock { $0.append(line) }
        output(line)
    }

    /// Records and prints `text`.
    public func show(_ text: String) { emit(text) }

    /// Records and prints the finding.
    public func report(_ finding: SelfTestFinding) { emit(finding.description) }

    /// Answers with the `confirm` function given at creation.
    public func confirm(_ question: String) -> Bool {
        let yes = answer(question)
        emit("\(question) \(yes ? "yes" : "no") (automatic)")
        return yes
    }

    /// Presses `key` on the simulated keypad after the delay.
    public func askToPress(_ key: Character) {
        emit("press \(key)")
        guard let keypad else { return }
        let holdFor = self.holdFor
        clock.schedule(after: delay) { keypad.tap(key, holdFor: holdFor) }
    }
}

/// How the self-test lets time pass while it waits for the hardware: real time on a board,
/// virtual time in tests and `boltd selftest --simulated`.
public protocol SelfTestTimeline: Sendable {
    /// The clock the drivers run on.
    var clock: any BoltClock { get }
    /// Lets time pass until `condition` holds or `timeout` has passed; returns whether it held.
    func wait(until condition: () -> Bool, timeout: Duration) -> Bool
    /// Tells a waiting ``wait(until:timeout:)`` to look at its condition again (called from
    /// event handlers).
    func wake()
}

extension SelfTestTimeline {
    /// Lets `duration` pass.
    public func pause(_ duration: Duration) {
        _ = wait(until: { false }, timeout: duration)
    }
}

/// Virtual time: a wait advances the ``VirtualClock`` in small steps, running the drivers and
/// the simulated hardware, until the condition holds.
public final class VirtualTimeline: SelfTestTimeline {
    /// The virtual clock.
    public let virtualClock: VirtualClock
    private let step: Duration

    /// Advances `clock` in steps of `step` while waiting.
    public init(clock: VirtualClock, step: Duration = .milliseconds(1)) {
        self.virtualClock = clock
        self.step = step
    }

    /// The virtual clock.
    public var clock: any BoltClock { virtualClock }

    /// Advances virtual time until `condition` holds or `timeout` has passed.
    public func wait(until condition: () -> Bool, timeout: Duration) -> Bool {
        virtualClock.advance(until: condition, limit: timeout, step: step)
    }

    /// Nothing to wake: the waiting thread runs the clock.
    public func wake() {}
}

/// Real time: the drivers run on their own clock (a `SystemClock`); a wait sleeps on a
/// semaphore that event handlers signal, looking at its condition at least every
/// `pollInterval` (for sensors read by polling, like the AS5600).
public final class RealTimeline: SelfTestTimeline {
    /// The drivers' clock.
    public let clock: any BoltClock
    private let pollInterval: Duration
    private let semaphore = DispatchSemaphore(value: 0)

    /// Waits on `clock`'s time line, looking at conditions at least every `pollInterval`.
    public init(clock: any BoltClock, pollInterval: Duration = .milliseconds(5)) {
        self.clock = clock
        self.pollInterval = max(pollInterval, .milliseconds(1))
    }

    /// Sleeps until `condition` holds or `timeout` has passed on the clock.
    public func wait(until condition: () -> Bool, timeout: Duration) -> Bool {
        let end = clock.now + timeout
        while true {
            if condition() { return true }
            let remaining = end - clock.now
            if remaining <= .zero { return false }
            let slice = min(remaining, pollInterval)
            _ = semaphore.wait(timeout: .now() + .nanoseconds(Int(slice.totalNanoseconds)))
        }
    }

    /// Wakes a waiting ``wait(until:timeout:)``.
    public func wake() { semaphore.signal() }
}
