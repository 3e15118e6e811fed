import BoltworkDrivers
import BoltworkHAL

/// How long a confirmed move took: from the motor start of the attempt that succeeded to the
/// sensor's confirmation of the end.
public struct BoltMoveTiming: Sendable, Hashable {
    /// Which way the bolt moved.
    public var direction: BoltDirection
    /// From the motor start of the successful attempt to the sensor's confirmation.
    public var duration: Duration
    /// Which attempt succeeded (1 unless a failed lock was retried).
    public var attempt: Int
    /// When the sensor confirmed the end, on the controller's clock.
    public var completedAt: MonotonicInstant

    /// Creates a timing.
    public init(direction: BoltDirection, duration: Duration, attempt: Int, completedAt: MonotonicInstant) {
        self.direction = direction
        self.duration = duration
        self.attempt = attempt
        self.completedAt = completedAt
    }
}

/// What a ``AuditAction/locked`` or ``AuditAction/unlocked`` event records about a motor move,
/// in its detail text: the throw time, the attempt, and the battery reading taken just before
/// the move. `boltctl doctor` reads it back to spot a bolt that is getting slower (a sagging
/// door, a misaligned strike) and a fuel gauge that stopped moving.
///
/// The text reads `moved in 820 ms; battery 76.4 %, 3912 mV`, with ` (attempt 2)` after the
/// time when a retry was needed. Hand turns and commands that found the bolt already at its
/// end record no move, so their detail stays empty.
public struct BoltMoveReport: Sendable, Hashable {
    /// The throw time in milliseconds.
    public var durationMilliseconds: Int
    /// Which attempt succeeded (1 unless a failed lock was retried).
    public var attempt: Int
    /// The battery's state of charge before the move, when there is a gauge.
    public var batteryPercent: Double?
    /// The battery's voltage before the move, when there is a gauge.
    public var batteryMillivolts: Int?

    /// Creates a report.
    public init(
        durationMilliseconds: Int, attempt: Int = 1, batteryPercent: Double? = nil,
        batteryMillivolts: Int? = nil
    ) {
        self.durationMilliseconds = durationMilliseconds
        self.attempt = attempt
        self.batteryPercent = batteryPercent
        self.batteryMillivolts = batteryMillivolts
    }

    /// A report from a move's timing and the battery reading before it.
    public init(_ timing: BoltMoveTiming, battery: BatteryReading?) {
        let (seconds, attoseconds) = timing.duration.components
        self.init(
            durationMilliseconds: Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000),
            attempt: timing.attempt, batteryPercent: battery?.percent, batteryMillivolts: battery?.millivolts)
    }

    /// The audit detail text (see the type's documentation).
    public var auditDetail: String {
        var text = "moved in \(durationMilliseconds) ms"
        if attempt > 1 { text += " (attempt \(attempt))" }
        if let batteryPercent {
            text += "; battery \((batteryPercent * 10).rounded() / 10) %"
            if let batteryMillivolts { text += ", \(batteryMillivolts) mV" }
        }
        return text
    }

    /// Reads a report back from an audit detail; nil when the detail records no move.
    public init?(auditDetail detail: String) {
        guard let duration = Self.number(after: "moved in ", in: detail).flatMap({ Int($0) }) else {
            return nil
        }
        durationMilliseconds = duration
        attempt = Self.number(after: "(attempt ", in: detail).flatMap { Int($0) } ?? 1
        batteryPercent = Self.number(after: "battery ", in: detail).flatMap { Double($0) }
        batteryMillivolts =
            batteryPercent == nil ? nil : Self.number(after: " %, ", in: detail).flatMap { Int($0) }
    }

    /// The number (digits, a point, a minus) right after `prefix`.
    private static func number(after prefix: String, in text: String) -> Substring? {
        guard let start = text.range(of: prefix)?.upperBound else { return nil }
        let rest = text[start...]
        let end = rest.firstIndex { !($0.isNumber || $0 == "." || $0 == "-") } ?? rest.endIndex
        let number = rest[rest.startIndex..<end]
        return number.isEmpty ? nil : number
    }
}
