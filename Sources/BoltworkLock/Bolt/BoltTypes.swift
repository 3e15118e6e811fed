import BoltworkDrivers
import BoltworkHAL

/// What the bolt controller believes about the bolt. Only a sensor reading makes it locked or
/// unlocked: the motor having run is never enough.
public enum BoltState: Sendable, Hashable, CustomStringConvertible {
    /// Not known yet (before ``BoltController/start()``) or not knowable (the sensor fails).
    case unknown
    /// The sensor confirms full extension.
    case locked
    /// The sensor confirms full retraction.
    case unlocked
    /// The motor is throwing the bolt.
    case locking
    /// The motor is pulling the bolt back.
    case unlocking
    /// A move in `direction` did not reach its end; `position` is where the bolt stopped.
    case jammed(direction: BoltDirection, position: BoltPosition)
    /// The bolt is neither fully thrown nor fully retracted, with no move in progress (found so
    /// at start, or left so by hand).
    case notFullyLocked(position: BoltPosition)

    /// `locked`, `jammed while extending at between ends`, ...
    public var description: String {
        switch self {
        case .unknown: "unknown"
        case .locked: "locked"
        case .unlocked: "unlocked"
        case .locking: "locking"
        case .unlocking: "unlocking"
        case .jammed(let direction, let position):
            "jammed while \(direction == .extend ? "locking" : "unlocking") at \(position)"
        case .notFullyLocked(let position): "not fully locked (\(position))"
        }
    }
}

/// Why a move failed.
public enum BoltJamCause: Sendable, Hashable {
    /// The sensor did not confirm the end within the move timeout.
    case timeout
    /// The motor driver ended the run by itself (maximum run time, stall input, GPIO fault).
    case motorStopped(MotorStopReason)
}

/// What made the state change.
public enum BoltStateCause: Sendable, Hashable {
    /// ``BoltController/start()`` read the sensors.
    case startup
    /// A command started a move (or found the bolt already at its end).
    case command(OperationSource)
    /// The sensor confirmed the end of a move, or the end of a recovery.
    case sensor
    /// The bolt moved with no command in progress (a key or thumb-turn).
    case manual
    /// A move failed.
    case jam(BoltJamCause)
    /// The sensor or the motor failed.
    case fault
}

/// One change of ``BoltState``.
public struct BoltStateChange: Sendable, Hashable {
    /// The new state.
    public var state: BoltState
    /// The state before.
    public var previous: BoltState
    /// When it changed, on the controller's clock.
    public var timestamp: MonotonicInstant
    /// What made it change.
    public var cause: BoltStateCause

    /// Creates a change.
    public init(state: BoltState, previous: BoltState, timestamp: MonotonicInstant, cause: BoltStateCause) {
        self.state = state
        self.previous = previous
        self.timestamp = timestamp
        self.cause = cause
    }
}

/// Why a command was refused before the motor started.
public enum BoltRefusal: Sendable, Hashable, CustomStringConvertible {
    /// The door is open: the bolt is never thrown into an open door.
    case doorOpen
    /// The injected move check (battery policy, for example) vetoed the move, with its reason.
    case vetoed(String)
    /// The bolt or door sensor cannot be read or contradicts itself.
    case sensorFault(String)
    /// ``BoltController/start()`` has not run yet, so the bolt's position is not known.
    case notStarted

    /// A short reason for people.
    public var description: String {
        switch self {
        case .doorOpen: "the door is open"
        case .vetoed(let reason): reason
        case .sensorFault(let detail): "sensor fault: \(detail)"
        case .notStarted: "the bolt controller has not been started"
        }
    }
}

/// What happened to the bolt: the outcome of a command (what ``BoltController/lock(source:)``
/// returns) or something the controller saw with no command (a manual turn, a door left
/// open). The layer above turns these into audit events.
public enum BoltOutcome: Sendable, Hashable {
    /// The sensor confirmed full extension; `source` is ``OperationSource/manual`` for a hand
    /// turn seen with no command in progress.
    case locked(source: OperationSource)
    /// The sensor confirmed full retraction; `source` is ``OperationSource/manual`` for a
    /// hand turn.
    case unlocked(source: OperationSource)
    /// A move in `direction` failed: the bolt stopped at `stoppedAt` (on the last attempt),
    /// after `attempts` attempts, and now rests at `restingAt` (after retracting to a known end
    /// when a lock failed and the sensor allowed it). The motor is stopped.
    case jammed(
        direction: BoltDirection, stoppedAt: BoltPosition, restingAt: BoltPosition, attempts: Int,
        cause: BoltJamCause, source: OperationSource)
    /// The bolt is neither fully thrown nor fully retracted with no move in progress: found so at
    /// start (`source` nil) or moved off full extension by hand (`source` manual).
    case notFullyLocked(position: BoltPosition, source: OperationSource?)
    /// A command was refused before the motor started, or a lock was abandoned (and the bolt
    /// retracted) because the door opened during it.
    case refused(BoltRefusal, direction: BoltDirection, source: OperationSource)
    /// A later command replaced this one before it completed (the last command wins).
    case superseded(direction: BoltDirection, source: OperationSource)
    /// The bolt sensor contradicts itself or cannot be read: the state is unknown.
    case sensorFault(String)
    /// The motor driver refused a run or failed to write its lines (it is in its safe state).
    case motorFault(direction: BoltDirection?, detail: String, source: OperationSource?)
    /// The door has been open longer than the configured ajar time, since `openedAt`
    /// (reported once per opening).
    case doorAjar(openedAt: MonotonicInstant)
}
