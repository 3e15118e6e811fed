import BoltworkDrivers
import BoltworkHAL
import BoltworkSimulation
import Testing

@Suite("AS5600 bolt sensor")
struct AS5600BoltSensorTests {
    let clock = VirtualClock()
    let address = I2CAddress(constant: 0x36)
    /// Retracted at 3900, extended at 900: the travel crosses the 4095-to-0 wrap.
    let calibration = AS5600BoltSensor.Calibration(retractedRaw: 3900, extendedRaw: 900)

    @Test("reads STATUS then RAW ANGLE big-endian, and converts with the calibration")
    func scriptedBytes() throws {
        let bus = ScriptedI2CBus([
            .transfer(.readByteData(register: 0x0B), at: address, returning: [0x20]),
            // 0x013C = 316: 512 counts past 3900 across the wrap, of a 1096-count travel.
            .transfer(.readWordData(register: 0x0C), at: address, returning: [0x01, 0x3C]),
            .transfer(.readWordData(register: 0x1B), at: address, returning: [0x0A, 0xBC]),
            // The top four bits are not part of the angle.
            .transfer(.readWordData(register: 0x0E), at: address, returning: [0xF8, 0x01]),
        ])
        let sensor = try AS5600BoltSensor(bus: bus, calibration: calibration, clock: clock)
        #expect(calibration.span == 1096)
        guard case .between(let percent?) = try sensor.position() else {
            Issue.record("expected a between position with a percentage")
            return
        }
        #expect(abs(percent - 512.0 / 1096 * 100) < 1e-9)
        #expect(try sensor.magnitude() == 0x0ABC)
        #expect(try sensor.angle() == 0x0801)
        try bus.verify()
    }

    @Test("the AS5600L answers at 0x40")
    func as5600L() throws {
        let l = I2CAddress(constant: 0x40)
        #expect(AS5600BoltSensor.as5600LAddress == l)
        #expect(AS5600BoltSensor.as5600Address == address)
        let bus = ScriptedI2CBus([
            .transfer(.readByteData(register: 0x0B), at: l, returning: [0x20]),
            .transfer(.readWordData(register: 0x0C), at: l, returning: [0x0F, 0x3C]),  // 3900
        ])
        let sensor = try AS5600BoltSensor(
            bus: bus, address: AS5600BoltSensor.as5600LAddress, calibration: calibration, clock: clock)
        #expect(try sensor.position() == .retracted)
        try bus.verify()
    }

    @Test(
        "magnet missing, too weak and too strong are faults, and RAW ANGLE is not read",
        arguments: [
            (UInt8(0x00), "no magnet"), (0x30, "too weak"), (0x28, "too strong"), (0x10, "no magnet"),
        ])
    func magnetFaults(status: UInt8, words: String) throws {
        let bus = ScriptedI2CBus([.transfer(.readByteData(register: 0x0B), at: address, returning: [status])])
        let sensor = try AS5600BoltSensor(bus: bus, calibration: calibration, clock: clock)
        guard case .fault(let why) = try sensor.position() else {
            Issue.record("STATUS 0x\(String(status, radix: 16)) must be a fault")
            return
        }
        #expect(why.contains(words))
        try bus.verify()
    }

    @Test("calibration handles the wrap at 4096, both directions, overshoot and the end thresholds")
    func calibrationMath() {
        let wrap = AS5600BoltSensor.Calibration(retractedRaw: 4000, extendedRaw: 1000)
        #expect(wrap.increasing && wrap.span == 1096)
        #expect(wrap.percent(ofRaw: 4000) == 0)
        #expect(abs(wrap.percent(ofRaw: 0) - 96.0 / 1096 * 100) < 1e-9)
        #expect(wrap.percent(ofRaw: 1000) == 100)
        #expect(wrap.percent(ofRaw: 3950) == 0, "a little before the retracted end clamps to 0")
        #expect(wrap.percent(ofRaw: 1100) == 100, "a little past the extended end clamps to 100")
        #expect(wrap.position(ofRaw: 4000 + 32) == .retracted)  // 2.9 %
        #expect(wrap.position(ofRaw: 4000 + 33) == .between(percent: 33.0 / 1096 * 100))  // 3.01 %
        #expect(wrap.position(ofRaw: 1000 - 33) == .between(percent: 1063.0 / 1096 * 100))  // 96.99 %
        #expect(wrap.position(ofRaw: 1000 - 32) == .extended)  // 97.08 %
        // The same magnet turning the other way: retracted at 1000, extended at 4000 (down through 0).
        let down = AS5600BoltSensor.Calibration(retractedRaw: 1000, extendedRaw: 4000)
        #expect(!down.increasing && down.span == 1096)
        #expect(abs(down.percent(ofRaw: 0) - 1000.0 / 1096 * 100) < 1e-9)
        #expect(down.percent(ofRaw: 4000) == 100)
        // More than half a turn needs the direction spelled out.
        let long = AS5600BoltSensor.Calibration(retractedRaw: 100, extendedRaw: 3000, increasing: true)
        #expect(long.span == 2900)
        #expect(long.percent(ofRaw: 1550) == 50)
        let thresholds = AS5600BoltSensor.Calibration(
            retractedRaw: 0, extendedRaw: 1000, retractedThreshold: 10, extendedThreshold: 90)
        #expect(thresholds.position(ofRaw: 100) == .retracted)
        #expect(thresholds.position(ofRaw: 900) == .extended)
        #expect(thresholds.position(ofRaw: 500) == .between(percent: 50))
    }

    @Test("equal ends are a configuration error; a missing chip is a hardware error naming the 0x36 conflict")
    func errors() throws {
        let same = AS5600BoltSensor.Calibration(retractedRaw: 10, extendedRaw: 10)
        let config = #expect(throws: DeviceError.self) {
            try AS5600BoltSensor(bus: SimulatedI2CBus(), calibration: same, clock: clock)
        }
        #expect(config?.kind == .configuration)
        let sensor = try AS5600BoltSensor(bus: SimulatedI2CBus(), calibration: calibration, clock: clock)
        let error = #expect(throws: DeviceError.self) { try sensor.position() }
        #expect(error?.kind == .hardware)
        #expect(error?.description.contains("MAX17048") == true)
        #expect((error?.underlying as? I2CError)?.kind == .noAcknowledge(.address))
    }

    @Test("sampling a moving bolt reports its travel; stopping sampling leaves no timers")
    func samplingWithMechanism() throws {
        let bench = try LockBench()
        let bus = SimulatedI2CBus()
        let chip = SimulatedAS5600()
        bus.attach(chip, at: address)
        bench.mechanism.attach(chip, retractedRaw: 3900, extendedRaw: 900)
        let sensor = try AS5600BoltSensor(bus: bus, calibration: calibration, clock: bench.clock)
        #expect(try sensor.position() == .retracted)
        let events = bench.watch(sensor)
        sensor.startSampling(every: .milliseconds(100))
        bench.clock.runUntilIdle()
        try bench.motor.run(.extend)
        bench.clock.advance(by: .seconds(2))
        let seen = events.all
        #expect(seen.first?.position == .retracted)
        #expect(seen.first?.timestamp == .zero)
        #expect(seen.last?.position == .extended)
        // 97 % is reached at 1455 ms; the sample at 1500 ms sees it.
        #expect(seen.last?.timestamp == .zero + .milliseconds(1500))
        #expect(bench.motor.activity == .stopped)
        let middle = seen.dropFirst().dropLast()
        #expect(middle.count == 14)
        for event in middle {
            guard case .between(let percent?) = event.position else {
                Issue.record("\(event.position) between the ends")
                continue
            }
            // Within one raw count (0.09 %) of where the mechanism put the bolt at that time.
            let truth = Double((event.timestamp - .zero).totalNanoseconds) / 1.5e7
            #expect(abs(percent - truth) < 0.1, "at \(event.timestamp)")
        }
        sensor.stopSampling()
        #expect(!sensor.isSampling)
        let transfers = bus.transfers.count
        let timers = bench.clock.firedTimerCount
        bench.clock.advance(by: .seconds(60))
        #expect(bus.transfers.count == transfers, "no I2C traffic while idle")
        #expect(bench.clock.firedTimerCount == timers, "no timers while idle")
    }

    @Test("a magnet problem while sampling is reported as a fault event")
    func samplingMagnetFault() throws {
        let bus = SimulatedI2CBus()
        let chip = SimulatedAS5600()
        chip.setRawAngle(3900)
        bus.attach(chip, at: address)
        let sensor = try AS5600BoltSensor(bus: bus, calibration: calibration, clock: clock)
        let events = MotionRecorder<BoltPositionEvent>()
        sensor.setChangeHandler { events.append($0) }
        sensor.startSampling(every: .milliseconds(50))
        clock.advance(by: .milliseconds(120))
        chip.setMagnet(.tooWeak)
        clock.advance(by: .milliseconds(50))
        bus.detach(at: address)
        clock.advance(by: .milliseconds(50))
        let positions = events.all.map(\.position)
        #expect(positions.count == 3)
        #expect(positions.first == .retracted)
        #expect(
            events.all.map(\.timestamp) == [.zero, .zero + .milliseconds(150), .zero + .milliseconds(200)])
        if case .fault(let why) = positions[1] {
            #expect(why.contains("too weak"))
        } else {
            Issue.record("weak")
        }
        if case .fault(let why) = positions[2] {
            #expect(why.contains("cannot read"))
        } else {
            Issue.record("gone")
        }
        sensor.stopSampling()
    }
}
