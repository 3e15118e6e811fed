import BoltworkHAL

/// A Li-ion cell for simulated fuel gauges: a capacity, an open-circuit-voltage curve, an
/// internal resistance and the loads drawing on it.
///
/// Charge is computed lazily from the clock: each read integrates the present load over the
/// time since the last change, so nothing ticks while nobody looks, and hours of discharge
/// take one `advance(by:)`. The terminal voltage is the open-circuit voltage of the present
/// state of charge minus load × internal resistance, so a motor run sags it at once.
///
/// Loads are named (``setLoad(milliamps:source:)``): a lock-mechanism model sets the
/// `motor` load while the motor runs and clears it when it stops, on top of the board's
/// ``baseLoadMilliamps``. A negative load charges the cell.
public final class SimulatedBattery: Sendable {
    /// Open-circuit voltage of a typical Li-ion (LiCoO2/NMC) cell at rest, in millivolts, by
    /// state of charge in percent; values between points are interpolated linearly.
    public static let liIonCurve: [(percent: Double, millivolts: Double)] = [
        (0, 3000), (5, 3450), (10, 3600), (20, 3690), (30, 3740), (40, 3780), (50, 3820),
        (60, 3870), (70, 3930), (80, 4000), (90, 4080), (100, 4200),
    ]

    /// Capacity in milliampere-hours.
    public let capacityMilliampHours: Double
    /// Internal resistance in ohms (millivolts of sag per milliampere of load).
    public let internalResistanceOhms: Double
    /// The load present whatever else runs (the board itself), in milliamperes.
    public let baseLoadMilliamps: Double
    /// The clock the discharge follows.
    public let clock: any BoltClock

    private let state: Protected<State>

    private struct State {
        var percent: Double
        var since: MonotonicInstant
        var loads: [String: Double] = [:]
        var observers: [UInt64: @Sendable () -> Void] = [:]
        var nextObserver: UInt64 = 0
    }

    /// A cell of `capacityMilliampHours` at `stateOfCharge` percent, with an internal
    /// resistance and a constant base load.
    public init(
        clock: any BoltClock, capacityMilliampHours: Double = 2000, stateOfCharge: Double = 100,
        internalResistanceOhms: Double = 0.15, baseLoadMilliamps: Double = 0
    ) {
        self.clock = clock
        self.capacityMilliampHours = max(1, capacityMilliampHours)
        self.internalResistanceOhms = max(0, internalResistanceOhms)
        self.baseLoadMilliamps = baseLoadMilliamps
        self.state = Protected(State(percent: min(100, max(0, stateOfCharge)), since: clock.now))
    }

    // MARK: Loads and charge

    /// Sets the current `source` draws (0 removes it), in milliamperes; negative charges.
    /// The charge drawn so far is accounted at the old load first.
    public func setLoad(milliamps: Double, source: String = "load") {
        let now = clock.now
        state.withLock { state in
            Self.settle(&state, now: now, capacity: capacityMilliampHours, base: baseLoadMilliamps)
            state.loads[source] = milliamps == 0 ? nil : milliamps
        }
        notify()
    }

    /// The total load now (base load plus every source), in milliamperes.
    public var loadMilliamps: Double {
        state.withLock { state in baseLoadMilliamps + state.loads.values.reduce(0, +) }
    }

    /// The state of charge now, 0-100 %.
    public var stateOfCharge: Double {
        let now = clock.now
        return state.withLock { state in
            Self.settle(&state, now: now, capacity: capacityMilliampHours, base: baseLoadMilliamps)
            return state.percent
        }
    }

    /// Sets the state of charge (a battery swap, a charger session), in percent.
    public func setStateOfCharge(_ percent: Double) {
        let now = clock.now
        state.withLock { state in
            state.percent = min(100, max(0, percent))
            state.since = now
        }
        notify()
    }

    /// Open-circuit voltage at the present state of charge, in millivolts.
    public var openCircuitMillivolts: Double { Self.openCircuitMillivolts(atPercent: stateOfCharge) }

    /// Terminal voltage now: open-circuit voltage minus load × internal resistance.
    public var terminalMillivolts: Double {
        max(0, openCircuitMillivolts - loadMilliamps * internalResistanceOhms)
    }

    /// How long until the state of charge falls to `percent` at the present load, or nil when
    /// it never will (no discharge, or already at or below it).
    public func timeUntil(stateOfCharge percent: Double) -> Duration? {
        let (now, load) = (stateOfCharge, loadMilliamps)
        guard load > 0, now > percent else { return nil }
        let hours = (now - percent) / 100 * capacityMilliampHours / load
        return .nanoseconds(Int64((hours * 3_600_000_000_000).rounded(.up)))
    }

    // MARK: Curve

    /// The curve's open-circuit voltage at `percent`.
    public static func openCircuitMillivolts(atPercent percent: Double) -> Double {
        let curve = liIonCurve
        let clamped = min(100, max(0, percent))
        for (low, high) in zip(curve, curve.dropFirst()) where clamped <= high.percent {
            let fraction = (clamped - low.percent) / (high.percent - low.percent)
            return low.millivolts + fraction * (high.millivolts - low.millivolts)
        }
        return curve[curve.count - 1].millivolts
    }

    /// The state of charge whose open-circuit voltage is `millivolts` (the curve read
    /// backwards, as a gauge's quick-start does), 0-100 %.
    public static func percent(atOpenCircuitMillivolts millivolts: Double) -> Double {
        let curve = liIonCurve
        guard millivolts > curve[0].millivolts else { return 0 }
        for (low, high) in zip(curve, curve.dropFirst()) where millivolts <= high.millivolts {
            let fraction = (millivolts - low.millivolts) / (high.millivolts - low.millivolts)
            return low.percent + fraction * (high.percent - low.percent)
        }
        return 100
    }

    // MARK: Observers

    /// Calls `observer` after every load or charge change (not for the slow discharge in
    /// between; use ``timeUntil(stateOfCharge:)`` to plan for that). Returns a token for
    /// ``removeObserver(_:)``.
    @discardableResult
    public func observe(_ observer: @escaping @Sendable () -> Void) -> UInt64 {
        state.withLock { state in
            state.nextObserver += 1
            state.observers[state.nextObserver] = observer
            return state.nextObserver
        }
    }

    /// Stops calling an observer.
    public func removeObserver(_ token: UInt64) {
        state.withLock { _ = $0.observers.removeValue(forKey: token) }
    }

    private func notify() {
        let observers = state.withLock { Array($0.observers.values) }
        for observer in observers { observer() }
    }

    private static func settle(_ state: inout State, now: MonotonicInstant, capacity: Double, base: Double) {
        let elapsed = now - state.since
        guard elapsed > .zero else { return }
        let hours = Double(elapsed.totalNanoseconds) / 3_600_000_000_000
        let load = base + state.loads.values.reduce(0, +)
        state.percent = min(100, max(0, state.percent - load * hours / capacity * 100))
        state.since = now
    }
}
