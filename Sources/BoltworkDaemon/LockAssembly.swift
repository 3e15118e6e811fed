import BoltworkBoard
import BoltworkDrivers
import BoltworkHAL
import BoltworkLock
import Foundation

/// A running lock: the hardware from the board file, the store, and the controller on top.
public final class RunningLock: Sendable {
    /// The controller.
    public let controller: LockController
    /// The hardware.
    public let hardware: LockHardware
    /// The store.
    public let store: any LockStore
    /// The simulated board, when running on one.
    public let simulation: SimulatedBoard?

    /// Builds the controller over `hardware`.
    public init(
        hardware: LockHardware, store: any LockStore, wallClock: any WallClock, clock: any BoltClock,
        access configuration: AccessConfiguration = AccessConfiguration(),
        autoRelock: Duration = .seconds(30),
        simulation: SimulatedBoard? = nil
    ) throws {
        self.hardware = hardware
        self.store = store
        self.simulation = simulation
        let access = try AccessController(store: store, wallClock: wallClock, configuration: configuration)
        let battery = hardware.gauge.map { BatteryMonitor(gauge: $0, clock: clock) }
        let bolt = try BoltController(
            motor: hardware.motor, sensor: hardware.bolt, door: hardware.door, clock: clock,
            configuration: BoltController.Configuration(
                autoRelockDelay: autoRelock, doorAjarAfter: .seconds(120)),
            canMove: { _, _ in battery?.moveRefusal() })
        controller = try LockController(
            access: access, bolt: bolt, battery: battery, keypad: hardware.keypad, door: hardware.door,
            buzzer: hardware.buzzer, led: hardware.led, store: store, wallClock: wallClock, clock: clock)
    }

    /// Starts the keypad and the controller.
    @discardableResult
    public func start() throws -> BoltState {
        let state = controller.start()
        try hardware.keypad.start()
        return state
    }

    /// Stops everything and releases every line.
    public func shutdown() {
        controller.shutdown()
        hardware.shutdown()
    }
}

/// How an audit event reads in the daemon's log and the simulator.
public func describe(_ event: AuditEvent) -> String {
    var text = event.action.rawValue
    if let source = event.source { text += " (\(source.rawValue))" }
    if let name = event.userName { text += " by \(name)" }
    if !event.detail.isEmpty { text += ": \(event.detail)" }
    return text
}
