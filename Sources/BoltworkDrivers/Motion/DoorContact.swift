import BoltworkHAL

/// A door contact: a reed switch on the frame and a magnet on the door, on one GPIO input with
/// debounce and edge events.
public final class DoorContact: DoorSensor, Sendable {
    /// The device's name in messages.
    public let name: String
    private let request: any GPIOLineRequest
    private let index: Int
    private let box: Protected<State>

    private struct State {
        var reported: DoorState
        var handler: (@Sendable (DoorState, MonotonicInstant) -> Void)?
    }

    /// The configuration of the contact line: an input with both edges and debounce, active
    /// (door closed) at `closedLevel`. A reed switch to ground (`closedLevel` low, the usual
    /// wiring of a normally open reed) gets the pull-up; one to the supply a pull-down.
    public static func lineConfig(
        _ line: GPIOLineID, closedLevel: PinLevel = .low, debounce: Duration = .milliseconds(20)
    ) -> LineConfig {
        LineConfig(
            line,
            .input(
                bias: closedLevel == .low ? .pullUp : .pullDown, activeLow: closedLevel == .low, edges: .both,
                debounce: debounce))
    }

    /// Creates the contact over the line at `index` of `request` (active = door closed) and
    /// reads it once.
    public init(request: any GPIOLineRequest, index: Int = 0, name: String = "door") throws(DeviceError) {
        guard request.offsets.indices.contains(index) else {
            throw DeviceError(
                .configuration, device: name,
                detail: "no line at index \(index) in a request of \(request.offsets.count)")
        }
        let value: LineValue
        do {
            value = try request.value(at: index)
        } catch {
            throw DeviceError(
                .hardware, device: name, detail: "cannot read the door contact", underlying: error)
        }
        self.name = name
        self.request = request
        self.index = index
        self.box = Protected(State(reported: value.isActive ? .closed : .open))
        request.setEdgeHandler { [weak self] event in self?.edge(event) }
    }

    /// Reads the door now.
    public func state() throws(DeviceError) -> DoorState {
        do {
            return try request.value(at: index).isActive ? .closed : .open
        } catch {
            throw DeviceError(
                .hardware, device: name, detail: "cannot read the door contact", underlying: error)
        }
    }

    /// Installs the function that receives changes.
    public func setChangeHandler(_ handler: (@Sendable (DoorState, MonotonicInstant) -> Void)?) {
        box.withLock { $0.handler = handler }
    }

    private func edge(_ event: EdgeEvent) {
        guard event.index == index else { return }
        let door: DoorState = event.value.isActive ? .closed : .open
        let handler = box.withLock { state -> (@Sendable (DoorState, MonotonicInstant) -> Void)?? in
            guard door != state.reported else { return nil }
            state.reported = door
            return .some(state.handler)
        }
        if let handler { handler?(door, event.timestamp) }
    }
}
