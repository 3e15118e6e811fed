import BoltworkHAL

/// A timed on/off pattern for a buzzer or a status LED: each step turns the output on for `on`,
/// then off for `off`. A pattern always ends with the output off.
public struct FeedbackPattern: Sendable, Hashable {
    /// One pulse.
    public struct Step: Sendable, Hashable {
        /// How long the output is on.
        public var on: Duration
        /// How long it is off afterwards (the last step's pause only delays the pattern's end).
        public var off: Duration

        /// Creates a pulse.
        public init(on: Duration, off: Duration = .zero) {
            self.on = on
            self.off = off
        }
    }

    /// The pulses, in order.
    public var steps: [Step]

    /// Creates a pattern.
    public init(_ steps: [Step]) {
        self.steps = steps
    }

    /// The whole pattern's length.
    public var duration: Duration { steps.reduce(.zero) { $0 + $1.on + $1.off } }

    /// A short click for each key press: 30 ms.
    public static let keyClick = FeedbackPattern([Step(on: .milliseconds(30))])
    /// Code accepted: two short pulses, 100 ms on, 80 ms apart.
    public static let accepted = FeedbackPattern([
        Step(on: .milliseconds(100), off: .milliseconds(80)), Step(on: .milliseconds(100)),
    ])
    /// Code refused: one long pulse, 600 ms.
    public static let refused = FeedbackPattern([Step(on: .milliseconds(600))])
    /// Locked out after too many wrong codes: five pulses of 150 ms, 150 ms apart.
    public static let lockedOut = FeedbackPattern(
        Array(repeating: Step(on: .milliseconds(150), off: .milliseconds(150)), count: 4) + [
            Step(on: .milliseconds(150))
        ])
}

/// A buzzer or a status LED on one GPIO output, playing ``FeedbackPattern``s on the clock.
///
/// A new pattern replaces the one playing; every pattern ends with the output off; nothing is
/// scheduled while no pattern plays. Errors of timed steps go to the error handler (the output
/// is then turned off if possible).
///
/// Ownership: created from a chip and a line, it owns its request and ``stop()`` releases it.
/// Created from an existing request, it borrows it: ``stop()`` turns the line off and leaves
/// the release to the caller.
public final class FeedbackOutput: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var work: (any ScheduledWork)?
        var playing: FeedbackPattern?
        var stopped = false
        var errorHandler: (@Sendable (DeviceError) -> Void)?
    }

    /// The device name used in errors (`buzzer`, `status LED`).
    public let name: String
    private let request: any GPIOLineRequest
    private let index: Int
    private let clock: any BoltClock
    private let ownsRequest: Bool
    private let state = Protected(State())

    /// Borrows the output at `index` of `request` (requested by the caller as an output; set
    /// `activeLow` there if the device is on when the pin is low).
    public init(request: any GPIOLineRequest, index: Int = 0, clock: any BoltClock, name: String) {
        self.request = request
        self.index = index
        self.clock = clock
        self.name = name
        self.ownsRequest = false
    }

    /// Requests `line` on `chip` as an output starting off, and owns it.
    public init(
        chip: any GPIOChip, line: GPIOLineID, activeLow: Bool = false, clock: any BoltClock, name: String,
        consumer: String = "boltwork-feedback"
    ) throws(DeviceError) {
        do throws(GPIOError) {
            request = try chip.requestLines(
                [LineConfig(line, .output(initial: .inactive, activeLow: activeLow))], consumer: consumer)
        } catch {
            throw DeviceError(
                .hardware, device: name, detail: "cannot request line \(line)", underlying: error)
        }
        self.index = 0
        self.clock = clock
        self.name = name
        self.ownsRequest = true
    }

    /// Installs the function told about errors of timed steps.
    public func setErrorHandler(_ handler: (@Sendable (DeviceError) -> Void)?) {
        state.withLock { $0.errorHandler = handler }
    }

    /// The pattern playing now, if any.
    public var playing: FeedbackPattern? { state.withLock { $0.playing } }

    /// Starts `pattern` now, replacing the one playing. Throws when the first step cannot be
    /// written (the output is then left off if possible) or after ``stop()``.
    public func play(_ pattern: FeedbackPattern) throws(DeviceError) {
        let result = state.withLock { state -> Result<Void, DeviceError> in
            guard !state.stopped else {
                return .failure(DeviceError(.invalidState, device: name, detail: "the output was stopped"))
            }
            cancel(&state)
            state.playing = pattern
            do throws(DeviceError) {
                try run(&state, pattern, step: 0)
            } catch {
                cancel(&state)
                try? write(.inactive)
                return .failure(error)
            }
            return .success(())
        }
        try result.get()
    }

    /// Stops the pattern playing, if any, and turns the output off.
    public func silence() throws(DeviceError) {
        let result = state.withLock { state -> Result<Void, DeviceError> in
            cancel(&state)
            guard !state.stopped else { return .success(()) }
            return Result { () throws(DeviceError) in try write(.inactive) }
        }
        try result.get()
    }

    /// Silences the output and, if it owns its request, releases it. Later ``play(_:)`` calls
    /// throw `invalidState`.
    public func stop() {
        let error = state.withLock { state -> DeviceError? in
            guard !state.stopped else { return nil }
            cancel(&state)
            state.stopped = true
            do throws(DeviceError) {
                try write(.inactive)
                return nil
            } catch {
                return error
            }
        }
        if ownsRequest { request.release() }
        if let error { report(error) }
    }

    private func cancel(_ state: inout State) {
        state.generation &+= 1
        state.work?.cancel()
        state.work = nil
        state.playing = nil
    }

    /// Turns the output on for step `step` and schedules its end.
    private func run(_ state: inout State, _ pattern: FeedbackPattern, step: Int) throws(DeviceError) {
        guard step < pattern.steps.count else {
            state.playing = nil
            state.work = nil
            return
        }
        try write(.active)
        let generation = state.generation
        state.work = clock.schedule(after: pattern.steps[step].on) { [weak self] in
            guard let self else { return }
            advance(generation) { state throws(DeviceError) in try self.end(&state, pattern, step: step) }
        }
    }

    /// Turns the output off at the end of step `step` and schedules the next one.
    private func end(_ state: inout State, _ pattern: FeedbackPattern, step: Int) throws(DeviceError) {
        try write(.inactive)
        guard step + 1 < pattern.steps.count else {
            state.playing = nil
            state.work = nil
            return
        }
        let generation = state.generation
        state.work = clock.schedule(after: pattern.steps[step].off) { [weak self] in
            guard let self else { return }
            advance(generation) { state throws(DeviceError) in try self.run(&state, pattern, step: step + 1) }
        }
    }

    private func advance(
        _ generation: UInt64, _ body: (inout State) throws(DeviceError) -> Void
    ) {
        let error = state.withLock { state -> DeviceError? in
            guard state.generation == generation, !state.stopped else { return nil }
            do throws(DeviceError) {
                try body(&state)
                return nil
            } catch {
                cancel(&state)
                try? write(.inactive)
                return error
            }
        }
        if let error { report(error) }
    }

    private func report(_ error: DeviceError) {
        state.withLock { $0.errorHandler }?(error)
    }

    private func write(_ value: LineValue) throws(DeviceError) {
        do throws(GPIOError) {
            try request.setValue(value, at: index)
        } catch {
            throw DeviceError(
                .hardware, device: name, detail: "cannot turn the \(name) \(value == .active ? "on" : "off")",
                underlying: error)
        }
    }
}
