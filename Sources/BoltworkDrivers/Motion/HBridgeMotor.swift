import BoltworkHAL

/// A bolt motor behind an H-bridge chip (DRV8833, TB6612FNG, L298N), over one request of
/// output lines, so every state change is one write of all control pins.
///
/// Safety rules it enforces whatever the caller does:
/// - It never goes from one direction to the other without passing through its safe state
///   (brake or coast, per profile), held for ``Configuration/deadTime`` on the clock before the
///   new direction is driven.
/// - It rests in the safe state at start, on ``stop()``, on a failed GPIO write (then reports
///   ``MotorStopReason/fault`` through the stop handler and throws) and on ``shutdown()``.
///   Request the lines with ``lineConfigs(for:lines:safeState:)`` so they already start safe.
/// - A run lasts at most ``Configuration/maximumRunTime`` (the last safety net if the end
///   switch or the lock logic fails): then it stops and reports
///   ``MotorStopReason/maximumRunTime``. Calling ``run(_:)`` again in the same direction does
///   not extend it.
/// - An optional stall or fault input (a current-sense comparator, the DRV8833's nFAULT) stops
///   the motor and reports ``MotorStopReason/stall``.
///
/// Timers and the stop handler run on the clock. Do not call ``run(_:)`` or ``stop()`` from
/// inside a GPIO observer that runs during one of this driver's writes.
public final class HBridgeMotor: BoltMotor, Sendable {
    /// How the motor is wired and how careful it is.
    public struct Configuration: Sendable, Hashable {
        /// Which motor direction throws the bolt (board wiring).
        public var extendDirection: MotorDirection
        /// How long the bridge rests in its safe state before it reverses.
        public var deadTime: Duration
        /// The longest a single run may last.
        public var maximumRunTime: Duration
        /// The resting state, `nil` for the profile's choice. Must be brake or coast.
        public var safeState: BridgeState?

        /// Creates a configuration: by default forward extends, 20 ms dead time, 8 s maximum
        /// run time, the profile's safe state.
        public init(
            extendDirection: MotorDirection = .forward, deadTime: Duration = .milliseconds(20),
            maximumRunTime: Duration = .seconds(8), safeState: BridgeState? = nil
        ) {
            self.extendDirection = extendDirection
            self.deadTime = deadTime
            self.maximumRunTime = maximumRunTime
            self.safeState = safeState
        }
    }

    /// The chip profile.
    public let profile: HBridgeProfile
    /// The configuration.
    public let configuration: Configuration
    /// The state the motor rests in.
    public let safeState: BridgeState
    /// The device's name in messages (`motor`).
    public let name: String

    private let clock: any BoltClock
    private let request: any GPIOLineRequest
    private let stallInput: (any GPIOLineRequest)?
    /// Serialises whole operations (state decision plus GPIO write).
    private let operation = Protected(())
    private let state: Protected<State>

    private struct State {
        var bridge: BridgeState
        var activity: MotorActivity = .stopped
        /// Incremented whenever a run starts or ends, so stale timers do nothing.
        var generation: UInt64 = 0
        /// The last direction driven and when the bridge left it.
        var lastDriven: (direction: MotorDirection, left: MonotonicInstant)?
        var timers: [any ScheduledWork] = []
        var handler: (@Sendable (MotorStopReason, MonotonicInstant) -> Void)?
        var shutDown = false
    }

    /// The line configurations for `profile`, in its pin order, as outputs whose initial
    /// levels are the safe state: request them in one call so the bridge never starts
    /// driving. `lines` names one line per pin of `profile.pins`.
    public static func lineConfigs(
        for profile: HBridgeProfile, lines: [GPIOLineID], safeState: BridgeState? = nil
    ) throws(DeviceError) -> [LineConfig] {
        guard lines.count == profile.pins.count else {
            throw DeviceError(
                .configuration, device: "motor",
                detail:
                    "the \(profile.name) needs \(profile.pins.count) lines (\(profile.pins.map(\.description).joined(separator: ", "))), got \(lines.count)"
            )
        }
        let safe = try validatedSafeState(safeState ?? profile.safeState, profile: profile, device: "motor")
        guard let levels = profile.levels(for: safe) else {
            throw DeviceError(
                .configuration, device: "motor", detail: "the \(profile.name) has no \(safe) state")
        }
        return zip(lines, levels).map { line, level in
            LineConfig(line, .output(initial: LineValue(level == .high)))
        }
    }

    /// The configuration of a stall or fault input: an input with both edges, active at
    /// `activeLevel` (the DRV8833's nFAULT is open-drain, active low, so it needs the pull-up).
    public static func stallLineConfig(
        _ line: GPIOLineID, activeLevel: PinLevel = .low, debounce: Duration? = .milliseconds(2)
    ) -> LineConfig {
        LineConfig(
            line,
            .input(
                bias: activeLevel == .low ? .pullUp : .pullDown, activeLow: activeLevel == .low, edges: .both,
                debounce: debounce))
    }

    /// Creates the driver over `request` (the profile's pins, in order, as outputs) and puts
    /// the bridge in its safe state. `stallInput`, when given, is a one-line input request
    /// (see ``stallLineConfig(_:activeLevel:debounce:)``) whose active value means stalled.
    public init(
        request: any GPIOLineRequest, profile: HBridgeProfile, configuration: Configuration = Configuration(),
        stallInput: (any GPIOLineRequest)? = nil, clock: any BoltClock, name: String = "motor"
    ) throws(DeviceError) {
        guard request.offsets.count == profile.pins.count else {
            throw DeviceError(
                .configuration, device: name,
                detail:
                    "the \(profile.name) needs a request of \(profile.pins.count) lines (\(profile.pins.map(\.description).joined(separator: ", "))), got \(request.offsets.count)"
            )
        }
        guard configuration.deadTime >= .zero, configuration.maximumRunTime > .zero else {
            throw DeviceError(
                .configuration, device: name, detail: "dead time must be >= 0 and maximum run time > 0")
        }
        let safe = try Self.validatedSafeState(
            configuration.safeState ?? profile.safeState, profile: profile, device: name)
        self.profile = profile
        self.configuration = configuration
        self.safeState = safe
        self.name = name
        self.clock = clock
        self.request = request
        self.stallInput = stallInput
        self.state = Protected(State(bridge: safe))
        try serialized { () throws(DeviceError) in
            do {
                try write(safe)
            } catch {
                throw DeviceError(
                    .hardware, device: name,
                    detail: "cannot put the \(profile.name) in its safe state (\(safe))",
                    underlying: error)
            }
        }
        stallInput?.setEdgeHandler { [weak self] event in
            guard event.value == .active else { return }
            self?.stallFired()
        }
    }

    private static func validatedSafeState(_ safe: BridgeState, profile: HBridgeProfile, device: String)
        throws(DeviceError) -> BridgeState
    {
        guard safe == .brake || safe == .coast, profile.levels(for: safe) != nil else {
            throw DeviceError(
                .configuration, device: device,
                detail:
                    "the safe state must be brake or coast and supported by the \(profile.name), not \(safe)")
        }
        return safe
    }

    // MARK: BoltMotor

    /// What the motor is doing. During a reversal's dead time it already reports the new
    /// direction, since the time the run was requested.
    public var activity: MotorActivity { state.withLock { $0.activity } }

    /// The bridge state the pins are in now.
    public var bridgeState: BridgeState { state.withLock { $0.bridge } }

    /// Installs the function told when a run ends for a reason other than ``stop()``.
    public func setStopHandler(_ handler: (@Sendable (MotorStopReason, MonotonicInstant) -> Void)?) {
        state.withLock { $0.handler = handler }
    }

    /// Moves the bolt in `direction`. Running already that way changes nothing (and does not
    /// extend the maximum run time). Running the other way, or having left the other direction
    /// less than the dead time ago, first rests in the safe state and drives the new direction
    /// after the dead time, on the clock. An active stall input refuses the run (stopping the
    /// motor if it was running) with `invalidState`.
    public func run(_ direction: BoltDirection) throws(DeviceError) {
        let motor =
            direction == .extend ? configuration.extendDirection : configuration.extendDirection.opposite
        try serialized { () throws(DeviceError) in
            try runLocked(direction, motor: motor)
        }
    }

    private func runLocked(_ direction: BoltDirection, motor: MotorDirection) throws(DeviceError) {
        let now = clock.now
        let snapshot = state.withLock { $0 }
        guard !snapshot.shutDown else {
            throw DeviceError(.invalidState, device: name, detail: "the motor was shut down")
        }
        if case .running(let current, _) = snapshot.activity, current == direction { return }
        if let stallInput {
            let stalled: Bool
            do {
                stalled = try stallInput.value(at: 0) == .active
            } catch {
                throw failSafe(detail: "cannot read the stall input", underlying: error, notify: true)
            }
            if stalled {
                if snapshot.bridge.isDriving {
                    try writeOrFail(
                        safeState, detail: "cannot stop the \(profile.name) on an active stall input")
                }
                settleStopped(leaving: snapshot.bridge, at: now)
                throw DeviceError(
                    .invalidState, device: name,
                    detail:
                        "the stall/fault input is active; the bolt is blocked or the driver chip reports a fault (check the mechanism and the motor supply)"
                )
            }
        }
        // Leave any current direction through the safe state.
        var lastDriven = snapshot.lastDriven
        if snapshot.bridge.isDriving {
            try writeOrFail(safeState, detail: "cannot stop the \(profile.name) before changing direction")
            let driven: MotorDirection = snapshot.bridge == .forward ? .forward : .reverse
            lastDriven = (driven, now)
        }
        var earliest = now
        if let last = lastDriven, last.direction != motor {
            earliest = max(now, last.left + configuration.deadTime)
        }
        let timers = state.withLock { state -> [any ScheduledWork] in
            state.generation += 1
            state.lastDriven = lastDriven
            state.activity = .running(direction, since: now)
            defer { state.timers = [] }
            return state.timers
        }
        for timer in timers { timer.cancel() }
        if earliest <= now {
            try startDriving(motor, generation: state.withLock { $0.generation })
        } else {
            let generation = state.withLock { $0.generation }
            let timer = clock.schedule(at: earliest) { [weak self] in
                self?.deadTimeElapsed(motor, generation: generation)
            }
            state.withLock { $0.timers.append(timer) }
        }
    }

    /// Drives `motor` now and arms the maximum-run-time timer.
    private func startDriving(_ motor: MotorDirection, generation: UInt64) throws(DeviceError) {
        try writeOrFail(motor.bridgeState, detail: "cannot drive the \(profile.name) \(motor)")
        let timer = clock.schedule(after: configuration.maximumRunTime) { [weak self] in
            self?.end(.maximumRunTime, generation: generation)
        }
        state.withLock { $0.timers.append(timer) }
    }

    private func deadTimeElapsed(_ motor: MotorDirection, generation: UInt64) {
        operation.withLock { _ in
            guard state.withLock({ $0.generation == generation && !$0.shutDown }) else { return }
            do {
                try startDriving(motor, generation: generation)
            } catch {
                // writeOrFail already went safe and told the stop handler.
            }
        }
    }

    /// Stops in the safe state. Stopping a stopped motor writes the safe state again.
    public func stop() throws(DeviceError) {
        try serialized { () throws(DeviceError) in
            let now = clock.now
            let bridge = state.withLock { $0.bridge }
            try writeOrFail(safeState, detail: "cannot stop the \(profile.name)")
            settleStopped(leaving: bridge, at: now)
        }
    }

    /// Puts the bridge in its safe state, cancels timers, ignores the stall input and releases
    /// the lines (after which the chip's pull resistors decide; see the profile). Later runs
    /// throw `invalidState`.
    public func shutdown() {
        operation.withLock { _ in
            let now = clock.now
            let bridge = state.withLock { $0.bridge }
            try? write(safeState)
            settleStopped(leaving: bridge, at: now)
            state.withLock { $0.shutDown = true }
            stallInput?.setEdgeHandler(nil)
            stallInput?.release()
            request.release()
        }
    }

    /// Puts the bridge in standby (DRV8833 with nSLEEP, TB6612FNG), the lowest-power state
    /// for a long idle time. `run(_:)` wakes it.
    public func standby() throws(DeviceError) {
        guard profile.levels(for: .standby) != nil else {
            throw DeviceError(
                .configuration, device: name,
                detail: "the \(profile.name) as wired has no standby line (wire nSLEEP or STBY to a GPIO)")
        }
        try serialized { () throws(DeviceError) in
            let now = clock.now
            let bridge = state.withLock { $0.bridge }
            if bridge.isDriving { try writeOrFail(safeState, detail: "cannot stop the \(profile.name)") }
            settleStopped(leaving: bridge, at: now)
            try writeOrFail(.standby, detail: "cannot put the \(profile.name) in standby")
        }
    }

    // MARK: Internals

    /// Runs `body` with the operation lock held, keeping its typed error.
    private func serialized<T: Sendable>(_ body: () throws(DeviceError) -> T) throws(DeviceError) -> T {
        let result: Result<T, DeviceError> = operation.withLock { _ in
            do throws(DeviceError) {
                return .success(try body())
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private func settleStopped(leaving bridge: BridgeState, at now: MonotonicInstant) {
        let timers = state.withLock { state -> [any ScheduledWork] in
            state.generation += 1
            state.activity = .stopped
            if bridge.isDriving { state.lastDriven = (bridge == .forward ? .forward : .reverse, now) }
            defer { state.timers = [] }
            return state.timers
        }
        for timer in timers { timer.cancel() }
    }

    private func stallFired() {
        let running = state.withLock { state -> UInt64? in
            if case .running = state.activity { return state.generation }
            return nil
        }
        guard let running else { return }
        end(.stall, generation: running)
    }

    /// Ends the run of `generation` for `reason` (on the clock).
    private func end(_ reason: MotorStopReason, generation: UInt64) {
        let ended = operation.withLock { _ -> Bool in
            guard state.withLock({ $0.generation == generation }) else { return false }
            let now = clock.now
            let bridge = state.withLock { $0.bridge }
            do {
                try writeOrFail(safeState, detail: "cannot stop the \(profile.name) after \(reason)")
            } catch {
                return false  // already reported as a fault
            }
            settleStopped(leaving: bridge, at: now)
            return true
        }
        if ended { notify(reason) }
    }

    private func notify(_ reason: MotorStopReason) {
        let handler = state.withLock { $0.handler }
        handler?(reason, clock.now)
    }

    /// Writes the pins of `bridge` in one call; the state is updated only on success.
    private func write(_ bridge: BridgeState) throws(GPIOError) {
        guard let levels = profile.levels(for: bridge) else {
            throw GPIOError(.invalidArgument, detail: "the \(profile.name) has no \(bridge) state")
        }
        try request.setValues(levels.map { LineValue($0 == .high) })
        state.withLock { $0.bridge = bridge }
    }

    /// Writes `bridge`; on failure tries the safe state, tells the stop handler `.fault` (on
    /// the clock) and throws.
    private func writeOrFail(_ bridge: BridgeState, detail: String) throws(DeviceError) {
        do {
            try write(bridge)
        } catch {
            throw failSafe(detail: detail, underlying: error, notify: true)
        }
    }

    private func failSafe(detail: String, underlying: GPIOError, notify: Bool) -> DeviceError {
        let now = clock.now
        let bridge = state.withLock { $0.bridge }
        let recovered = (try? write(safeState)) != nil
        let wasRunning = state.withLock { state -> Bool in
            if case .running = state.activity { return true }
            return false
        }
        settleStopped(leaving: bridge, at: now)
        if notify && (wasRunning || bridge.isDriving) {
            clock.execute { [weak self] in self?.notify(.fault) }
        }
        let suffix =
            recovered
            ? "; the bridge was put in its safe state (\(safeState))"
            : "; the safe state could not be written either: cut the motor supply and check the GPIO wiring"
        return DeviceError(.hardware, device: name, detail: detail + suffix, underlying: underlying)
    }
}
