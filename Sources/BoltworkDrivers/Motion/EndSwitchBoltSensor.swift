import BoltworkHAL

/// Bolt position from end-of-travel switches (limit, reed or Hall switches) on GPIO inputs of
/// one request, pulled up, debounced by the line settings, with edge events.
///
/// With two switches (``Switches/both(retracted:extended:)``) it tells retracted, extended,
/// between, and the impossible "both closed" (a short, a mis-wired switch, a magnet that
/// reaches both), which it reports as ``BoltPosition/fault(_:)``.
///
/// With a single switch it can tell only whether the bolt is at that end. Anywhere else reads
/// as ``BoltPosition/between(percent:)`` with no percentage: it cannot tell the far end from
/// mid-travel, cannot see a jam, and cannot detect a broken wire (an open circuit reads like
/// "not at this end"). The lock logic then has to time the travel to the other end.
///
/// Change events carry the edge's timestamp (for debounced lines, when the value was accepted
/// as stable) and run on the backend's clock.
public final class EndSwitchBoltSensor: BoltPositionSensor, Sendable {
    /// Which switches are wired, by their index in the request.
    public enum Switches: Sendable, Hashable {
        /// A switch at each end.
        case both(retracted: Int, extended: Int)
        /// Only the retracted-end switch.
        case retractedOnly(Int)
        /// Only the extended-end switch.
        case extendedOnly(Int)

        var indices: [Int] {
            switch self {
            case .both(let retracted, let extended): [retracted, extended]
            case .retractedOnly(let index), .extendedOnly(let index): [index]
            }
        }
    }

    /// The switches.
    public let switches: Switches
    /// The device's name in messages.
    public let name: String
    private let request: any GPIOLineRequest
    private let state: Protected<State>

    private struct State {
        var values: [LineValue]
        var reported: BoltPosition
        var handler: (@Sendable (BoltPositionEvent) -> Void)?
    }

    /// The configurations of the switch lines: inputs, both edges, debounced, active (closed)
    /// at `closedLevel`. A switch to ground (`closedLevel` low) gets the pull-up; a switch to
    /// the supply gets a pull-down. Pass `extended: nil` for a single retracted-end switch.
    public static func lineConfigs(
        retracted: GPIOLineID?, extended: GPIOLineID?, closedLevel: PinLevel = .low,
        debounce: Duration = .milliseconds(5)
    ) -> [LineConfig] {
        let settings = LineSettings.input(
            bias: closedLevel == .low ? .pullUp : .pullDown, activeLow: closedLevel == .low, edges: .both,
            debounce: debounce)
        return [retracted, extended].compactMap { $0 }.map { LineConfig($0, settings) }
    }

    /// Creates the sensor over `request` (see ``lineConfigs(retracted:extended:closedLevel:debounce:)``:
    /// a switch is closed when its line is active) and reads the switches once.
    public init(
        request: any GPIOLineRequest, switches: Switches = .both(retracted: 0, extended: 1),
        name: String = "bolt sensor"
    )
        throws(DeviceError)
    {
        guard switches.indices.allSatisfy({ request.offsets.indices.contains($0) }),
            Set(switches.indices).count == switches.indices.count
        else {
            throw DeviceError(
                .configuration, device: name,
                detail:
                    "switch indices \(switches.indices) do not fit a request of \(request.offsets.count) lines"
            )
        }
        let values: [LineValue]
        do {
            values = try request.values()
        } catch {
            throw DeviceError(
                .hardware, device: name, detail: "cannot read the end switches", underlying: error)
        }
        self.switches = switches
        self.name = name
        self.request = request
        self.state = Protected(State(values: values, reported: Self.position(values, switches)))
        request.setEdgeHandler { [weak self] event in self?.edge(event) }
    }

    /// Reads the switches now.
    public func position() throws(DeviceError) -> BoltPosition {
        do {
            return Self.position(try request.values(), switches)
        } catch {
            throw DeviceError(
                .hardware, device: name, detail: "cannot read the end switches", underlying: error)
        }
    }

    /// Installs the function that receives position changes.
    public func setChangeHandler(_ handler: (@Sendable (BoltPositionEvent) -> Void)?) {
        state.withLock { $0.handler = handler }
    }

    private func edge(_ event: EdgeEvent) {
        let report = state.withLock {
            state -> ((@Sendable (BoltPositionEvent) -> Void)?, BoltPositionEvent)? in
            guard state.values.indices.contains(event.index) else { return nil }
            state.values[event.index] = event.value
            let position = Self.position(state.values, switches)
            guard position != state.reported else { return nil }
            state.reported = position
            return (state.handler, BoltPositionEvent(position: position, timestamp: event.timestamp))
        }
        if let (handler, event) = report { handler?(event) }
    }

    static func position(_ values: [LineValue], _ switches: Switches) -> BoltPosition {
        func closed(_ index: Int) -> Bool { values.indices.contains(index) && values[index].isActive }
        switch switches {
        case .both(let retracted, let extended):
            switch (closed(retracted), closed(extended)) {
            case (true, true):
                return .fault(
                    "both end switches are closed: check for a short or a mis-wired switch")
            case (true, false): return .retracted
            case (false, true): return .extended
            case (false, false): return .between(percent: nil)
            }
        case .retractedOnly(let index):
            return closed(index) ? .retracted : .between(percent: nil)
        case .extendedOnly(let index):
            return closed(index) ? .extended : .between(percent: nil)
        }
    }
}
