import BoltworkBoard
import BoltworkDrivers
import BoltworkHAL
import BoltworkLock
import Foundation

extension LockConfigFile {
    /// The access layer's settings.
    public func accessConfiguration(hashing: PINHasher.Parameters) -> AccessConfiguration {
        AccessConfiguration(
            pinLengths: PINHasher.LengthBounds(minimum: pinMinimumLength, maximum: pinMaximumLength),
            hashing: hashing,
            lockoutThreshold: lockoutAttempts, firstLockout: .seconds(lockoutFirstSeconds),
            lockoutCap: .seconds(lockoutCapSeconds), keypadDisableThreshold: keypadDisableAfter,
            timeZone: timeZone.flatMap(TimeZone.init(identifier:)) ?? .current)
    }

    /// The bolt controller's settings.
    public var boltConfiguration: BoltController.Configuration {
        BoltController.Configuration(
            moveTimeout: .milliseconds(moveTimeoutMilliseconds), lockRetries: lockRetries,
            autoRelockDelay: .seconds(autoRelockSeconds),
            doorAjarAfter: doorAjarSeconds > 0 ? .seconds(doorAjarSeconds) : nil)
    }

    /// The battery policy.
    public var batteryPolicy: BatteryPolicy {
        BatteryPolicy(
            lowPercent: Double(batteryLowPercent), criticalPercent: Double(batteryCriticalPercent),
            reservePercent: Double(batteryReservePercent), reserveCellMillivolts: batteryReserveMillivolts)
    }
}

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
    /// Pokes control-socket followers of the audit log after each commit.
    public let feed = AuditFeed()

    /// Builds the controller over `hardware` with the policy in `config`, its bolt move timeout
    /// adjusted to the calibration in `store` (see ``BoltCalibration``). `hashing` is the PIN
    /// hash cost (the standard cost on a lock; a cheap one in tests and the scripted simulator).
    public init(
        hardware: LockHardware, store: any LockStore, wallClock: any WallClock, clock: any BoltClock,
        config: LockConfigFile = LockConfigFile(), hashing: PINHasher.Parameters = .standard,
        simulation: SimulatedBoard? = nil, clockIsSynchronized: @escaping @Sendable () -> Bool = { true }
    ) throws {
        self.hardware = hardware
        self.store = store
        self.simulation = simulation
        let config = config.applying(try BoltCalibration.load(from: store))
        self.config = config
        self.clock = clock
        self.wallClock = wallClock
        let observed = FeedingLockStore(store, feed: feed)
        let access = try AccessController(
            store: observed, wallClock: wallClock,
            configuration: config.accessConfiguration(hashing: hashing),
            clockIsSynchronized: clockIsSynchronized)
        let battery = hardware.gauge.map {
            BatteryMonitor(gauge: $0, clock: clock, policy: config.batteryPolicy)
        }
        let bolt = try BoltController(
            motor: hardware.motor, sensor: hardware.bolt, door: hardware.door, clock: clock,
            configuration: config.boltConfiguration, canMove: { _, _ in battery?.moveRefusal() })
        controller = try LockController(
            access: access, bolt: bolt, battery: battery, keypad: hardware.keypad, door: hardware.door,
            buzzer: hardware.buzzer, led: hardware.led, store: observed, wallClock: wallClock, clock: clock,
            entryTimeout: .seconds(config.entryTimeoutSeconds))
    }

    /// The policy in force.
    public let config: LockConfigFile
    private let clock: any BoltClock
    /// The wall clock the lock reads (schedules, lockout ends, audit times).
    public let wallClock: any WallClock

    /// Deletes audit records older than the retention period now and then once a day.
    public func startRetention() {
        let store = self.store
        let wallClock = self.wallClock
        let clock = self.clock
        let days = config.auditRetentionDays
        let controller = self.controller
        @Sendable func prune() {
            let cutoff = wallClock.now.addingTimeInterval(-Double(days) * 86_400)
            do {
                _ = try store.pruneAudit(before: cutoff)
            } catch {
                controller.reportFault("audit retention: \(error)")
            }
            clock.schedule(after: .seconds(86_400)) { prune() }
        }
        clock.execute { prune() }
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
