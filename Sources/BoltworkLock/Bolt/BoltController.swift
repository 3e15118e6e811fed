import BoltworkDrivers
import BoltworkHAL

/// The bolt state machine: moves the bolt on command, confirms every move with the bolt
/// sensor, recovers from jams, notices hand turns, and keeps the door rules (never throw the
/// bolt into an open door, lock when the door closes, door-ajar alarm, auto-relock).
///
/// It decides *how* to move, safely; the access layer above decides *whether* (users, codes,
/// modes, battery policy through the injected move check).
///
/// Rules it keeps:
/// - The state is ``BoltState/locked`` only when the sensor reports full extension.
/// - Every move must be confirmed by the sensor within ``Configuration/moveTimeout``; then,
///   or when the motor driver ends the run by itself (maximum run time, stall, fault), the
///   motor is stopped and the move reported as jammed with the position where the bolt
///   stopped. A failed lock first retracts to a known end (when the sensor can tell where the
///   bolt is) and retries up to ``Configuration/lockRetries`` times after
///   ``Configuration/retryBackoff``.
/// - Commands during a move are coalesced, the last one wins. A reversal stops the motor and
///   waits ``Configuration/settleTime`` before running the other way; the driver adds its own
///   safe state and dead time.
/// - A position change with no command in progress is a manual turn.
/// - At start the state comes from the sensors; a bolt between the ends is reported, never
///   moved automatically.
///
/// Commands return at once; everything runs on the clock, serially, and is reported through
/// the event and state-change handlers. Handlers run on the clock and may call the
/// controller. The move check runs on the clock while the controller holds its state: it may
/// read ``state`` but must not wait for a command.
public final class BoltController: Sendable {
    /// Timings and policies.
    public struct Configuration: Sendable, Hashable {
        /// How long the sensor has to confirm a move (3 s by default). See
        /// ``timeout(calibratedThrow:margin:)``.
        public var moveTimeout: Duration
        /// How many times a failed lock is tried again after retracting (1 by default).
        public var lockRetries: Int
        /// The wait before trying a failed lock again, on the clock (1 s by default).
        public var retryBackoff: Duration
        /// How long the motor rests after a stop before the controller runs it again (the
        /// bolt coasting to a standstill), on top of the driver's dead time (100 ms by
        /// default).
        public var settleTime: Duration
        /// Whether a failed lock retracts the bolt to the retracted end (true by default).
        public var retractAfterFailedLock: Bool
        /// Auto-relock delay after the bolt is unlocked; zero turns auto-relock off (default).
        public var autoRelockDelay: Duration
        /// The door-ajar alarm time, nil for no alarm (default).
        public var doorAjarAfter: Duration?

        /// Creates a configuration.
        public init(
            moveTimeout: Duration = .seconds(3), lockRetries: Int = 1, retryBackoff: Duration = .seconds(1),
            settleTime: Duration = .milliseconds(100), retractAfterFailedLock: Bool = true,
            autoRelockDelay: Duration = .zero, doorAjarAfter: Duration? = nil
        ) {
            self.moveTimeout = moveTimeout
            self.lockRetries = lockRetries
            self.retryBackoff = retryBackoff
            self.settleTime = settleTime
            self.retractAfterFailedLock = retractAfterFailedLock
            self.autoRelockDelay = autoRelockDelay
            self.doorAjarAfter = doorAjarAfter
        }

        /// A move timeout from a calibrated full-stroke time: `calibratedThrow × margin`
        /// (margin 2 by default, for a cold, slow mechanism or a low battery).
        public static func timeout(calibratedThrow: Duration, margin: Double = 2) -> Duration {
            let nanoseconds = Double(calibratedThrow.totalNanoseconds) * max(1, margin)
            return .nanoseconds(Int64(min(nanoseconds, 9e18)))
        }
    }

    /// The function asked before every motor start; a non-nil reason refuses the move.
    public typealias MoveCheck = @Sendable (BoltDirection, OperationSource) -> String?

    /// The configuration as created (``setAutoRelockDelay(_:)`` changes the delay in force).
    public let configuration: Configuration

    private let motor: any BoltMotor
    private let sensor: any BoltPositionSensor
    private let door: (any DoorSensor)?
    private let clock: any BoltClock
    private let canMove: MoveCheck?
    private let core: Protected<Core>
    private let published = Protected<BoltState>(.unknown)
    private let lastMove = Protected<BoltMoveTiming?>(nil)
    private let handlers = Protected<Handlers>(Handlers())

    private struct Handlers {
        var state: (@Sendable (BoltStateChange) -> Void)?
        var event: (@Sendable (BoltOutcome, MonotonicInstant) -> Void)?
    }

    private struct Command {
        var direction: BoltDirection
        var source: OperationSource
        var completion: (@Sendable (BoltOutcome) -> Void)?
    }

    private enum Next {
        case recover
        case pending
    }

    private enum Phase {
        /// Driving the command's direction toward its end.
        case moving
        /// Retracting after a failed lock.
        case recovering
        /// Stopped, waiting for the bolt to settle before the next step.
        case settling(Next)
        /// Retracted after a failed lock, waiting before trying again.
        case backingOff
    }

    private struct Move {
        var command: Command
        var phase: Phase = .moving
        var failures = 0
        var stoppedAt: BoltPosition?
        var cause: BoltJamCause = .timeout
        var abort: BoltRefusal?
        var timer: (any ScheduledWork)?
        var token: UInt64 = 0
        /// When the motor last started in the command's direction (the attempt that counts).
        var startedAt: MonotonicInstant?
    }

    private enum Note {
        case state(BoltStateChange)
        case event(BoltOutcome, MonotonicInstant)
        case complete(@Sendable (BoltOutcome) -> Void, BoltOutcome)
    }

    private struct Core {
        var started = false
        var state: BoltState = .unknown
        var move: Move?
        var pending: Command?
        var tokens: UInt64 = 0
        var door: DoorState?
        var lockOnClose = false
        var autoRelock = true
        var relockDelay: Duration
        var relockTimer: (any ScheduledWork)?
        var relockToken: UInt64 = 0
        var relockWaitsForDoor = false
        var ajarTimer: (any ScheduledWork)?
        var ajarToken: UInt64 = 0
        var notes: [Note] = []

        mutating func nextToken() -> UInt64 {
            tokens += 1
            return tokens
        }
    }

    /// Creates a controller over the device protocols. Call ``start()`` before commands.
    /// `canMove` is asked before every motor start (also before retries and auto-locks) and
    /// refuses the move when it returns a reason (the battery policy's veto). Throws
    /// `configuration` for negative times or retries.
    public init(
        motor: any BoltMotor, sensor: any BoltPositionSensor, door: (any DoorSensor)? = nil,
        clock: any BoltClock,
        configuration: Configuration = Configuration(), canMove: MoveCheck? = nil
    ) throws(DeviceError) {
        guard configuration.moveTimeout > .zero, configuration.lockRetries >= 0,
            configuration.retryBackoff >= .zero, configuration.settleTime >= .zero,
            configuration.autoRelockDelay >= .zero, (configuration.doorAjarAfter ?? .zero) >= .zero
        else {
            throw DeviceError(
                .configuration, device: "bolt controller",
                detail: "the move timeout must be > 0; retries, back-off, settle, relock and ajar times >= 0")
        }
        self.motor = motor
        self.sensor = sensor
        self.door = door
        self.clock = clock
        self.configuration = configuration
        self.canMove = canMove
        self.core = Protected(Core(relockDelay: configuration.autoRelockDelay))
    }

    // MARK: Public interface

    /// The current state.
    public var state: BoltState { published.withLock { $0 } }

    /// The latest move the sensor confirmed (not a hand turn, not a command that found the
    /// bolt already at its end): how long the successful attempt took. The layer above
    /// records it with the lock or unlock event whose time equals
    /// ``BoltMoveTiming/completedAt``.
    public var lastCompletedMove: BoltMoveTiming? { lastMove.withLock { $0 } }

    /// Whether "lock when the door closes" is armed.
    public var isLockOnDoorCloseArmed: Bool { core.withLock { $0.lockOnClose } }

    /// Installs the function told about every state change (replacing any earlier one).
    public func setStateChangeHandler(_ handler: (@Sendable (BoltStateChange) -> Void)?) {
        handlers.withLock { $0.state = handler }
    }

    /// Installs the function told about every outcome and sighting, with its time (replacing
    /// any earlier one).
    public func setEventHandler(_ handler: (@Sendable (BoltOutcome, MonotonicInstant) -> Void)?) {
        handlers.withLock { $0.event = handler }
    }

    /// Reads the sensors and takes the state from them, installs the device handlers and
    /// returns the state found. A bolt between the ends is reported as
    /// ``BoltOutcome/notFullyLocked(position:source:)`` and left where it is; an unreadable
    /// or contradictory sensor leaves the state ``BoltState/unknown`` and reports
    /// ``BoltOutcome/sensorFault(_:)``. Starting twice does nothing more.
    @discardableResult
    public func start() -> BoltState {
        motor.setStopHandler { [weak self] reason, _ in
            self?.operate { this, core in this.motorStopped(reason, &core) }
        }
        sensor.setChangeHandler { [weak self] event in
            self?.operate { this, core in this.positionChanged(event.position, &core) }
        }
        door?.setChangeHandler { [weak self] state, _ in
            self?.operate { this, core in this.doorChanged(state, &core) }
        }
        operate { this, core in
            guard !core.started else { return }
            core.started = true
            if let door = this.door {
                do {
                    core.door = try door.state()
                } catch {
                    this.emit(.sensorFault(String(describing: error)), &core)
                }
                if core.door == .open { this.armAjar(&core) }
            }
            switch this.readPosition() {
            case .extended: this.setState(.locked, .startup, &core)
            case .retracted: this.setState(.unlocked, .startup, &core)
            case .between(let percent):
                this.setState(.notFullyLocked(position: .between(percent: percent)), .startup, &core)
                this.emit(.notFullyLocked(position: .between(percent: percent), source: nil), &core)
            case .fault(let why):
                this.setState(.unknown, .fault, &core)
                this.emit(.sensorFault(why), &core)
            }
        }
        return state
    }

    /// Stops the motor, cancels every timer and detaches from the devices. Pending commands
    /// complete as superseded; a move stopped part way leaves the state the sensor reads.
    public func shutdown() {
        motor.setStopHandler(nil)
        sensor.setChangeHandler(nil)
        door?.setChangeHandler(nil)
        operate { this, core in
            core.started = false
            if let move = core.move {
                move.timer?.cancel()
                core.move = nil
                this.stopMotor(&core)
                if case .settling(.pending) = move.phase {
                    // Already reported as superseded by the pending command.
                } else {
                    this.complete(
                        move.command,
                        .superseded(direction: move.command.direction, source: move.command.source),
                        &core)
                }
                // Stopped mid-move: the state is where the bolt is, not the move that was.
                this.stateFromSensor(.sensor, &core)
            }
            if let pending = core.pending {
                core.pending = nil
                this.complete(
                    pending, .superseded(direction: pending.direction, source: pending.source), &core)
            }
            this.cancelRelock(&core)
            core.ajarTimer?.cancel()
            core.ajarTimer = nil
        }
    }

    /// Throws the bolt. Returns at once; the outcome is reported through the event handler.
    public func lock(source: OperationSource) {
        submit(.extend, source, nil)
    }

    /// Pulls the bolt back. Returns at once; the outcome is reported through the event handler.
    public func unlock(source: OperationSource) {
        submit(.retract, source, nil)
    }

    /// Throws the bolt, calling `completion` (on the clock) with this command's outcome.
    public func lock(source: OperationSource, completion: @escaping @Sendable (BoltOutcome) -> Void) {
        submit(.extend, source, completion)
    }

    /// Pulls the bolt back, calling `completion` (on the clock) with this command's outcome.
    public func unlock(source: OperationSource, completion: @escaping @Sendable (BoltOutcome) -> Void) {
        submit(.retract, source, completion)
    }

    /// Throws the bolt and waits (on the clock's time line) for this command's outcome.
    public func lock(source: OperationSource) async -> BoltOutcome {
        await withCheckedContinuation { continuation in
            submit(.extend, source) { continuation.resume(returning: $0) }
        }
    }

    /// Pulls the bolt back and waits (on the clock's time line) for this command's outcome.
    public func unlock(source: OperationSource) async -> BoltOutcome {
        await withCheckedContinuation { continuation in
            submit(.retract, source) { continuation.resume(returning: $0) }
        }
    }

    /// Arms "lock when the door closes": the next time the door closes, the bolt is thrown with
    /// source ``OperationSource/auto``. Needs a door sensor (without one it does nothing).
    public func armLockOnDoorClose() {
        clock.execute { [weak self] in
            self?.operate { this, core in
                if this.door != nil { core.lockOnClose = true }
            }
        }
    }

    /// Disarms "lock when the door closes".
    public func disarmLockOnDoorClose() {
        clock.execute { [weak self] in self?.operate { _, core in core.lockOnClose = false } }
    }

    /// Enables or disables auto-relock (the operating mode above disables it in passage
    /// mode). Enabling it while unlocked starts the delay from now.
    public func setAutoRelock(enabled: Bool) {
        clock.execute { [weak self] in
            self?.operate { this, core in
                core.autoRelock = enabled
                this.cancelRelock(&core)
                if enabled && core.state == .unlocked && core.move == nil { this.armRelock(&core) }
            }
        }
    }

    /// Changes the auto-relock delay (zero turns it off); a running delay restarts with it.
    public func setAutoRelockDelay(_ delay: Duration) {
        clock.execute { [weak self] in
            self?.operate { this, core in
                core.relockDelay = max(.zero, delay)
                let running = core.relockTimer != nil || core.relockWaitsForDoor
                this.cancelRelock(&core)
                if running || (core.state == .unlocked && core.move == nil) { this.armRelock(&core) }
            }
        }
    }

    // MARK: Plumbing

    private func submit(
        _ direction: BoltDirection, _ source: OperationSource,
        _ completion: (@Sendable (BoltOutcome) -> Void)?
    ) {
        let command = Command(direction: direction, source: source, completion: completion)
        clock.execute { [self] in
            operate { this, core in this.handle(command, &core) }
        }
    }

    /// Runs `body` with the state locked, then delivers what it noted, in order, unlocked.
    private func operate(_ body: (BoltController, inout Core) -> Void) {
        let notes = core.withLock { core -> [Note] in
            body(self, &core)
            defer { core.notes = [] }
            return core.notes
        }
        guard !notes.isEmpty else { return }
        let current = handlers.withLock { $0 }
        for note in notes {
            switch note {
            case .state(let change): current.state?(change)
            case .event(let outcome, let time): current.event?(outcome, time)
            case .complete(let completion, let outcome): completion(outcome)
            }
        }
    }

    private func setState(_ state: BoltState, _ cause: BoltStateCause, _ core: inout Core) {
        guard state != core.state else { return }
        let change = BoltStateChange(state: state, previous: core.state, timestamp: clock.now, cause: cause)
        core.state = state
        published.withLock { $0 = state }
        core.notes.append(.state(change))
        if state == .unlocked && core.move == nil {
            armRelock(&core)
        } else if state != .unlocked {
            cancelRelock(&core)
        }
    }

    private func emit(_ outcome: BoltOutcome, _ core: inout Core) {
        core.notes.append(.event(outcome, clock.now))
    }

    /// Reports `outcome` and hands it to `command`'s completion.
    private func complete(_ command: Command, _ outcome: BoltOutcome, _ core: inout Core) {
        emit(outcome, &core)
        if let completion = command.completion { core.notes.append(.complete(completion, outcome)) }
    }

    private func readPosition() -> BoltPosition {
        do {
            return try sensor.position()
        } catch {
            return .fault(error.description)
        }
    }

    private func schedule(
        _ delay: Duration, _ core: inout Core,
        _ work: @escaping @Sendable (BoltController, inout Core, UInt64) -> Void
    )
        -> (any ScheduledWork, UInt64)
    {
        let token = core.nextToken()
        let timer = clock.schedule(after: delay) { [weak self] in
            self?.operate { this, core in work(this, &core, token) }
        }
        return (timer, token)
    }

    private func stopMotor(_ core: inout Core) {
        do {
            try motor.stop()
        } catch {
            emit(.motorFault(direction: nil, detail: error.description, source: nil), &core)
        }
    }

    private func stateFromSensor(_ cause: BoltStateCause, _ core: inout Core) {
        switch readPosition() {
        case .extended: setState(.locked, cause, &core)
        case .retracted: setState(.unlocked, cause, &core)
        case .between(let percent):
            setState(.notFullyLocked(position: .between(percent: percent)), cause, &core)
        case .fault: setState(.unknown, .fault, &core)
        }
    }

    // MARK: Commands

    private func handle(_ command: Command, _ core: inout Core) {
        guard core.started else {
            complete(
                command, .refused(.notStarted, direction: command.direction, source: command.source), &core)
            return
        }
        guard var move = core.move else {
            begin(command, &core)
            return
        }
        let old = move.command
        switch move.phase {
        case .moving where old.direction == command.direction:
            // Same way: the new command takes over the move in progress.
            complete(old, .superseded(direction: old.direction, source: old.source), &core)
            move.command = command
            core.move = move
        case .backingOff:
            move.timer?.cancel()
            core.move = nil
            complete(old, .superseded(direction: old.direction, source: old.source), &core)
            begin(command, &core)
        case .settling(.pending):
            if let pending = core.pending {
                complete(pending, .superseded(direction: pending.direction, source: pending.source), &core)
            }
            core.pending = command
        case .moving, .recovering, .settling(.recover):
            complete(old, .superseded(direction: old.direction, source: old.source), &core)
            move.command.completion = nil
            move.timer?.cancel()
            stopMotor(&core)
            core.pending = command
            settle(then: .pending, &move, &core)
            core.move = move
        }
    }

    /// Starts `command` from rest: checks the sensor, the door and the move check, then runs.
    private func begin(_ command: Command, _ core: inout Core) {
        let position = readPosition()
        if case .fault(let why) = position {
            setState(.unknown, .fault, &core)
            complete(
                command, .refused(.sensorFault(why), direction: command.direction, source: command.source),
                &core)
            return
        }
        let target: BoltPosition = command.direction == .extend ? .extended : .retracted
        if position == target {
            setState(command.direction == .extend ? .locked : .unlocked, .command(command.source), &core)
            if command.direction == .extend { core.lockOnClose = false }
            complete(command, success(command), &core)
            return
        }
        if let refusal = refusalReason(for: command, &core) {
            complete(command, .refused(refusal, direction: command.direction, source: command.source), &core)
            return
        }
        var move = Move(command: command)
        drive(&move, &core)
    }

    /// Why `command` must not start now, if it must not.
    private func refusalReason(for command: Command, _ core: inout Core) -> BoltRefusal? {
        if command.direction == .extend, let door {
            do {
                core.door = try door.state()
            } catch {
                return .sensorFault(error.description)
            }
            if core.door == .open { return .doorOpen }
        }
        if let reason = canMove?(command.direction, command.source) { return .vetoed(reason) }
        return nil
    }

    private func success(_ command: Command) -> BoltOutcome {
        command.direction == .extend ? .locked(source: command.source) : .unlocked(source: command.source)
    }

    /// Runs the motor for `move`'s phase (moving: the command's direction; recovering:
    /// retract) and arms the move timeout.
    private func drive(_ move: inout Move, _ core: inout Core) {
        let direction: BoltDirection
        if case .recovering = move.phase {
            direction = .retract
        } else {
            direction = move.command.direction
            move.phase = .moving
            move.startedAt = clock.now
            setState(direction == .extend ? .locking : .unlocking, .command(move.command.source), &core)
        }
        do {
            try motor.run(direction)
        } catch {
            stopMotor(&core)
            core.move = nil
            complete(
                move.command,
                .motorFault(direction: direction, detail: error.description, source: move.command.source),
                &core)
            stateFromSensor(.fault, &core)
            return
        }
        let (timer, token) = schedule(configuration.moveTimeout, &core) { this, core, token in
            guard core.move?.token == token else { return }
            this.failMove(.timeout, &core)
        }
        move.timer = timer
        move.token = token
        core.move = move
    }

    /// Stops here and continues with `next` after the settle time.
    private func settle(then next: Next, _ move: inout Move, _ core: inout Core) {
        move.phase = .settling(next)
        let (timer, token) = schedule(configuration.settleTime, &core) { this, core, token in
            guard core.move?.token == token else { return }
            this.settled(&core)
        }
        move.timer = timer
        move.token = token
    }

    private func settled(_ core: inout Core) {
        guard var move = core.move, case .settling(let next) = move.phase else { return }
        switch next {
        case .pending:
            core.move = nil
            if let pending = core.pending {
                core.pending = nil
                begin(pending, &core)
            } else {
                stateFromSensor(.sensor, &core)
            }
        case .recover:
            move.phase = .recovering
            drive(&move, &core)
        }
    }

    // MARK: Failures and recovery

    private func failMove(_ cause: BoltJamCause, _ core: inout Core) {
        guard var move = core.move else { return }
        move.timer?.cancel()
        stopMotor(&core)
        let position = readPosition()
        switch move.phase {
        case .moving:
            move.failures += 1
            move.stoppedAt = position
            move.cause = cause
            setState(.jammed(direction: move.command.direction, position: position), .jam(cause), &core)
            if case .fault = position {
                finishJam(move, resting: position, &core)
            } else if move.command.direction == .extend && configuration.retractAfterFailedLock {
                if position == .retracted {
                    core.move = move
                    recovered(&core)
                } else {
                    settle(then: .recover, &move, &core)
                    core.move = move
                }
            } else {
                finishJam(move, resting: position, &core)
            }
        case .recovering:
            if let refusal = move.abort {
                core.move = nil
                complete(
                    move.command, .refused(refusal, direction: .extend, source: move.command.source), &core)
                stateFromSensor(.jam(cause), &core)
            } else {
                finishJam(move, resting: position, &core)
            }
        case .settling, .backingOff:
            break
        }
    }

    private func finishJam(_ move: Move, resting: BoltPosition, _ core: inout Core) {
        core.move = nil
        let stoppedAt = move.stoppedAt ?? resting
        setState(.jammed(direction: move.command.direction, position: stoppedAt), .jam(move.cause), &core)
        complete(
            move.command,
            .jammed(
                direction: move.command.direction, stoppedAt: stoppedAt, restingAt: resting,
                attempts: move.failures,
                cause: move.cause, source: move.command.source), &core)
    }

    /// The bolt is back at the retracted end after a failed or abandoned lock.
    private func recovered(_ core: inout Core) {
        guard var move = core.move else { return }
        move.timer?.cancel()
        if let refusal = move.abort {
            core.move = nil
            complete(move.command, .refused(refusal, direction: .extend, source: move.command.source), &core)
            setState(.unlocked, .sensor, &core)
        } else if move.failures <= configuration.lockRetries {
            move.phase = .backingOff
            let (timer, token) = schedule(configuration.retryBackoff, &core) { this, core, token in
                guard core.move?.token == token else { return }
                this.retry(&core)
            }
            move.timer = timer
            move.token = token
            core.move = move
        } else {
            finishJam(move, resting: .retracted, &core)
        }
    }

    private func retry(_ core: inout Core) {
        guard var move = core.move, case .backingOff = move.phase else { return }
        if let refusal = refusalReason(for: move.command, &core) {
            core.move = nil
            complete(move.command, .refused(refusal, direction: .extend, source: move.command.source), &core)
            stateFromSensor(.sensor, &core)
            return
        }
        move.phase = .moving
        drive(&move, &core)
    }

    // MARK: Device events

    private func motorStopped(_ reason: MotorStopReason, _ core: inout Core) {
        guard reason != .requested else { return }
        guard let move = core.move else {
            if reason == .fault {
                emit(
                    .motorFault(direction: nil, detail: "the motor driver reported a fault", source: nil),
                    &core)
            }
            return
        }
        switch move.phase {
        case .moving, .recovering: failMove(.motorStopped(reason), &core)
        case .settling, .backingOff: break
        }
    }

    private func positionChanged(_ position: BoltPosition, _ core: inout Core) {
        guard core.started else { return }
        if case .fault(let why) = position {
            if let move = core.move {
                move.timer?.cancel()
                core.move = nil
                stopMotor(&core)
                complete(move.command, .sensorFault(why), &core)
                if let pending = core.pending {
                    core.pending = nil
                    complete(
                        pending,
                        .refused(.sensorFault(why), direction: pending.direction, source: pending.source),
                        &core)
                }
            } else {
                emit(.sensorFault(why), &core)
            }
            setState(.unknown, .fault, &core)
            return
        }
        if let move = core.move {
            switch move.phase {
            case .moving:
                let target: BoltPosition = move.command.direction == .extend ? .extended : .retracted
                guard position == target else { return }
                move.timer?.cancel()
                core.move = nil
                stopMotor(&core)
                if move.command.direction == .extend { core.lockOnClose = false }
                if let started = move.startedAt {
                    let now = clock.now
                    lastMove.withLock {
                        $0 = BoltMoveTiming(
                            direction: move.command.direction, duration: now - started,
                            attempt: move.failures + 1, completedAt: now)
                    }
                }
                setState(move.command.direction == .extend ? .locked : .unlocked, .sensor, &core)
                complete(move.command, success(move.command), &core)
            case .recovering:
                guard position == .retracted else { return }
                stopMotor(&core)
                recovered(&core)
            case .settling, .backingOff:
                break  // the bolt coasting after a stop
            }
            return
        }
        // No command in progress: a key or a thumb-turn.
        switch position {
        case .extended:
            setState(.locked, .manual, &core)
            emit(.locked(source: .manual), &core)
        case .retracted:
            setState(.unlocked, .manual, &core)
            emit(.unlocked(source: .manual), &core)
        case .between(let percent):
            let wasLocked = core.state == .locked
            setState(.notFullyLocked(position: .between(percent: percent)), .manual, &core)
            if wasLocked {
                emit(.notFullyLocked(position: .between(percent: percent), source: .manual), &core)
            }
        case .fault:
            break
        }
    }

    private func doorChanged(_ state: DoorState, _ core: inout Core) {
        guard core.started, state != core.door else { return }
        core.door = state
        switch state {
        case .open:
            armAjar(&core)
            if core.relockTimer != nil {
                core.relockTimer?.cancel()
                core.relockTimer = nil
                core.relockWaitsForDoor = true
            }
            abandonLock(&core)
        case .closed:
            core.ajarTimer?.cancel()
            core.ajarTimer = nil
            if core.relockWaitsForDoor {
                core.relockWaitsForDoor = false
                armRelock(&core)
            }
            if core.lockOnClose {
                core.lockOnClose = false
                handle(Command(direction: .extend, source: .auto), &core)
            }
        }
    }

    /// The door opened during a lock: stop, retract, and refuse.
    private func abandonLock(_ core: inout Core) {
        guard var move = core.move, move.command.direction == .extend else { return }
        move.abort = .doorOpen
        switch move.phase {
        case .moving:
            move.timer?.cancel()
            stopMotor(&core)
            if readPosition() == .retracted {
                core.move = move
                recovered(&core)
            } else {
                settle(then: .recover, &move, &core)
                core.move = move
            }
        case .backingOff:
            core.move = move
            recovered(&core)
        case .recovering, .settling:
            core.move = move
        }
    }

    private func armAjar(_ core: inout Core) {
        core.ajarTimer?.cancel()
        core.ajarTimer = nil
        guard let after = configuration.doorAjarAfter else { return }
        let openedAt = clock.now
        let (timer, token) = schedule(after, &core) { this, core, token in
            guard core.door == .open, core.ajarToken == token else { return }
            core.ajarTimer = nil
            this.emit(.doorAjar(openedAt: openedAt), &core)
        }
        core.ajarTimer = timer
        core.ajarToken = token
    }

    // MARK: Auto-relock

    private func armRelock(_ core: inout Core) {
        cancelRelock(&core)
        guard core.autoRelock, core.relockDelay > .zero, core.started else { return }
        if core.door == .open {
            core.relockWaitsForDoor = true
            return
        }
        let (timer, token) = schedule(core.relockDelay, &core) { this, core, token in
            guard core.relockToken == token else { return }
            core.relockTimer = nil
            guard core.state == .unlocked, core.move == nil, core.door != .open else { return }
            this.handle(Command(direction: .extend, source: .auto), &core)
        }
        core.relockTimer = timer
        core.relockToken = token
    }

    private func cancelRelock(_ core: inout Core) {
        core.relockTimer?.cancel()
        core.relockTimer = nil
        core.relockWaitsForDoor = false
    }
}
