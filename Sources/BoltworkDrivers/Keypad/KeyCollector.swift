import BoltworkHAL

/// A code typed on the keypad. Its digits never show up in logs: `description`,
/// `debugDescription`, string interpolation, `dump` and `Mirror` all print `<6 digits>`; the
/// digits come out only through ``revealedDigits``.
public struct PINEntry: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    private let digits: [Character]

    /// Wraps the digits of an entry.
    public init(_ digits: some Sequence<Character>) {
        self.digits = Array(digits)
    }

    /// How many digits were entered.
    public var count: Int { digits.count }

    /// The digits, for the code that checks them (and only for it).
    public var revealedDigits: String { String(digits) }

    /// Compares with a stored code in time independent of where they differ.
    public func matches(_ code: String) -> Bool {
        let other = Array(code)
        var difference = digits.count ^ other.count
        for index in 0..<max(digits.count, other.count) {
            let mine = index < digits.count ? digits[index] : "\u{0}"
            let theirs = index < other.count ? other[index] : "\u{0}"
            difference |= mine == theirs ? 0 : 1
        }
        return difference == 0
    }

    /// Compares two entries in time independent of where they differ.
    public static func == (lhs: PINEntry, rhs: PINEntry) -> Bool {
        lhs.matches(rhs.revealedDigits)
    }

    /// `<N digits>`.
    public var description: String { count == 1 ? "<1 digit>" : "<\(count) digits>" }

    /// `PINEntry(<N digits>)`.
    public var debugDescription: String { "PINEntry(\(description))" }

    /// A mirror that shows the length only.
    public var customMirror: Mirror { Mirror(self, children: ["count": count], displayStyle: .struct) }
}

/// Turns key presses into codes, like ESPHome's `key_collector`: digits accumulate, the submit
/// key (`#`) submits, the clear key (`*`) drops the entry, an optional back key removes the last
/// digit, and a pause longer than the timeout between keys drops a partial entry.
///
/// Only ``KeyEvent/Kind/press`` events count; releases and stuck reports are ignored. The
/// timeout runs on the clock only while an entry is partial: an idle collector schedules
/// nothing. Outcomes are delivered on the thread that called ``handle(_:)`` (the keypad's clock)
/// or, for timeouts, on the clock.
public final class KeyCollector: Sendable {
    /// What the collector accepts.
    public struct Configuration: Sendable, Hashable {
        /// Keys that make up a code.
        public var digits: Set<Character>
        /// Submits the entry.
        public var submitKey: Character
        /// Drops the entry.
        public var clearKey: Character
        /// Removes the last digit, if any key is given.
        public var backKey: Character?
        /// Fewest digits a submitted code may have.
        public var minimumLength: Int
        /// Most digits a code may have; one more drops the entry as too long.
        public var maximumLength: Int
        /// Whether reaching ``maximumLength`` submits without the submit key.
        public var submitsAtMaximumLength: Bool
        /// Longest pause between two keys before a partial entry is dropped; nil for none.
        public var timeout: Duration?

        /// Creates a configuration; the defaults take 4 to 8 digits, `#` to submit, `*` to clear
        /// and drop a partial entry after 5 s without a key.
        public init(
            digits: Set<Character> = Set("0123456789"), submitKey: Character = "#", clearKey: Character = "*",
            backKey: Character? = nil, minimumLength: Int = 4, maximumLength: Int = 8,
            submitsAtMaximumLength: Bool = false, timeout: Duration? = .seconds(5)
        ) {
            self.digits = digits
            self.submitKey = submitKey
            self.clearKey = clearKey
            self.backKey = backKey
            self.minimumLength = minimumLength
            self.maximumLength = maximumLength
            self.submitsAtMaximumLength = submitsAtMaximumLength
            self.timeout = timeout
        }
    }

    /// How an entry ended.
    public enum Outcome: Sendable, Equatable, CustomStringConvertible {
        /// The code was submitted.
        case submitted(PINEntry)
        /// The clear key dropped the entry (of this many digits).
        case cleared(digits: Int)
        /// The pause between keys was too long; the partial entry was dropped.
        case timedOut(digits: Int)
        /// Submitted with fewer than the minimum digits; dropped.
        case tooShort(digits: Int)
        /// A digit beyond the maximum length; the entry was dropped.
        case tooLong
    }

    private struct State {
        var digits: [Character] = []
        var timer: (any ScheduledWork)?
        var generation: UInt64 = 0
        var outcomeHandler: (@Sendable (Outcome, MonotonicInstant) -> Void)?
        var progressHandler: (@Sendable (Int) -> Void)?
    }

    /// The configuration.
    public let configuration: Configuration
    private let clock: any BoltClock
    private let state = Protected(State())

    /// Creates a collector. Throws `configuration` when the lengths or keys contradict each
    /// other.
    public init(clock: any BoltClock, configuration: Configuration = Configuration()) throws(DeviceError) {
        let c = configuration
        guard c.minimumLength >= 1, c.maximumLength >= c.minimumLength else {
            throw DeviceError(
                .configuration, device: "key collector",
                detail:
                    "lengths must satisfy 1 <= minimum (\(c.minimumLength)) <= maximum (\(c.maximumLength))")
        }
        let special = [c.submitKey, c.clearKey] + (c.backKey.map { [$0] } ?? [])
        guard Set(special).count == special.count, special.allSatisfy({ !c.digits.contains($0) }) else {
            throw DeviceError(
                .configuration, device: "key collector",
                detail: "the submit, clear and back keys must differ from each other and from the digits")
        }
        if let timeout = c.timeout, timeout <= .zero {
            throw DeviceError(.configuration, device: "key collector", detail: "the timeout must be positive")
        }
        self.clock = clock
        self.configuration = configuration
    }

    /// Installs the function that receives outcomes with their time (replacing any earlier one).
    public func setOutcomeHandler(_ handler: (@Sendable (Outcome, MonotonicInstant) -> Void)?) {
        state.withLock { $0.outcomeHandler = handler }
    }

    /// Installs the function told the number of digits after every change of a partial entry
    /// (for a display of `****` or a click), never the digits themselves.
    public func setProgressHandler(_ handler: (@Sendable (Int) -> Void)?) {
        state.withLock { $0.progressHandler = handler }
    }

    /// The number of digits entered so far.
    public var partialLength: Int { state.withLock { $0.digits.count } }

    /// Feeds a key event (only presses count).
    public func handle(_ event: KeyEvent) {
        guard event.kind == .press else { return }
        let c = configuration
        let key = event.key
        let (outcome, progress, outcomeHandler, progressHandler) = state.withLock {
            state -> (
                Outcome?, Int?, (@Sendable (Outcome, MonotonicInstant) -> Void)?, (@Sendable (Int) -> Void)?
            )
            in
            var outcome: Outcome?
            var progress: Int?
            if key == c.submitKey {
                if state.digits.count < c.minimumLength {
                    outcome = .tooShort(digits: state.digits.count)
                } else {
                    outcome = .submitted(PINEntry(state.digits))
                }
                reset(&state)
            } else if key == c.clearKey {
                outcome = .cleared(digits: state.digits.count)
                reset(&state)
            } else if key == c.backKey {
                guard !state.digits.isEmpty else { return (nil, nil, nil, nil) }
                state.digits.removeLast()
                progress = state.digits.count
                if state.digits.isEmpty { reset(&state) } else { restartTimer(&state) }
            } else if c.digits.contains(key) {
                if state.digits.count >= c.maximumLength {
                    outcome = .tooLong
                    reset(&state)
                } else {
                    state.digits.append(key)
                    progress = state.digits.count
                    if c.submitsAtMaximumLength && state.digits.count == c.maximumLength {
                        outcome = .submitted(PINEntry(state.digits))
                        reset(&state)
                    } else {
                        restartTimer(&state)
                    }
                }
            } else {
                return (nil, nil, nil, nil)
            }
            return (outcome, progress, state.outcomeHandler, state.progressHandler)
        }
        if let progress { progressHandler?(progress) }
        if let outcome { outcomeHandler?(outcome, event.timestamp) }
    }

    /// Drops a partial entry without an outcome (when the lock leaves keypad entry).
    public func reset() {
        state.withLock { reset(&$0) }
    }

    private func reset(_ state: inout State) {
        state.digits = []
        state.generation &+= 1
        state.timer?.cancel()
        state.timer = nil
    }

    private func restartTimer(_ state: inout State) {
        state.timer?.cancel()
        state.generation &+= 1
        guard let timeout = configuration.timeout else { return }
        let generation = state.generation
        state.timer = clock.schedule(after: timeout) { [weak self] in self?.timeoutFired(generation) }
    }

    private func timeoutFired(_ generation: UInt64) {
        let fired = state.withLock { state -> (Int, (@Sendable (Outcome, MonotonicInstant) -> Void)?)? in
            guard state.generation == generation, !state.digits.isEmpty else { return nil }
            let count = state.digits.count
            reset(&state)
            return (count, state.outcomeHandler)
        }
        if let (count, handler) = fired { handler?(.timedOut(digits: count), clock.now) }
    }
}

extension KeyCollector.Outcome {
    /// A log-safe description: never the digits.
    public var description: String {
        switch self {
        case .submitted(let entry): "submitted \(entry)"
        case .cleared(let digits): "cleared after \(digits) digits"
        case .timedOut(let digits): "timed out after \(digits) digits"
        case .tooShort(let digits): "too short (\(digits) digits)"
        case .tooLong: "too long"
        }
    }
}
