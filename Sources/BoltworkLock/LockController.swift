import BoltworkDrivers
import BoltworkHAL
import Foundation

/// What the lock looks like right now, for `boltctl status`, the simulator and integrations.
public struct LockStatus: Sendable, Hashable {
    /// The bolt's state.
    public var bolt: BoltState
    /// The door, when there is a contact.
    public var door: DoorState?
    /// The latest battery reading.
    public var battery: BatteryReading?
    /// The battery level per the policy.
    public var batteryLevel: BatteryLevel?
    /// The gauge fault, if any.
    public var gaugeFault: String?
    /// The operating mode.
    public var mode: OperatingMode
    /// The wrong-code lockout state.
    public var lockout: LockoutState
    /// Whether an admin code exists (keypad entry is refused until one does).
    public var hasAdminCode: Bool
}

/// The result of a lock or unlock request.
public enum LockResult: Sendable, Hashable {
    /// The bolt reached the end.
    case done(BoltState)
    /// Refused before the motor moved; the audit action says why.
    case refused(AuditAction, String)
    /// The bolt did not reach the end.
    case failed(BoltState, String)
}

/// Notices for the daemon's log (never a code).
public enum LockNotice: Sendable, Hashable {
    /// An audit event was recorded.
    case recorded(AuditEvent)
    /// Recording failed: the event is not acknowledged.
    case storeFailed(String)
    /// A part failed (keypad, feedback, access layer).
    case fault(String)
}

/// The lock: keypad entry and remote requests decided by the access layer, bolt moves made
/// safely by the bolt controller, the battery policy's veto, and every operation, refusal and
/// alarm recorded durably in the audit log before it is acknowledged.
///
/// Everything runs on the clock; remote requests hop onto it.
public final class LockController: Sendable {
    /// The user whose code started the unlock in progress, until that command's outcome.
    private struct PendingUser {
        var id: UserID
        var name: String
        var source: OperationSource
        var token: UInt64
    }

    private struct State {
        var pendingUser: PendingUser?
        var tokens: UInt64 = 0
        var notice: (@Sendable (LockNotice) -> Void)?
        var started = false
        var reportedSequence: Int64 = 0
    }

    /// The access layer.
    public let access: AccessController
    /// The bolt state machine.
    public let bolt: BoltController
    /// The battery monitor, when there is a gauge.
    public let battery: BatteryMonitor?
    private let keypad: (any KeypadDevice)?
    private let collector: KeyCollector?
    private let buzzer: FeedbackOutput?
    private let led: FeedbackOutput?
    private let door: (any DoorSensor)?
    private let store: any LockStore
    private let wallClock: any WallClock
    private let clock: any BoltClock
    private let state = Protected(State())

    /// Wires the parts together. The PIN entry on the keypad uses the access layer's length
    /// bounds, `#` to submit and `*` to clear.
    public init(
        access: AccessController, bolt: BoltController, battery: BatteryMonitor?, keypad: (any KeypadDevice)?,
        door: (any DoorSensor)?, buzzer: FeedbackOutput?, led: FeedbackOutput?, store: any LockStore,
        wallClock: any WallClock, clock: any BoltClock, entryTimeout: Duration = .seconds(5)
    ) throws(DeviceError) {
        self.access = access
        self.bolt = bolt
        self.battery = battery
        self.keypad = keypad
        self.door = door
        self.buzzer = buzzer
        self.led = led
        self.store = store
        self.wallClock = wallClock
        self.clock = clock
        if keypad != nil {
            let bounds = access.configuration.pinLengths
            collector = try KeyCollector(
                clock: clock,
                configuration: KeyCollector.Configuration(
                    minimumLength: bounds.minimum, maximumLength: bounds.maximum, timeout: entryTimeout))
        } else {
            collector = nil
        }
    }

    /// Receives notices for the log: every audit record as it is committed (by any part of
    /// the lock), store failures and faults.
    public func setNoticeHandler(_ handler: (@Sendable (LockNotice) -> Void)?) {
        let latest = (try? store.auditRecords(AuditQuery(limit: 1)))?.last?.sequence ?? 0
        state.withLock { state in
            state.notice = handler
            state.reportedSequence = latest
        }
    }

    /// Reports the audit records committed since the last report (the access layer commits its
    /// decisions itself).
    public func reportNewRecords() {
        let after = state.withLock { $0.reportedSequence }
        guard let records = try? store.auditRecords(AuditQuery(afterSequence: after)), let last = records.last
        else {
            return
        }
        let handler = state.withLock { state -> (@Sendable (LockNotice) -> Void)? in
            guard last.sequence > state.reportedSequence else { return nil }
            state.reportedSequence = last.sequence
            return state.notice
        }
        for record in records { handler?(.recorded(record.event)) }
    }

    /// Reads the sensors, records the start, and begins listening to the keypad, the bolt and
    /// the battery. Returns the bolt state found.
    @discardableResult
    public func start() -> BoltState {
        bolt.setEventHandler { [weak self] outcome, time in self?.handle(outcome, at: time) }
        let found = bolt.start()
        let mode = (try? access.mode()) ?? .normal
        bolt.setAutoRelock(enabled: mode != .passage)
        let adminCode = (try? access.hasAdminCode()) ?? false
        record(
            AuditEvent(
                time: wallClock.now, action: .started,
                detail:
                    "bolt \(found), mode \(mode.rawValue)\(adminCode ? "" : "; no admin code set: keypad entry is disabled")"
            ))
        if let collector, let keypad {
            collector.setOutcomeHandler { [weak self] outcome, _ in self?.handle(outcome) }
            collector.setProgressHandler { [weak self] _ in self?.feedback(.keyClick) }
            keypad.setKeyHandler { event in collector.handle(event) }
        }
        if let battery {
            battery.setNoticeHandler { [weak self] notice in self?.handle(notice) }
            battery.start()
        }
        state.withLock { $0.started = true }
        return found
    }

    /// Stops listening, finishes or safely stops a move, and records the stop.
    public func shutdown() {
        keypad?.setKeyHandler(nil)
        battery?.stop()
        bolt.shutdown()
        record(AuditEvent(time: wallClock.now, action: .stopped, detail: "bolt \(bolt.state)"))
    }

    /// The lock's state now.
    public func status() -> LockStatus {
        LockStatus(
            bolt: bolt.state, door: try? door?.state(), battery: battery?.latestReading,
            batteryLevel: battery?.level,
            gaugeFault: battery?.fault, mode: (try? access.mode()) ?? .normal,
            lockout: (try? access.lockoutState()) ?? LockoutState(),
            hasAdminCode: (try? access.hasAdminCode()) ?? false)
    }

    // MARK: Remote requests

    /// Locks (from `source`, e.g. remote or button). Refused into an open door, in passage
    /// mode or on a dying battery; the result comes when the bolt is confirmed or the move failed.
    public func lock(source: OperationSource) async -> LockResult {
        await withCheckedContinuation { continuation in
            requestLock(source: source) { continuation.resume(returning: $0) }
        }
    }

    /// Unlocks. With `code` the access layer decides (wrong codes count toward the lockout);
    /// without, the caller is trusted by the control socket's permissions (privacy mode still
    /// refuses).
    public func unlock(source: OperationSource, code: String? = nil) async -> LockResult {
        await withCheckedContinuation { continuation in
            requestUnlock(source: source, code: code) { continuation.resume(returning: $0) }
        }
    }

    /// Starts a lock from `source` without waiting for it: the same rules and records as
    /// ``lock(source:)``, with the result passed to `completion` (on the lock's clock) once the
    /// bolt is confirmed or the move failed. For callers that run on the clock themselves, such
    /// as the simulator.
    public func requestLock(
        source: OperationSource, completion: (@Sendable (LockResult) -> Void)? = nil
    ) {
        if (try? access.mode()) == .passage {
            let refusal = refuseByMode("the lock is in passage mode: it stays unlocked", source: source)
            completion?(refusal)
            return
        }
        bolt.lock(source: source) { [weak self] outcome in
            guard let self else { return }
            completion?(self.result(outcome))
        }
    }

    /// Starts an unlock from `source` without waiting for it: the same rules and records as
    /// ``unlock(source:code:)``, with the result passed to `completion` once the bolt is
    /// confirmed, the move failed or the request was refused.
    public func requestUnlock(
        source: OperationSource, code: String? = nil, completion: (@Sendable (LockResult) -> Void)? = nil
    ) {
        if let code {
            let decision: AccessDecision
            do {
                decision = try access.authorize(digits: code, source: source)
            } catch {
                completion?(.refused(.invalidCode, "the access layer failed: \(error)"))
                return
            }
            reportNewRecords()
            switch decision {
            case .refused(let refusal):
                completion?(.refused(refusal.reason, refusal.detail))
            case .granted(let user, _):
                unlock(for: user, source: source) { [weak self] outcome in
                    guard let self else { return }
                    completion?(self.result(outcome))
                }
            }
            return
        }
        if (try? access.mode()) == .privacy, source != .button {
            completion?(refuseByMode("privacy mode: entry from outside is refused", source: source))
            return
        }
        bolt.unlock(source: source) { [weak self] outcome in
            guard let self else { return }
            completion?(self.result(outcome))
        }
    }

    /// Records a refusal by the operating mode and returns it.
    private func refuseByMode(_ detail: String, source: OperationSource) -> LockResult {
        record(AuditEvent(time: wallClock.now, action: .refusedByMode, source: source, detail: detail))
        return .refused(.refusedByMode, detail)
    }

    /// Unlocks for `user`, whose code was granted: the outcome of this command (and only this
    /// one) is recorded with the user.
    private func unlock(
        for user: User, source: OperationSource, completion: (@Sendable (BoltOutcome) -> Void)? = nil
    ) {
        let token = state.withLock { state -> UInt64 in
            state.tokens += 1
            state.pendingUser = PendingUser(id: user.id, name: user.name, source: source, token: state.tokens)
            return state.tokens
        }
        bolt.unlock(source: source) { [weak self] outcome in
            // The event handler has recorded the outcome by now.
            self?.state.withLock { state in
                if state.pendingUser?.token == token { state.pendingUser = nil }
            }
            completion?(outcome)
        }
    }

    /// The user whose code started the unlock from `source` in progress, if any.
    private func pendingUser(for source: OperationSource) -> PendingUser? {
        state.withLock { state in state.pendingUser?.source == source ? state.pendingUser : nil }
    }

    /// Changes the operating mode (an admin action, recorded by the access layer).
    public func setMode(_ mode: OperatingMode, by actor: AdminActor) throws(AccessError) {
        try access.setMode(mode, by: actor)
        reportNewRecords()
        bolt.setAutoRelock(enabled: mode != .passage)
        if mode == .passage { bolt.unlock(source: .remote) }
    }

    private func result(_ outcome: BoltOutcome) -> LockResult {
        switch outcome {
        case .locked, .unlocked: return .done(bolt.state)
        case .refused(.doorOpen, _, _): return .refused(.doorOpen, "the door is open")
        case .refused(.vetoed(let reason), _, _): return .refused(.insufficientBattery, reason)
        case .refused(let refusal, _, _): return .failed(bolt.state, refusal.description)
        case .jammed(let direction, let stoppedAt, _, _, _, _):
            return .failed(
                bolt.state, "jammed while \(direction == .extend ? "locking" : "unlocking") at \(stoppedAt)")
        case .notFullyLocked(let position, _): return .failed(bolt.state, "not fully locked (\(position))")
        case .superseded: return .failed(bolt.state, "superseded by a later command")
        case .sensorFault(let detail): return .failed(bolt.state, "sensor fault: \(detail)")
        case .motorFault(_, let detail, _): return .failed(bolt.state, "motor fault: \(detail)")
        case .doorAjar: return .done(bolt.state)
        }
    }

    // MARK: Events

    private func handle(_ outcome: KeyCollector.Outcome) {
        guard case .submitted(let entry) = outcome else {
            if case .tooShort = outcome { feedback(.refused) }
            if case .tooLong = outcome { feedback(.refused) }
            return
        }
        let decision: AccessDecision
        do {
            decision = try access.authorize(entry, source: .keypad)
        } catch {
            notify(.fault("keypad entry could not be decided: \(error)"))
            feedback(.refused)
            return
        }
        reportNewRecords()
        switch decision {
        case .granted(let user, _):
            feedback(.accepted)
            unlock(for: user, source: .keypad)
        case .refused(let refusal):
            feedback(
                refusal.reason == .lockedOut || refusal.reason == .keypadDisabled ? .lockedOut : .refused)
        }
    }

    private func handle(_ outcome: BoltOutcome, at time: MonotonicInstant) {
        let now = wallClock.now
        switch outcome {
        case .locked(let source):
            record(
                AuditEvent(time: now, action: .locked, source: source, detail: moveDetail(.extend, at: time)))
        case .unlocked(let source):
            let user = pendingUser(for: source)
            record(
                AuditEvent(
                    time: now, action: .unlocked, source: source, userID: user?.id, userName: user?.name,
                    detail: moveDetail(.retract, at: time)))
        case .jammed(let direction, let stoppedAt, let restingAt, let attempts, _, let source):
            let user = direction == .retract ? failedUnlock(from: source) : nil
            record(
                AuditEvent(
                    time: now, action: .jammed, source: source, userID: user?.id, userName: user?.name,
                    detail:
                        "\(direction == .extend ? "locking" : "unlocking") stopped at \(stoppedAt) after \(attempts) attempt(s); bolt now \(restingAt)"
                ))
        case .notFullyLocked(let position, let source):
            record(AuditEvent(time: now, action: .notFullyLocked, source: source, detail: "bolt \(position)"))
        case .refused(.doorOpen, _, let source):
            record(
                AuditEvent(
                    time: now, action: .doorOpen, source: source,
                    detail: "not throwing the bolt into an open door"))
        case .refused(.vetoed(let reason), let direction, let source):
            let user = direction == .retract ? failedUnlock(from: source) : nil
            record(
                AuditEvent(
                    time: now, action: .insufficientBattery, source: source, userID: user?.id,
                    userName: user?.name, detail: reason))
        case .refused(let refusal, let direction, let source):
            let user = direction == .retract ? failedUnlock(from: source) : nil
            record(
                AuditEvent(
                    time: now, action: .sensorFault, source: source, userID: user?.id, userName: user?.name,
                    detail: refusal.description))
        case .sensorFault(let detail):
            record(AuditEvent(time: now, action: .sensorFault, detail: detail))
        case .motorFault(let direction, let detail, let source):
            let user = direction == .retract ? source.flatMap(failedUnlock(from:)) : nil
            record(
                AuditEvent(
                    time: now, action: .sensorFault, source: source, userID: user?.id, userName: user?.name,
                    detail: "motor: \(detail)"))
        case .doorAjar:
            record(AuditEvent(time: now, action: .doorAjar, detail: "the door has been open too long"))
        case .superseded:
            break
        }
    }

    /// An unlock from `source` failed: the user whose code started it, if any; someone at the
    /// keypad, who heard the code accepted, hears that the door did not open.
    private func failedUnlock(from source: OperationSource) -> PendingUser? {
        let user = pendingUser(for: source)
        if user != nil, source == .keypad { feedback(.refused) }
        return user
    }

    /// The move's throw time and the battery before it, when the bolt controller confirmed a
    /// motor move in `direction` at `time` (empty for a hand turn or a bolt already there).
    private func moveDetail(_ direction: BoltDirection, at time: MonotonicInstant) -> String {
        guard let move = bolt.lastCompletedMove, move.completedAt == time, move.direction == direction else {
            return ""
        }
        return BoltMoveReport(move, battery: battery?.latestReading).auditDetail
    }

    private func handle(_ notice: BatteryNotice) {
        let now = wallClock.now
        switch notice {
        case .levelChanged(.low, let reading):
            record(
                AuditEvent(
                    time: now, action: .batteryLow, detail: "battery at \(Int(reading.percent.rounded())) %"))
        case .levelChanged(.critical, let reading):
            record(
                AuditEvent(
                    time: now, action: .batteryCritical,
                    detail: "battery at \(Int(reading.percent.rounded())) %"))
        case .levelChanged(.reserve, let reading):
            record(
                AuditEvent(
                    time: now, action: .batteryCritical,
                    detail:
                        "battery at \(Int(reading.percent.rounded())) %, below the reserve: motor moves are refused"
                ))
        case .levelChanged(.normal, _), .gaugeRecovered:
            break
        case .gaugeFault(let detail):
            record(AuditEvent(time: now, action: .gaugeFault, detail: detail))
        }
    }

    private func feedback(_ pattern: FeedbackPattern) {
        for output in [buzzer, led].compactMap({ $0 }) {
            do {
                try output.play(pattern)
            } catch {
                notify(.fault("\(error)"))
            }
        }
    }

    private func record(_ event: AuditEvent) {
        do {
            try store.commit(StoreChange(events: [event]))
            reportNewRecords()
        } catch {
            notify(.storeFailed("\(event.action.rawValue): \(error)"))
        }
    }

    /// Reports a fault of a part outside the controller (retention, feedback) to the log.
    public func reportFault(_ detail: String) {
        notify(.fault(detail))
    }

    private func notify(_ notice: LockNotice) {
        state.withLock { $0.notice }?(notice)
    }
}
