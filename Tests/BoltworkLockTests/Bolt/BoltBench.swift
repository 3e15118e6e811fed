import BoltworkDrivers
import BoltworkHAL
import BoltworkLock
import BoltworkSimulation
import Testing

/// Records what a bolt controller reports.
final class BoltRecorder: Sendable {
    private let outcomes = Protected([(BoltOutcome, MonotonicInstant)]())
    private let changes = Protected([BoltStateChange]())

    /// Installs itself on `controller`.
    func install(on controller: BoltController) {
        controller.setEventHandler { [self] outcome, time in outcomes.withLock { $0.append((outcome, time)) }
        }
        controller.setStateChangeHandler { [self] change in changes.withLock { $0.append(change) } }
    }

    var events: [BoltOutcome] { outcomes.withLock { $0.map { $0.0 } } }
    var timedEvents: [(BoltOutcome, MonotonicInstant)] { outcomes.withLock { $0 } }
    var states: [BoltState] { changes.withLock { $0.map(\.state) } }
    var stateChanges: [BoltStateChange] { changes.withLock { $0 } }
}

/// The motor, sensor and door drivers of one boot, over a simulated chip.
struct BoltDrivers {
    let motor: HBridgeMotor
    let sensor: EndSwitchBoltSensor
    let sensorRequest: any GPIOLineRequest
    let door: DoorContact
    let doorRequest: any GPIOLineRequest

    init(
        chip: SimulatedGPIOChip, clock: VirtualClock, motor configuration: HBridgeMotor.Configuration,
        stallInput: Bool
    ) throws {
        let motorLines = try chip.requestLines(
            HBridgeMotor.lineConfigs(for: .drv8833(), lines: [.name("IN1"), .name("IN2")]), consumer: "motor")
        let stall =
            stallInput
            ? try chip.requestLines([HBridgeMotor.stallLineConfig(.name("STALL"))], consumer: "stall") : nil
        motor = try HBridgeMotor(
            request: motorLines, profile: .drv8833(), configuration: configuration, stallInput: stall,
            clock: clock)
        sensorRequest = try chip.requestLines(
            EndSwitchBoltSensor.lineConfigs(
                retracted: .name("RSW"), extended: .name("ESW"), debounce: BoltBench.switchDebounce),
            consumer: "bolt")
        sensor = try EndSwitchBoltSensor(request: sensorRequest)
        doorRequest = try chip.requestLines(
            [DoorContact.lineConfig(.name("DOOR"), debounce: BoltBench.doorDebounce)], consumer: "door")
        door = try DoorContact(request: doorRequest)
    }
}

/// A DRV8833 motor, two end switches and a door contact on a simulated chip, with the lock
/// mechanism model between them, the real drivers, and a bolt controller on top.
struct BoltBench {
    static let travel: Duration = .milliseconds(1500)
    static let switchDebounce: Duration = .milliseconds(5)
    static let doorDebounce: Duration = .milliseconds(20)

    let clock = VirtualClock()
    let chip: SimulatedGPIOChip
    let mechanism: SimulatedLockMechanism
    let drivers: BoltDrivers
    let controller: BoltController
    let recorder = BoltRecorder()

    init(
        initialPercent: Double = 0, configuration: BoltController.Configuration = .init(),
        motor: HBridgeMotor.Configuration = .init(), stallInput: Bool = false,
        canMove: BoltController.MoveCheck? = nil, start: Bool = true
    ) throws {
        chip = SimulatedGPIO(clock: clock).addChip(
            label: "sim", lineNames: ["IN1", "IN2", "RSW", "ESW", "DOOR", "STALL"])
        mechanism = try SimulatedLockMechanism(
            chip: chip,
            configuration: .init(
                bridge: .drv8833(in1: "IN1", in2: "IN2"), travelTime: Self.travel, retractedSwitch: "RSW",
                extendedSwitch: "ESW", doorContact: "DOOR", initialPercent: initialPercent,
                stallSignal: "STALL"))
        drivers = try BoltDrivers(chip: chip, clock: clock, motor: motor, stallInput: stallInput)
        controller = try BoltController(
            motor: drivers.motor, sensor: drivers.sensor, door: drivers.door, clock: clock,
            configuration: configuration, canMove: canMove)
        recorder.install(on: controller)
        if start {
            controller.start()
            clock.runUntilIdle()
        }
    }

    /// The instant a switch edge at `percent` of a full-speed stroke from `start` is reported
    /// (the crossing plus the switch debounce).
    static func seen(atPercent percent: Double, from start: MonotonicInstant) -> MonotonicInstant {
        start + .nanoseconds(Int64((Double(travel.totalNanoseconds) * percent / 100).rounded()))
            + switchDebounce
    }

    /// The bridge inputs' levels over time, one entry per instant at which either changed
    /// (both lines of one write change at the same instant).
    func bridgeTimeline(since: MonotonicInstant = .zero) -> [(time: MonotonicInstant, in1: Bool, in2: Bool)] {
        let in1 = chip.history(of: "IN1")
        let in2 = chip.history(of: "IN2")
        let times = Set(in1.map(\.time) + in2.map(\.time)).sorted()
        func level(_ history: [LevelChange], at time: MonotonicInstant) -> Bool {
            history.last(where: { $0.time <= time })?.level == .high
        }
        return times.filter { $0 >= since }.map { ($0, level(in1, at: $0), level(in2, at: $0)) }
    }

    /// The instants at which `line` went high.
    func rises(of line: String, since: MonotonicInstant = .zero) -> [MonotonicInstant] {
        let history = chip.history(of: line)
        return zip(history, history.dropFirst())
            .filter { pair in pair.0.level == .low && pair.1.level == .high && pair.1.time >= since }
            .map { pair in pair.1.time }
    }

    /// The instants at which `line` went low.
    func falls(of line: String, since: MonotonicInstant = .zero) -> [MonotonicInstant] {
        let history = chip.history(of: line)
        return zip(history, history.dropFirst())
            .filter { pair in pair.0.level == .high && pair.1.level == .low && pair.1.time >= since }
            .map { pair in pair.1.time }
    }

    /// Checks that the motor rests: both bridge inputs low (coast), the driver stopped, the
    /// model's bridge coasting and the bolt still, and that both inputs were never high at once.
    func expectMotorSafe(sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(chip.level(of: "IN1") == .low, sourceLocation: sourceLocation)
        #expect(chip.level(of: "IN2") == .low, sourceLocation: sourceLocation)
        #expect(drivers.motor.activity == .stopped, sourceLocation: sourceLocation)
        #expect(mechanism.bridgeState == .coast, sourceLocation: sourceLocation)
        #expect(!mechanism.isMoving, sourceLocation: sourceLocation)
        #expect(
            bridgeTimeline().allSatisfy { !($0.in1 && $0.in2) }, "IN1 and IN2 were high together",
            sourceLocation: sourceLocation)
    }
}
