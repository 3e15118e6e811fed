import BoltworkDrivers
import BoltworkHAL
import BoltworkSimulation
import Testing

/// Collects values handed to callbacks.
final class MotionRecorder<Value: Sendable>: Sendable {
    let values = Protected([Value]())
    func append(_ value: Value) { values.withLock { $0.append(value) } }
    var all: [Value] { values.withLock { $0 } }
}

/// Whether two instants are within a microsecond (crossing times are computed in floating
/// point and rounded to the nanosecond).
func nearInstant(_ a: MonotonicInstant?, _ b: MonotonicInstant) -> Bool {
    guard let a else { return false }
    return abs(a.nanoseconds - b.nanoseconds) <= 1000
}

/// A DRV8833 motor, two end switches and a door contact on one simulated chip, driven by the
/// real drivers, with the mechanism model in between.
struct LockBench {
    static let travel: Duration = .milliseconds(1500)
    static let debounce: Duration = .milliseconds(5)

    let clock = VirtualClock()
    let gpio: SimulatedGPIO
    let chip: SimulatedGPIOChip
    let mechanism: SimulatedLockMechanism
    let motor: HBridgeMotor
    let loads = MotionRecorder<Int>()
    let stops = MotionRecorder<MotorStopReason>()

    init(initialPercent: Double = 0) throws {
        gpio = SimulatedGPIO(clock: clock)
        chip = gpio.addChip(label: "sim", lineNames: ["IN1", "IN2", "RSW", "ESW", "DOOR", "STALL"])
        mechanism = try SimulatedLockMechanism(
            chip: chip,
            configuration: .init(
                bridge: .drv8833(in1: "IN1", in2: "IN2"), travelTime: Self.travel, retractedSwitch: "RSW",
                extendedSwitch: "ESW", doorContact: "DOOR", initialPercent: initialPercent,
                stallSignal: "STALL"))
        let request = try chip.requestLines(
            HBridgeMotor.lineConfigs(for: .drv8833(), lines: [.name("IN1"), .name("IN2")]), consumer: "motor")
        motor = try HBridgeMotor(request: request, profile: .drv8833(), clock: clock)
        let loads = self.loads
        mechanism.onLoadChange = { milliamps in loads.append(milliamps) }
        let stops = self.stops
        motor.setStopHandler { reason, _ in stops.append(reason) }
    }

    func endSwitches() throws -> EndSwitchBoltSensor {
        let request = try chip.requestLines(
            EndSwitchBoltSensor.lineConfigs(
                retracted: .name("RSW"), extended: .name("ESW"), debounce: Self.debounce),
            consumer: "bolt")
        return try EndSwitchBoltSensor(request: request)
    }

    /// Records position events; stops the motor at either end, as the lock logic would.
    func watch(_ sensor: some BoltPositionSensor) -> MotionRecorder<BoltPositionEvent> {
        let events = MotionRecorder<BoltPositionEvent>()
        let motor = self.motor
        sensor.setChangeHandler { event in
            events.append(event)
            if event.position == .extended || event.position == .retracted { try? motor.stop() }
        }
        return events
    }

    /// Instant of a fraction of the stroke at full speed, plus the debounce.
    static func seen(atPercent percent: Double, startingAt start: MonotonicInstant = .zero)
        -> MonotonicInstant
    {
        start + .nanoseconds(Int64((Double(travel.totalNanoseconds) * percent / 100).rounded())) + debounce
    }
}

@Suite("Lock mechanism simulation with the real drivers")
struct LockMechanismSimulationTests {
    @Test("locking and unlocking: the end switches report each change with its time")
    func lockTravel() throws {
        let bench = try LockBench()
        let sensor = try bench.endSwitches()
        #expect(try sensor.position() == .retracted)
        let events = bench.watch(sensor)
        try bench.motor.run(.extend)
        bench.clock.advance(by: .seconds(2))
        let extend = events.all
        #expect(extend.map(\.position) == [.between(percent: nil), .extended])
        // The retracted switch opens at 2 % of the stroke, the extended one closes at 98 %.
        #expect(nearInstant(extend.first?.timestamp, LockBench.seen(atPercent: 2)))
        #expect(nearInstant(extend.last?.timestamp, LockBench.seen(atPercent: 98)))
        #expect(bench.motor.activity == .stopped)
        #expect(bench.mechanism.bridgeState == .coast)
        // The motor was stopped 5 ms (debounce) after the switch closed.
        #expect(abs(bench.mechanism.percent - (98 + 100 * 5.0 / 1500)) < 0.001)
        #expect(bench.loads.all == [250, 0])

        let start = bench.clock.now
        try bench.motor.run(.retract)
        bench.clock.advance(by: .seconds(2))
        let retract = Array(events.all.dropFirst(2))
        #expect(retract.map(\.position) == [.between(percent: nil), .retracted])
        let from = 98 + 100 * 5.0 / 1500
        #expect(
            nearInstant(retract.first?.timestamp, LockBench.seen(atPercent: from - 98, startingAt: start)))
        #expect(nearInstant(retract.last?.timestamp, LockBench.seen(atPercent: from - 2, startingAt: start)))
        #expect(try sensor.position() == .retracted)
        #expect(bench.loads.all == [250, 0, 250, 0])
        #expect(bench.stops.all.isEmpty)
    }

    @Test("a jam holds the bolt between the ends; the switches say so and the motor stalls")
    func jam() throws {
        let bench = try LockBench()
        let sensor = try bench.endSwitches()
        let events = bench.watch(sensor)
        bench.mechanism.jam(at: 50)
        try bench.motor.run(.extend)
        bench.clock.advance(by: .seconds(2))
        #expect(bench.mechanism.percent == 50)
        #expect(!bench.mechanism.isMoving)
        #expect(try sensor.position() == .between(percent: nil))
        #expect(events.all.map(\.position) == [.between(percent: nil)])
        #expect(bench.loads.all == [250, 1200])
        // Nobody stops it: the driver's maximum run time does, 8 s after the start.
        bench.clock.advance(by: .seconds(6))
        #expect(bench.stops.all == [.maximumRunTime])
        #expect(bench.loads.all == [250, 1200, 0])
        // Backing off works; the jam only blocks the way forward.
        try bench.motor.run(.retract)
        bench.clock.advance(by: .seconds(1))
        #expect(events.all.last?.position == .retracted)
    }

    @Test("with a stall signal wired, a jam stops the motor through the stall input")
    func jamWithStallInput() throws {
        let clock = VirtualClock()
        let chip = SimulatedGPIO(clock: clock).addChip(label: "sim", lineNames: ["IN1", "IN2", "STALL"])
        let mechanism = try SimulatedLockMechanism(
            chip: chip,
            configuration: .init(
                bridge: .drv8833(in1: "IN1", in2: "IN2"), travelTime: LockBench.travel, stallSignal: "STALL"))
        let request = try chip.requestLines(
            HBridgeMotor.lineConfigs(for: .drv8833(), lines: [.name("IN1"), .name("IN2")]), consumer: "motor")
        let stall = try chip.requestLines(
            [HBridgeMotor.stallLineConfig(.name("STALL"), activeLevel: .low, debounce: .milliseconds(2))],
            consumer: "stall")
        let motor = try HBridgeMotor(request: request, profile: .drv8833(), stallInput: stall, clock: clock)
        let stops = MotionRecorder<(MotorStopReason, MonotonicInstant)>()
        motor.setStopHandler { reason, time in stops.append((reason, time)) }
        mechanism.jam(at: 50)
        try motor.run(.extend)
        clock.advance(by: .seconds(2))
        // The bolt hits the jam at 750 ms; the comparator's line is debounced for 2 ms.
        #expect(stops.all.map(\.0) == [.stall])
        #expect(nearInstant(stops.all.first?.1, .zero + .milliseconds(752)))
        #expect(motor.activity == .stopped)
        #expect(mechanism.loadMilliamps == 0)
        #expect(chip.level(of: "STALL") == .high, "released once the motor stopped")
        #expect(mechanism.percent == 50)
    }

    @Test("a misaligned strike slows the last part of the stroke and raises the current")
    func slowTravel() throws {
        let bench = try LockBench()
        let sensor = try bench.endSwitches()
        let events = bench.watch(sensor)
        bench.mechanism.misalignStrike(from: 80, slowdown: 3)
        try bench.motor.run(.extend)
        bench.clock.advance(by: .seconds(3))
        // 0-80 % at full speed (1200 ms), 80-98 % three times slower (810 ms).
        let expected = MonotonicInstant.zero + .milliseconds(1200 + 810) + LockBench.debounce
        #expect(events.all.map(\.position) == [.between(percent: nil), .extended])
        #expect(nearInstant(events.all.last?.timestamp, expected))
        #expect(bench.loads.all == [250, 750, 0])
    }

    @Test("turning the bolt by hand produces position events with no motor running")
    func manualTurn() throws {
        let bench = try LockBench()
        let sensor = try bench.endSwitches()
        let events = MotionRecorder<BoltPositionEvent>()
        sensor.setChangeHandler { events.append($0) }
        bench.mechanism.turnByHand(to: 100, over: .seconds(2))
        bench.clock.advance(by: .seconds(3))
        #expect(events.all.map(\.position) == [.between(percent: nil), .extended])
        #expect(nearInstant(events.all.first?.timestamp, .zero + .milliseconds(40) + LockBench.debounce))
        #expect(nearInstant(events.all.last?.timestamp, .zero + .milliseconds(1960) + LockBench.debounce))
        #expect(bench.mechanism.percent == 100)
        #expect(bench.motor.activity == .stopped)
        #expect(bench.chip.history(of: "IN1").map(\.level) == [.low])
        #expect(bench.chip.history(of: "IN2").map(\.level) == [.low])
        #expect(bench.loads.all.isEmpty)
        // Analytic motion: one timer per crossing (2 %, 98 %, 100 %) plus the two debounce
        // timers, none per millisecond, and nothing while the bolt is still.
        #expect(bench.clock.firedTimerCount == 5)
        bench.clock.advance(by: .seconds(60))
        #expect(bench.clock.firedTimerCount == 5)
        // Half way back.
        bench.mechanism.turnByHand(to: 50, over: .seconds(1))
        bench.clock.advance(by: .seconds(2))
        #expect(bench.mechanism.percent == 50)
        #expect(events.all.last?.position == .between(percent: nil))
    }

    @Test("a power cut mid-travel leaves the bolt between the ends, and the switches say so")
    func powerLoss() throws {
        let bench = try LockBench()
        let sensor = try bench.endSwitches()
        let events = bench.watch(sensor)
        try bench.motor.run(.extend)
        bench.clock.advance(by: .milliseconds(600))
        bench.mechanism.cutPower()
        bench.clock.advance(by: .seconds(3))
        #expect(abs(bench.mechanism.percent - 40) < 1e-9)
        #expect(try sensor.position() == .between(percent: nil))
        #expect(events.all.map(\.position) == [.between(percent: nil)])
        #expect(bench.loads.all == [250, 0])
        // Power back while the driver still drives: the bolt carries on to the end.
        bench.mechanism.restorePower()
        bench.clock.advance(by: .seconds(1))
        #expect(events.all.last?.position == .extended)
    }

    @Test("a reversal reaches the mechanism through the safe state and the dead time")
    func reversalOnThePins() throws {
        let bench = try LockBench()
        try bench.motor.run(.extend)
        bench.clock.advance(by: .milliseconds(100))
        try bench.motor.run(.retract)
        #expect(bench.mechanism.bridgeState == .coast)
        bench.clock.advance(by: .milliseconds(100))
        let in1 = bench.chip.history(of: "IN1")
        let in2 = bench.chip.history(of: "IN2")
        #expect(in1.map(\.level) == [.low, .high, .low])
        #expect(in1.map(\.time) == [.zero, .zero, .zero + .milliseconds(100)])
        #expect(in2.map(\.level) == [.low, .high])
        #expect(in2.last?.time == .zero + .milliseconds(120))
        // 100 ms out, 20 ms still, 80 ms back.
        #expect(abs(bench.mechanism.percent - 100 * 20.0 / 1500) < 1e-9)
    }

    @Test("two closed switches are a fault; a single switch cannot tell the far end from travel")
    func switchFaultsAndSingleSwitch() throws {
        let bench = try LockBench(initialPercent: 50)
        let sensor = try bench.endSwitches()
        #expect(try sensor.position() == .between(percent: nil))
        let events = MotionRecorder<BoltPositionEvent>()
        sensor.setChangeHandler { events.append($0) }
        bench.chip.drive("RSW", to: .low)
        bench.chip.drive("ESW", to: .low)
        bench.clock.advance(by: .milliseconds(10))
        guard case .fault(let why) = try sensor.position() else {
            Issue.record("both switches closed must be a fault")
            return
        }
        #expect(why.contains("both end switches"))
        #expect(events.all.last.map { if case .fault = $0.position { true } else { false } } == true)

        let other = try LockBench()
        let request = try other.chip.requestLines(
            EndSwitchBoltSensor.lineConfigs(retracted: .name("RSW"), extended: nil), consumer: "bolt")
        let single = try EndSwitchBoltSensor(request: request, switches: .retractedOnly(0))
        #expect(try single.position() == .retracted)
        try other.motor.run(.extend)
        other.clock.advance(by: .seconds(3))
        #expect(other.mechanism.percent == 100)
        #expect(try single.position() == .between(percent: nil), "fully extended reads as 'not retracted'")
    }

    @Test("the door contact reports opening and closing with debounced timestamps")
    func doorContact() throws {
        let bench = try LockBench()
        let request = try bench.chip.requestLines(
            [DoorContact.lineConfig(.name("DOOR"), debounce: .milliseconds(20))], consumer: "door")
        let door = try DoorContact(request: request)
        #expect(try door.state() == .closed)
        let events = MotionRecorder<(DoorState, MonotonicInstant)>()
        door.setChangeHandler { state, time in events.append((state, time)) }
        bench.clock.advance(by: .seconds(1))
        bench.mechanism.openDoor()
        bench.clock.advance(by: .seconds(1))
        #expect(try door.state() == .open)
        // Closing with a bounce: one event, 20 ms after the contact settles.
        bench.mechanism.closeDoor()
        bench.clock.advance(by: .milliseconds(5))
        bench.mechanism.openDoor()
        bench.clock.advance(by: .milliseconds(3))
        bench.mechanism.closeDoor()
        bench.clock.advance(by: .seconds(1))
        #expect(events.all.map(\.0) == [.open, .closed])
        #expect(events.all.map(\.1) == [.zero + .milliseconds(1020), .zero + .milliseconds(2028)])
        #expect(try door.state() == .closed)
    }
}

@Suite("Bridge decoding: the driver's tables against the model's datasheet rules")
struct BridgeDecodingTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var profile: HBridgeProfile
        var wiring: SimulatedBridgeWiring
        var testDescription: String { profile.name + " \(profile.pins)" }
    }

    static let cases: [Case] = [
        Case(profile: .drv8833(), wiring: .drv8833(in1: "A", in2: "B")),
        Case(profile: .drv8833(withSleepLine: true), wiring: .drv8833(in1: "A", in2: "B", sleep: "C")),
        Case(profile: .tb6612fng, wiring: .tb6612fng(in1: "A", in2: "B", pwm: "C", standby: "D")),
        Case(profile: .l298n, wiring: .l298n(in1: "A", in2: "B", enable: "C")),
    ]

    @Test("every state the driver writes is the state the simulated chip decodes", arguments: cases)
    func decode(testCase: Case) throws {
        let clock = VirtualClock()
        let chip = SimulatedGPIO(clock: clock).addChip(label: "sim", lineNames: ["A", "B", "C", "D"])
        let lines = testCase.wiring.lines.map { GPIOLineID.name($0) }
        let mechanism = try SimulatedLockMechanism(
            chip: chip, configuration: .init(bridge: testCase.wiring, initialPercent: 50))
        let request = try chip.requestLines(
            HBridgeMotor.lineConfigs(for: testCase.profile, lines: lines), consumer: "motor")
        let expectedSafe: SimulatedBridgeState = testCase.profile.safeState == .brake ? .brake : .coast
        #expect(mechanism.bridgeState == expectedSafe, "the requested lines start in the safe state")
        for state in BridgeState.allCases {
            guard let levels = testCase.profile.levels(for: state) else { continue }
            try request.setValues(levels.map { LineValue($0 == .high) })
            #expect(mechanism.bridgeState.description == state.description)
        }
        // The motor through the model: extend moves the bolt up, retract down.
        let safe = try #require(testCase.profile.levels(for: testCase.profile.safeState))
        try request.setValues(safe.map { LineValue($0 == .high) })
        let motor = try HBridgeMotor(request: request, profile: testCase.profile, clock: clock)
        try motor.run(.extend)
        clock.advance(by: .milliseconds(150))
        #expect(abs(mechanism.percent - 60) < 1e-9)
        try motor.run(.retract)
        clock.advance(by: .milliseconds(320))
        #expect(abs(mechanism.percent - 40) < 1e-9)
        try motor.stop()
        #expect(mechanism.bridgeState == expectedSafe)
    }
}
