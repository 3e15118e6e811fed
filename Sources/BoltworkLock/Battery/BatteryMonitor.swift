import BoltworkDrivers
import BoltworkHAL

/// The battery policy: when to warn, when to raise the alarm, and when to refuse a motor move.
///
/// Default policy, and why:
/// - **Low at 25 %** (as commercial locks warn): weeks of warning before anything changes.
/// - **Critical at 10 %**: the alarm (raised once per crossing, as every level); every move
///   still runs.
/// - **Reserve at 5 % or a resting cell voltage under 3.45 V**: motor moves are refused with
///   "insufficient battery". A move that starts must finish: the motor's stall current sags the
///   cell, and a brown-out mid-throw would leave the bolt between ends, neither locked nor
///   open. The reserve keeps enough charge for the moves already under way and for the
///   controller to keep reporting; the way in is the mechanical key or the emergency power
///   input. The refusal is recorded, so `boltctl` and the log say why.
/// - **Hysteresis of 2 points**: a reading wobbling around a threshold raises one event, not
///   one per reading.
/// - **A gauge fault** (an I2C error or an implausible reading) is its own alarm, raised once
///   per fault episode. Moves are not refused on a gauge fault: refusing would lock people out
///   because of a wire, and the fault is already reported for the maker to fix.
public struct BatteryPolicy: Sendable, Hashable {
    /// Warn below this state of charge (percent).
    public var lowPercent: Double
    /// Alarm below this state of charge (percent).
    public var criticalPercent: Double
    /// Refuse motor moves below this state of charge (percent).
    public var reservePercent: Double
    /// Refuse motor moves below this resting voltage per cell (millivolts).
    public var reserveCellMillivolts: Int
    /// Cells in series (2 for a MAX17049 pack).
    public var cells: Int
    /// Points above a threshold a reading must rise to clear it.
    public var hysteresisPercent: Double
    /// How often to read the gauge while nothing else asks (moves read it anyway).
    public var readInterval: Duration

    /// The default policy (see the type's documentation).
    public init(
        lowPercent: Double = 25, criticalPercent: Double = 10, reservePercent: Double = 5,
        reserveCellMillivolts: Int = 3450, cells: Int = 1, hysteresisPercent: Double = 2,
        readInterval: Duration = .seconds(15 * 60)
    ) {
        self.lowPercent = lowPercent
        self.criticalPercent = criticalPercent
        self.reservePercent = reservePercent
        self.reserveCellMillivolts = reserveCellMillivolts
        self.cells = cells
        self.hysteresisPercent = hysteresisPercent
        self.readInterval = readInterval
    }
}

/// The battery as the policy sees it.
public enum BatteryLevel: String, Sendable, Hashable, Codable, Comparable {
    /// Above the low threshold.
    case normal
    /// Below the low threshold.
    case low
    /// Below the critical threshold.
    case critical
    /// Below the reserve: moves are refused.
    case reserve

    private var rank: Int {
        switch self {
        case .normal: 0
        case .low: 1
        case .critical: 2
        case .reserve: 3
        }
    }

    /// Orders from healthy to empty.
    public static func < (lhs: BatteryLevel, rhs: BatteryLevel) -> Bool { lhs.rank < rhs.rank }
}

/// Something the battery monitor reports.
public enum BatteryNotice: Sendable, Hashable {
    /// The level changed (crossing a threshold either way).
    case levelChanged(BatteryLevel, BatteryReading)
    /// The gauge failed; the message says what to check.
    case gaugeFault(String)
    /// The gauge works again after a fault.
    case gaugeRecovered(BatteryReading)
}

/// Reads the fuel gauge on the clock, classifies readings by ``BatteryPolicy``, reports
/// crossings and faults once, and answers whether a motor move may start.
public final class BatteryMonitor: Sendable {
    private struct State {
        var level: BatteryLevel = .normal
        var latest: BatteryReading?
        var faulted: String?
        var timer: (any ScheduledWork)?
        var handler: (@Sendable (BatteryNotice) -> Void)?
        var running = false
    }

    /// The policy in force.
    public let policy: BatteryPolicy
    private let gauge: any BatteryGauge
    private let clock: any BoltClock
    private let state = Protected(State())

    /// Monitors `gauge` on `clock` with `policy`.
    public init(gauge: any BatteryGauge, clock: any BoltClock, policy: BatteryPolicy = BatteryPolicy()) {
        self.gauge = gauge
        self.clock = clock
        self.policy = policy
    }

    /// Installs the function that receives notices (on the clock).
    public func setNoticeHandler(_ handler: (@Sendable (BatteryNotice) -> Void)?) {
        state.withLock { $0.handler = handler }
    }

    /// Reads the gauge now and then every ``BatteryPolicy/readInterval``.
    public func start() {
        state.withLock { $0.running = true }
        clock.execute { [weak self] in self?.tick() }
    }

    /// Stops the periodic reads.
    public func stop() {
        let timer = state.withLock { state -> (any ScheduledWork)? in
            state.running = false
            defer { state.timer = nil }
            return state.timer
        }
        timer?.cancel()
    }

    /// The level from the latest reading.
    public var level: BatteryLevel { state.withLock { $0.level } }

    /// The latest good reading.
    public var latestReading: BatteryReading? { state.withLock { $0.latest } }

    /// The current gauge fault, if any.
    public var fault: String? { state.withLock { $0.faulted } }

    /// Reads the gauge now (a move is about to start, or the ALRT pin fired) and reports any
    /// change. Returns the reading, or nil on a gauge fault.
    @discardableResult
    public func refresh() -> BatteryReading? {
        let notices: [BatteryNotice]
        let reading: BatteryReading?
        do {
            let fresh = try gauge.read()
            reading = fresh
            notices = state.withLock { state -> [BatteryNotice] in
                var notices: [BatteryNotice] = []
                if state.faulted != nil {
                    state.faulted = nil
                    notices.append(.gaugeRecovered(fresh))
                }
                state.latest = fresh
                let next = classify(fresh, previous: state.level)
                if next != state.level {
                    state.level = next
                    notices.append(.levelChanged(next, fresh))
                }
                return notices
            }
        } catch {
            reading = nil
            let message = "\(gauge.name): \(error)"
            notices = state.withLock { state -> [BatteryNotice] in
                guard state.faulted == nil else { return [] }
                state.faulted = message
                return [.gaugeFault(message)]
            }
        }
        let handler = state.withLock { $0.handler }
        for notice in notices { handler?(notice) }
        return reading
    }

    /// Why a motor move may not start now, or nil when it may. Reads the gauge first.
    public func moveRefusal() -> String? {
        guard let reading = refresh() else { return nil }
        guard classify(reading, previous: .normal) == .reserve else { return nil }
        let perCell = reading.millivolts / max(1, policy.cells)
        return
            "battery at \(Int(reading.percent.rounded())) % (\(perCell) mV per cell) is below the reserve "
            + "(\(Int(policy.reservePercent)) % / \(policy.reserveCellMillivolts) mV): replace or charge it; "
            + "use the key or the emergency power input meanwhile"
    }

    /// The level for `reading`, given the level before it (for hysteresis).
    public func classify(_ reading: BatteryReading, previous: BatteryLevel) -> BatteryLevel {
        let perCell = reading.millivolts / max(1, policy.cells)
        if reading.percent < policy.reservePercent || perCell < policy.reserveCellMillivolts {
            return .reserve
        }
        let raw: BatteryLevel =
            reading.percent < policy.criticalPercent
            ? .critical : reading.percent < policy.lowPercent ? .low : .normal
        guard raw < previous else { return raw }
        // Rising: clear a threshold only once the reading is clearly above it.
        let margin = policy.hysteresisPercent
        switch previous {
        case .reserve:
            return reading.percent < policy.reservePercent + margin ? .reserve : raw
        case .critical:
            return reading.percent < policy.criticalPercent + margin ? .critical : raw
        case .low:
            return reading.percent < policy.lowPercent + margin ? .low : raw
        case .normal:
            return raw
        }
    }

    private func tick() {
        guard state.withLock({ $0.running }) else { return }
        refresh()
        let timer = clock.schedule(after: policy.readInterval) { [weak self] in self?.tick() }
        let keep = state.withLock { state -> Bool in
            guard state.running else { return false }
            state.timer = timer
            return true
        }
        if !keep { timer.cancel() }
    }
}
