import BoltworkHAL

/// What a simulated H-bridge does, decoded from the levels on its control inputs.
public enum SimulatedBridgeState: Sendable, Hashable, CustomStringConvertible {
    /// Driving forward.
    case forward
    /// Driving in reverse.
    case reverse
    /// Motor terminals shorted.
    case brake
    /// Outputs high impedance.
    case coast
    /// Chip asleep or disabled.
    case standby

    /// `forward`, `reverse`, `brake`, `coast` or `standby`.
    public var description: String {
        switch self {
        case .forward: "forward"
        case .reverse: "reverse"
        case .brake: "brake"
        case .coast: "coast"
        case .standby: "standby"
        }
    }
}

/// The motor-driver chip of a simulated lock and the names of the lines on its inputs.
public enum SimulatedBridgeWiring: Sendable, Hashable {
    /// DRV8833: IN1, IN2 and optionally nSLEEP (absent = tied high).
    case drv8833(in1: String, in2: String, sleep: String? = nil)
    /// TB6612FNG: IN1, IN2, PWM, STBY.
    case tb6612fng(in1: String, in2: String, pwm: String, standby: String)
    /// L298N: IN1, IN2, EN.
    case l298n(in1: String, in2: String, enable: String)

    /// The line names, in the chip's pin order.
    public var lines: [String] {
        switch self {
        case .drv8833(let in1, let in2, let sleep): [in1, in2] + (sleep.map { [$0] } ?? [])
        case .tb6612fng(let in1, let in2, let pwm, let standby): [in1, in2, pwm, standby]
        case .l298n(let in1, let in2, let enable): [in1, in2, enable]
        }
    }

    /// Decodes pin levels (in ``lines`` order) with the datasheet's rules: DRV8833 nSLEEP low
    /// sleeps, 0/0 coast, 1/0 forward, 0/1 reverse, 1/1 brake; TB6612FNG STBY low standby, H/H
    /// brake, PWM low brake, H/L forward, L/H reverse, L/L stop (coast); L298N EN low coasts,
    /// IN1 = IN2 brakes, otherwise IN1 high is forward.
    public func decode(_ levels: [PinLevel]) -> SimulatedBridgeState {
        func high(_ index: Int) -> Bool { levels.indices.contains(index) && levels[index] == .high }
        let in1 = high(0)
        let in2 = high(1)
        func direct() -> SimulatedBridgeState {
            switch (in1, in2) {
            case (true, false): .forward
            case (false, true): .reverse
            case (true, true): .brake
            case (false, false): .coast
            }
        }
        switch self {
        case .drv8833(_, _, let sleep):
            if sleep != nil && !high(2) { return .standby }
            return direct()
        case .tb6612fng:
            if !high(3) { return .standby }
            if in1 && in2 { return .brake }
            if !high(2) { return .brake }
            return direct()
        case .l298n:
            if !high(2) { return .coast }
            return in1 == in2 ? .brake : direct()
        }
    }
}

/// A behavioural model of a motorised deadbolt on a ``SimulatedGPIOChip``: it watches the
/// motor driver's input lines, moves the bolt between 0 % (retracted) and 100 % (extended) at
/// a set travel time, closes end switches, turns an AS5600's magnet, closes a door contact and
/// reports the motor current.
///
/// Motion is computed analytically from the clock: each change (motor state, jam, hand turn,
/// power) plans the next threshold crossing (an end-switch edge, an end stop, the jam, the
/// start of a misaligned strike) and schedules one timer at its exact time, so the model costs
/// nothing between crossings and nothing at all while the bolt is still.
///
/// End switches are closed within ``Configuration/switchZonePercent`` of their end; a closed
/// switch drives its line to ``Configuration/switchClosedLevel``, an open one releases it (the
/// request's pull decides). Keep a reference to the mechanism: the chip holds it weakly.
public final class SimulatedLockMechanism: Sendable {
    /// The mechanism's wiring and physics.
    public struct Configuration: Sendable, Hashable {
        /// The motor-driver chip and its input lines.
        public var bridge: SimulatedBridgeWiring
        /// Whether the bridge's forward state extends the bolt.
        public var forwardExtends: Bool
        /// Time for a full stroke, 0 to 100 %, at normal speed.
        public var travelTime: Duration
        /// The retracted-end switch line, if any.
        public var retractedSwitch: String?
        /// The extended-end switch line, if any.
        public var extendedSwitch: String?
        /// The level a closed end switch puts on its line.
        public var switchClosedLevel: PinLevel
        /// How close to its end (in percent) a switch closes.
        public var switchZonePercent: Double
        /// The door contact line, if any.
        public var doorContact: String?
        /// The level the closed door's contact puts on its line.
        public var doorClosedLevel: PinLevel
        /// Motor current while the bolt moves freely.
        public var runningMilliamps: Int
        /// Motor current while driven against an end stop or a jam.
        public var stallMilliamps: Int
        /// Where the bolt starts, in percent.
        public var initialPercent: Double
        /// A stall or fault signal line (a current-sense comparator, the DRV8833's nFAULT), if
        /// any: driven to ``stallSignalLevel`` while the motor draws the stall current,
        /// released otherwise.
        public var stallSignal: String?
        /// The level the stall signal drives while stalled.
        public var stallSignalLevel: PinLevel

        /// Creates a configuration; by default forward extends, a 1.5 s stroke, switches
        /// closing low within 2 % of their ends, 250 mA running, 1200 mA stalled, starting
        /// retracted, a stall signal (if wired) active low.
        public init(
            bridge: SimulatedBridgeWiring, forwardExtends: Bool = true,
            travelTime: Duration = .milliseconds(1500),
            retractedSwitch: String? = nil, extendedSwitch: String? = nil, switchClosedLevel: PinLevel = .low,
            switchZonePercent: Double = 2, doorContact: String? = nil, doorClosedLevel: PinLevel = .low,
            runningMilliamps: Int = 250, stallMilliamps: Int = 1200, initialPercent: Double = 0,
            stallSignal: String? = nil, stallSignalLevel: PinLevel = .low
        ) {
            self.bridge = bridge
            self.forwardExtends = forwardExtends
            self.travelTime = travelTime
            self.retractedSwitch = retractedSwitch
            self.extendedSwitch = extendedSwitch
            self.switchClosedLevel = switchClosedLevel
            self.switchZonePercent = switchZonePercent
            self.doorContact = doorContact
            self.doorClosedLevel = doorClosedLevel
            self.runningMilliamps = runningMilliamps
            self.stallMilliamps = stallMilliamps
            self.initialPercent = initialPercent
            self.stallSignal = stallSignal
            self.stallSignalLevel = stallSignalLevel
        }
    }

    private struct Sensor {
        var device: SimulatedAS5600
        var retractedRaw: Int
        var signedSpan: Int
    }

    private struct State {
        var percent: Double
        var since: MonotonicInstant
        /// +1 extending, -1 retracting, 0 still.
        var direction: Int = 0
        var speed: Double = 0
        var bridge: SimulatedBridgeState = .coast
        var powered = true
        var jam: Double?
        var jamBlocks: Int?
        var slowZone: (from: Double, factor: Double)?
        var manual: (target: Double, percentPerNanosecond: Double)?
        var load = 0
        var stalled = false
        var timer: (any ScheduledWork)?
        var generation: UInt64 = 0
        var switches: (retracted: Bool, extended: Bool) = (false, false)
        var doorOpen = false
        var loadHandler: (@Sendable (_ milliamps: Int) -> Void)?
    }

    /// The configuration.
    public let configuration: Configuration
    /// The chip the lines are on.
    public let chip: SimulatedGPIOChip
    private let clock: any BoltClock
    private let motorOffsets: Set<UInt32>
    private let state: Protected<State>
    private let sensors = Protected([Sensor]())

    /// Creates the mechanism on `chip` and starts watching the motor lines. Throws
    /// `noSuchLine` when a configured line does not exist.
    public init(chip: SimulatedGPIOChip, configuration: Configuration) throws(GPIOError) {
        var offsets: Set<UInt32> = []
        for line in configuration.bridge.lines { offsets.insert(try chip.resolve(.name(line))) }
        for line in [
            configuration.retractedSwitch, configuration.extendedSwitch, configuration.doorContact,
            configuration.stallSignal,
        ] {
            if let line { _ = try chip.resolve(.name(line)) }
        }
        self.configuration = configuration
        self.chip = chip
        self.clock = chip.clock
        self.motorOffsets = offsets
        let start = min(100, max(0, configuration.initialPercent))
        self.state = Protected(State(percent: start, since: chip.clock.now))
        chip.observe { [weak self] changed in
            guard let self, changed.contains(where: { self.motorOffsets.contains($0) }) else { return }
            self.update { _ in }
        }
        if let door = configuration.doorContact { chip.drive(door, to: configuration.doorClosedLevel) }
        update { _ in }
    }

    // MARK: Observation

    /// The bolt's position now, in percent (0 = retracted, 100 = extended).
    public var percent: Double {
        let now = clock.now
        return state.withLock { Self.position(of: $0, at: now) }
    }

    /// The bridge state decoded from the motor lines (``SimulatedBridgeState/coast`` while
    /// the power is cut).
    public var bridgeState: SimulatedBridgeState { state.withLock { $0.bridge } }

    /// The motor current now, in milliamperes.
    public var loadMilliamps: Int { state.withLock { $0.load } }

    /// Whether the bolt is moving now.
    public var isMoving: Bool { state.withLock { $0.direction != 0 } }

    /// Called with the motor current whenever it changes (0 when stopped, the running current
    /// while moving, the stall current against an end or a jam), for battery models.
    public var onLoadChange: (@Sendable (_ milliamps: Int) -> Void)? {
        get { state.withLock { $0.loadHandler } }
        set { state.withLock { $0.loadHandler = newValue } }
    }

    /// Turns `sensor`'s magnet with the bolt: RAW ANGLE is `retractedRaw` at 0 % and
    /// `extendedRaw` at 100 %, going the shorter way around (across 4095-to-0 if need be)
    /// unless `increasing` says otherwise.
    public func attach(
        _ sensor: SimulatedAS5600, retractedRaw: UInt16, extendedRaw: UInt16, increasing: Bool? = nil
    ) {
        let up = (Int(extendedRaw & 0x0FFF) - Int(retractedRaw & 0x0FFF) + 4096) % 4096
        let rising = increasing ?? (up <= 2048)
        let span = rising ? up : up - 4096
        sensors.withLock {
            $0.append(Sensor(device: sensor, retractedRaw: Int(retractedRaw & 0x0FFF), signedSpan: span))
        }
        sensor.setAngleSource { [weak self] in
            guard let self else { return retractedRaw & 0x0FFF }
            let percent = self.percent
            let raw = Int(retractedRaw & 0x0FFF) + Int((percent / 100 * Double(span)).rounded())
            return UInt16(((raw % 4096) + 4096) % 4096)
        }
    }

    // MARK: Scenarios

    /// Puts an obstacle at `percent`: the bolt stops there when it reaches it, the end
    /// switches stay open and the motor draws the stall current while driven into it.
    public func jam(at percent: Double) {
        update { state in
            state.jam = min(100, max(0, percent))
            state.jamBlocks = nil
        }
    }

    /// Removes the obstacle.
    public func clearJam() {
        update { state in
            state.jam = nil
            state.jamBlocks = nil
        }
    }

    /// A misaligned strike: beyond `percent` the bolt moves `factor` times slower and the
    /// motor draws `factor` times the running current (at most the stall current).
    public func misalignStrike(from percent: Double, slowdown factor: Double) {
        update { state in state.slowZone = (min(100, max(0, percent)), max(1, factor)) }
    }

    /// Aligns the strike again.
    public func alignStrike() {
        update { state in state.slowZone = nil }
    }

    /// Turns the bolt by hand (key or thumb-turn) to `percent` over `duration`, with no motor.
    /// Ignored while the motor drives the bolt; a jam stops the hand too.
    public func turnByHand(to percent: Double, over duration: Duration) {
        update { state in
            guard !Self.isDriving(state) else { return }
            let now = Self.position(of: state, at: clock.now)
            let target = min(100, max(0, percent))
            let nanoseconds = max(1, duration.totalNanoseconds)
            state.manual = (target, abs(target - now) / Double(nanoseconds))
        }
    }

    /// Opens the door: the contact releases its line.
    public func openDoor() {
        state.withLock { $0.doorOpen = true }
        if let door = configuration.doorContact { chip.drive(door, to: nil) }
    }

    /// Closes the door: the contact drives its line to ``Configuration/doorClosedLevel``.
    public func closeDoor() {
        state.withLock { $0.doorOpen = false }
        if let door = configuration.doorContact { chip.drive(door, to: configuration.doorClosedLevel) }
    }

    /// Whether the door is open.
    public var isDoorOpen: Bool { state.withLock { $0.doorOpen } }

    /// Cuts the motor supply: the bolt stops where it is (mid-travel too) whatever the inputs
    /// say; the switches keep telling where it is.
    public func cutPower() {
        update { state in state.powered = false }
    }

    /// Restores the motor supply; the bridge acts on its inputs again.
    public func restorePower() {
        update { state in state.powered = true }
    }

    // MARK: Motion

    private static func isDriving(_ state: State) -> Bool {
        state.powered && (state.bridge == .forward || state.bridge == .reverse)
    }

    private static func position(of state: State, at now: MonotonicInstant) -> Double {
        guard state.direction != 0 else { return state.percent }
        let elapsed = Double((now - state.since).totalNanoseconds)
        return min(100, max(0, state.percent + Double(state.direction) * state.speed * elapsed))
    }

    private func fullSpeed() -> Double {
        100 / Double(max(1, configuration.travelTime.totalNanoseconds))
    }

    private func inSlowZone(_ state: State, percent: Double, direction: Int) -> Bool {
        guard let zone = state.slowZone else { return false }
        return percent > zone.from || (percent == zone.from && direction > 0)
    }

    /// Brings the position up to now, applies `change`, then plans the next crossing and
    /// updates lines and load.
    private func update(_ change: (inout State) -> Void) {
        let levels = configuration.bridge.lines.map { chip.level(of: $0) ?? .low }
        let decoded = configuration.bridge.decode(levels)
        let now = clock.now
        let plan = state.withLock { state -> Plan in
            state.percent = Self.position(of: state, at: now)
            state.since = now
            state.bridge = decoded
            change(&state)
            return self.plan(&state, now: now)
        }
        apply(plan)
    }

    /// Called when the planned crossing at `boundary` is reached.
    private func reached(_ boundary: Double, generation: UInt64) {
        let now = clock.now
        let result = state.withLock { state -> Plan? in
            guard state.generation == generation else { return nil }
            let direction = state.direction
            state.percent = boundary
            state.since = now
            if let jam = state.jam, jam == boundary { state.jamBlocks = direction }
            return self.plan(&state, now: now)
        }
        if let result { apply(result) }
    }

    /// Decides direction and speed from the state, finds the next crossing, and returns what to
    /// schedule and which outputs changed.
    private func plan(_ state: inout State, now: MonotonicInstant) -> Plan {
        let p = state.percent
        var direction = 0
        var speed = 0.0
        let driving = Self.isDriving(state)
        if driving {
            state.manual = nil
            let forward = state.bridge == .forward
            direction = forward == configuration.forwardExtends ? 1 : -1
            speed = fullSpeed()
        } else if let manual = state.manual {
            if manual.target == p {
                state.manual = nil
            } else {
                direction = manual.target > p ? 1 : -1
                speed = manual.percentPerNanosecond
            }
        }
        // Blocked by an end stop or the jam.
        if direction > 0 && p >= 100 || direction < 0 && p <= 0 { direction = 0 }
        if let jam = state.jam, jam == p, state.jamBlocks == direction { direction = 0 }
        if direction == 0 { state.manual = nil }
        let slow = inSlowZone(state, percent: p, direction: direction)
        if slow, let zone = state.slowZone, state.manual == nil { speed /= zone.factor }
        state.direction = direction
        state.speed = speed

        // Load.
        var load = 0
        if driving {
            if direction == 0 {
                load = configuration.stallMilliamps
            } else if slow, let zone = state.slowZone {
                load = min(
                    configuration.stallMilliamps,
                    Int((Double(configuration.runningMilliamps) * zone.factor).rounded()))
            } else {
                load = configuration.runningMilliamps
            }
        }
        let stalled = driving && direction == 0
        var stallChange: Bool?
        if stalled != state.stalled {
            state.stalled = stalled
            stallChange = stalled
        }
        var loadChange: Int?
        if load != state.load {
            state.load = load
            loadChange = load
        }

        // Switches.
        let zone = configuration.switchZonePercent
        let retracted = p < zone || (p == zone && direction <= 0)
        let extended = p > 100 - zone || (p == 100 - zone && direction >= 0)
        var switchChange: (Bool, Bool)?
        if state.switches != (retracted, extended) || state.generation == 0 {
            state.switches = (retracted, extended)
            switchChange = (retracted, extended)
        }

        // Next crossing.
        state.generation += 1
        state.timer?.cancel()
        state.timer = nil
        var timer: (deadline: MonotonicInstant, generation: UInt64, boundary: Double)?
        if direction != 0 {
            var boundaries: [Double] = [0, 100, zone, 100 - zone]
            if let jam = state.jam { boundaries.append(jam) }
            if let slowZone = state.slowZone { boundaries.append(slowZone.from) }
            if let manual = state.manual { boundaries.append(manual.target) }
            let ahead = boundaries.filter { direction > 0 ? $0 > p : $0 < p }
            if let next = direction > 0 ? ahead.min() : ahead.max() {
                let nanoseconds = (abs(next - p) / speed).rounded()
                let deadline = now + .nanoseconds(Int64(min(nanoseconds, 1e17)))
                timer = (deadline, state.generation, next)
            }
        }
        return Plan(
            timer: timer, switches: switchChange, load: loadChange, stalled: stallChange,
            handler: loadChange != nil ? state.loadHandler : nil)
    }

    /// What a planning step decided, carried out outside the lock.
    private struct Plan {
        var timer: (deadline: MonotonicInstant, generation: UInt64, boundary: Double)?
        var switches: (Bool, Bool)?
        var load: Int?
        var stalled: Bool?
        var handler: (@Sendable (Int) -> Void)?
    }

    private func apply(_ plan: Plan) {
        if let timer = plan.timer {
            let work = clock.schedule(at: timer.deadline) { [weak self] in
                self?.reached(timer.boundary, generation: timer.generation)
            }
            state.withLock { state in
                if state.generation == timer.generation { state.timer = work } else { work.cancel() }
            }
        }
        if let stalled = plan.stalled, let line = configuration.stallSignal {
            chip.drive(line, to: stalled ? configuration.stallSignalLevel : nil)
        }
        if let load = plan.load { plan.handler?(load) }
        if let (retracted, extended) = plan.switches {
            let closed = configuration.switchClosedLevel
            if let line = configuration.retractedSwitch { chip.drive(line, to: retracted ? closed : nil) }
            if let line = configuration.extendedSwitch { chip.drive(line, to: extended ? closed : nil) }
        }
    }
}
