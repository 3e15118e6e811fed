import BoltworkDrivers
import BoltworkHAL
import BoltworkSimulation
import Testing

/// The real gauge drivers against the behavioural battery and chip models, on virtual time.
@Suite("Fuel gauges on the simulated battery")
struct GaugeSimulationTests {
    let maxAddress = I2CAddress(constant: 0x36)
    let bqAddress = I2CAddress(constant: 0x55)

    struct Rig {
        let clock = VirtualClock()
        let bus = SimulatedI2CBus()
        let battery: SimulatedBattery
        let chip: SimulatedMAX17048
        let gauge: MAX17048
        let gpio: SimulatedGPIOChip

        init(capacity: Double = 2000, percent: Double = 100, baseLoad: Double = 0) {
            battery = SimulatedBattery(
                clock: clock, capacityMilliampHours: capacity, stateOfCharge: percent,
                internalResistanceOhms: 0.15,
                baseLoadMilliamps: baseLoad)
            gpio = SimulatedGPIO(clock: clock).addChip(label: "gpio", lineNames: ["GPIO4"])
            chip = SimulatedMAX17048(battery: battery, alertChip: gpio, alertLine: "GPIO4")
            bus.attach(chip, at: I2CAddress(constant: 0x36))
            gauge = MAX17048(bus: bus, clock: clock)
        }
    }

    @Test("the curve interpolates and reads backwards")
    func curve() {
        #expect(SimulatedBattery.openCircuitMillivolts(atPercent: 100) == 4200)
        #expect(SimulatedBattery.openCircuitMillivolts(atPercent: 85) == 4040)
        #expect(SimulatedBattery.openCircuitMillivolts(atPercent: -5) == 3000)
        for percent in stride(from: 0.0, through: 100, by: 7.5) {
            let millivolts = SimulatedBattery.openCircuitMillivolts(atPercent: percent)
            #expect(abs(SimulatedBattery.percent(atOpenCircuitMillivolts: millivolts) - percent) < 1e-9)
        }
    }

    @Test("the battery discharges over virtual hours without any timer ticking")
    func discharge() throws {
        let rig = Rig(capacity: 2000, percent: 100, baseLoad: 200)
        let start = try rig.gauge.read()
        #expect(start.percent == 100)
        #expect(start.millivolts == Int((4200 - 200 * 0.15).rounded()))

        rig.clock.advance(by: .seconds(2 * 3600))  // 400 mAh of 2000 mAh
        let later = try rig.gauge.read()
        #expect(abs(rig.battery.stateOfCharge - 80) < 1e-9)
        #expect(abs(later.percent - 80) <= 1.0 / 256)
        let expected = SimulatedBattery.openCircuitMillivolts(atPercent: 80) - 200 * 0.15
        #expect(abs(Double(later.millivolts) - expected) <= 1)
        // -10 %/h in CRATE's 0.208 %/h steps.
        #expect(later.ratePercentPerHour == (-10 / 0.208).rounded() * 0.208)
        #expect(rig.clock.firedTimerCount == 0)

        rig.clock.advance(by: .seconds(9 * 3600))  // more than the 1600 mAh left
        #expect(rig.battery.stateOfCharge == 0)
        let empty = try rig.gauge.read()
        #expect(empty.percent == 0)
        #expect(empty.millivolts == Int((3000 - 200 * 0.15).rounded()))
    }

    @Test("a running motor sags the terminal voltage by load × internal resistance")
    func motorSag() throws {
        let rig = Rig(capacity: 2000, percent: 60, baseLoad: 100)
        let idle = try rig.gauge.read()
        rig.battery.setLoad(milliamps: 1200, source: "motor")
        let running = try rig.gauge.read()
        #expect(abs(Double(idle.millivolts - running.millivolts) - 1200 * 0.15) <= 1)
        #expect(try #require(running.ratePercentPerHour) < (idle.ratePercentPerHour ?? 0))

        // Half an hour of motor: the charge drops by (1200 + 100) mA × 0.5 h = 650 mAh = 32.5 %.
        rig.clock.advance(by: .seconds(1800))
        rig.battery.setLoad(milliamps: 0, source: "motor")
        let stopped = try rig.gauge.read()
        #expect(abs(stopped.percent - 27.5) <= 1.0 / 256)
        let expected = SimulatedBattery.openCircuitMillivolts(atPercent: 27.5) - 100 * 0.15
        #expect(abs(Double(stopped.millivolts) - expected) <= 1)
    }

    @Test("the BQ27441 model reports the motor current and the sagged voltage")
    func bq27441() throws {
        let clock = VirtualClock()
        let battery = SimulatedBattery(clock: clock, capacityMilliampHours: 1000, stateOfCharge: 50)
        let chip = SimulatedBQ27441(battery: battery)
        chip.setHealth(percent: 90)
        let bus = SimulatedI2CBus()
        bus.attach(chip, at: bqAddress)
        let gauge = BQ27441(bus: bus, clock: clock)

        let idle = try gauge.readDetails()
        #expect(idle.reading.millivolts == 3820)
        #expect(idle.reading.averageMilliamps == 0)
        #expect(idle.reading.fullMilliampHours == 900)
        #expect(idle.reading.remainingMilliampHours == 450)
        #expect(idle.reading.healthPercent == 90)
        #expect(idle.flags.contains(.resetOccurred))
        #expect(!idle.flags.contains(.discharging))
        #expect(abs(idle.celsius - 25.05) < 1e-9)

        battery.setLoad(milliamps: 800, source: "motor")
        let running = try gauge.readDetails()
        #expect(running.reading.millivolts == 3820 - 120)
        #expect(running.reading.averageMilliamps == -800)
        #expect(running.flags.contains(.discharging))

        clock.advance(by: .seconds(1800))  // 400 mAh of 1000: 50 % to 10 %
        let low = try gauge.readDetails()
        #expect(low.reading.percent == 10)
        #expect(low.flags.contains(.stateOfChargeLow))
        #expect(!low.flags.contains(.stateOfChargeFinal))

        // Little-endian on the wire: Voltage() LSB first.
        battery.setLoad(milliamps: 0, source: "motor")
        #expect(try bus.readBlock(from: bqAddress, register: 0x04, count: 2) == [0x10, 0x0E])  // 3600 mV
        // Control(): DEVICE_TYPE, then SOFT_RESET clears ITPOR.
        try bus.writeWord(0x0001, to: bqAddress, register: 0x00)
        #expect(try bus.readWord(from: bqAddress, register: 0x00) == 0x0421)
        try bus.writeWord(0x0042, to: bqAddress, register: 0x00)
        #expect(try !gauge.readDetails().flags.contains(.resetOccurred))
    }

    @Test("forced implausible registers become .implausible, on both gauges")
    func implausible() throws {
        let rig = Rig(percent: 50)
        _ = try rig.gauge.read()
        rig.chip.force(0x04, to: 0xFFFF)
        #expect(throws: DeviceError.self) { try rig.gauge.read() }
        rig.chip.clearForcedRegisters()
        rig.chip.force(0x02, to: 0x0000)
        let zero = #expect(throws: DeviceError.self) { try rig.gauge.read() }
        #expect(zero?.kind == .implausible)
        // A full MAX17048 reads a little over 100 %: within the tolerance it reads as 100 %.
        rig.chip.clearForcedRegisters()
        rig.chip.force(0x04, to: 0x6480)
        #expect(try rig.gauge.read().percent == 100)
        rig.chip.clearForcedRegisters()
        #expect(try rig.gauge.read().percent == 50)

        rig.chip.force(0x08, to: 0x0E00)  // what an AS5600's CONF register could answer
        let fresh = MAX17048(bus: rig.bus, clock: rig.clock)
        let version = #expect(throws: DeviceError.self) { try fresh.read() }
        #expect(version?.kind == .implausible)
        #expect(version?.detail.contains("AS5600") == true)

        let battery = SimulatedBattery(clock: rig.clock)
        let bq = SimulatedBQ27441(battery: battery)
        let bus = SimulatedI2CBus()
        bus.attach(bq, at: bqAddress)
        let gauge = BQ27441(bus: bus, clock: rig.clock)
        bq.force(0x04, to: 0)
        #expect((#expect(throws: DeviceError.self) { try gauge.read() })?.kind == .implausible)
        bq.clearForcedRegisters()
        bq.force(0x1C, to: 0xFFFF)
        #expect((#expect(throws: DeviceError.self) { try gauge.read() })?.kind == .implausible)
    }

    @Test("a missing gauge or a bus fault is .hardware wrapping the I2C error")
    func busFaults() throws {
        let rig = Rig()
        rig.bus.injectFault(.timeout, at: maxAddress, schedule: .next(1))
        let timeout = #expect(throws: DeviceError.self) { try rig.gauge.read() }
        #expect(timeout?.kind == .hardware)
        #expect((timeout?.underlying as? I2CError)?.errno == 110)
        rig.bus.detach(at: maxAddress)
        let missing = #expect(throws: DeviceError.self) { try rig.gauge.read() }
        #expect(missing?.detail.contains("check SDA/SCL, power, pull-ups and the address") == true)
    }

    @Test("the low-SOC alert pulls ALRT low at the threshold and reaches the driver's handler")
    func alert() throws {
        let rig = Rig(capacity: 1000, percent: 30, baseLoad: 500)  // 50 %/h: 20 % after 12 min
        let alerts = Protected<[MAX17048.Alert]>([])
        let request = try rig.gauge.requestAlertLine(on: rig.gpio, line: .name("GPIO4")) { result in
            if case .success(let alert) = result { alerts.withLock { $0.append(alert) } }
        }
        try rig.gauge.setAlertThreshold(percent: 20)
        #expect(rig.chip.register(0x0C) == 0x970C)
        #expect(rig.gpio.level(of: "GPIO4") == .high)

        rig.clock.advance(by: .seconds(11 * 60))
        #expect(alerts.withLock { $0.isEmpty })
        #expect(!rig.chip.isAlertAsserted)

        rig.clock.advance(by: .seconds(2 * 60))
        let fired = alerts.withLock { $0 }
        #expect(fired.count == 1)
        #expect(fired.first?.causes == .stateOfChargeLow)
        let at = try #require(fired.first?.timestamp)
        #expect(at >= MonotonicInstant.zero + .seconds(12 * 60))
        #expect(at < MonotonicInstant.zero + .seconds(12 * 60) + .milliseconds(2))
        // The pin went low at the crossing and was released once the driver cleared ALRT.
        let levels = rig.gpio.history(of: "GPIO4").map(\.level)
        #expect(levels.suffix(3) == [.high, .low, .high])
        #expect(!rig.chip.isAlertAsserted)
        #expect(try !rig.gauge.status().contains(.stateOfChargeLow))
        #expect(try rig.gauge.status().contains(.resetIndicator))

        // Still below the threshold: no new alert until the charge rises above it again.
        rig.clock.advance(by: .seconds(3600))
        #expect(alerts.withLock { $0.count } == 1)
        rig.battery.setStateOfCharge(90)
        rig.battery.setLoad(milliamps: 0)
        rig.clock.advance(by: .seconds(1))
        _ = try rig.gauge.read()
        rig.battery.setStateOfCharge(10)
        rig.clock.advance(by: .seconds(1))
        #expect(alerts.withLock { $0.count } == 2)
        request.release()
    }

    @Test("a motor current that pulls the cell under VALRT.MIN raises a voltage-low alert")
    func voltageAlert() throws {
        let rig = Rig(capacity: 2000, percent: 50, baseLoad: 0)
        let alerts = Protected<[MAX17048.Status]>([])
        try rig.gauge.requestAlertLine(on: rig.gpio, line: .name("GPIO4")) { result in
            if case .success(let alert) = result { alerts.withLock { $0.append(alert.causes) } }
        }
        // VALRT: minimum 3.70 V (185 × 20 mV), maximum 5.1 V.
        try rig.bus.writeWordBigEndian(0xB9FF, to: maxAddress, register: 0x14)
        rig.clock.runUntilIdle()
        #expect(alerts.withLock { $0.isEmpty })
        rig.battery.setLoad(milliamps: 1000, source: "motor")  // 3820 - 150 = 3670 mV
        rig.clock.runUntilIdle()
        #expect(alerts.withLock { $0 } == [.voltageLow])
    }

    @Test("with CONFIG.ALSC set, each whole percent lost raises a SOC-change alert")
    func socChangeAlert() throws {
        let rig = Rig(capacity: 1000, percent: 50.5, baseLoad: 100)  // 10 %/h: one percent per 6 min
        let alerts = Protected<[MAX17048.Alert]>([])
        try rig.gauge.requestAlertLine(on: rig.gpio, line: .name("GPIO4")) { result in
            if case .success(let alert) = result { alerts.withLock { $0.append(alert) } }
        }
        var config = try rig.gauge.configuration()
        config.stateOfChargeChangeAlert = true
        try rig.bus.writeWordBigEndian(config.rawValue, to: maxAddress, register: 0x0C)
        rig.clock.advance(by: .seconds(60 * 60))  // 50.5 % to 40.5 %
        let fired = alerts.withLock { $0 }
        #expect(fired.count == 10)
        #expect(fired.allSatisfy { $0.causes == .stateOfChargeChange })
        // 50 % is crossed after 3 min, then one every 6 min.
        let minutes = fired.map { Double($0.timestamp.nanoseconds) / 60e9 }
        #expect(minutes.enumerated().allSatisfy { abs($0.element - (3 + 6 * Double($0.offset))) < 0.001 })
    }

    @Test("quick-start re-estimates from the voltage: right at rest, low under load")
    func quickStart() throws {
        let rig = Rig(capacity: 2000, percent: 60)
        rig.chip.setEstimateError(percent: 15)
        #expect(abs(try rig.gauge.read().percent - 75) <= 1.0 / 256)
        try rig.gauge.quickStart()
        #expect(rig.chip.quickStartCount == 1)
        #expect(abs(try rig.gauge.read().percent - 60) <= 1.0 / 256)

        rig.battery.setLoad(milliamps: 1000, source: "motor")
        try rig.gauge.quickStart()
        let underLoad = try rig.gauge.read().percent
        let expected = SimulatedBattery.percent(
            atOpenCircuitMillivolts: SimulatedBattery.openCircuitMillivolts(atPercent: 60) - 150)
        #expect(abs(underLoad - expected) <= 1.0 / 256)
        #expect(underLoad < 55)
    }

    @Test("a CMD reset is not acknowledged by the chip, succeeds in the driver and restores CONFIG")
    func reset() throws {
        let rig = Rig(percent: 50)
        try rig.gauge.setAlertThreshold(percent: 15)
        try rig.gauge.clearAlerts()
        #expect(try rig.gauge.status().isEmpty)
        try rig.gauge.reset()
        #expect(rig.chip.resetCount == 1)
        #expect(try rig.gauge.configuration() == MAX17048.Configuration(rawValue: 0x971C))
        #expect(try rig.gauge.status() == .resetIndicator)
        #expect(try rig.gauge.read().flags == ["reset"])
        #expect(rig.bus.transfers.contains { $0.operation == .readWordData(register: 0x08) })
    }

    @Test("read-only registers ignore writes; a byte write does not land half a register")
    func registerSemantics() throws {
        let rig = Rig(percent: 50)
        try rig.bus.writeWordBigEndian(0x1234, to: maxAddress, register: 0x04)
        try rig.bus.writeWordBigEndian(0x0000, to: maxAddress, register: 0x08)
        #expect(try rig.bus.readWordBigEndian(from: maxAddress, register: 0x04) == 0x3200)
        #expect(try rig.bus.readWordBigEndian(from: maxAddress, register: 0x08) == 0x0012)
        try rig.bus.writeByte(0x00, to: maxAddress, register: 0x0C)
        #expect(rig.chip.register(0x0C) == 0x971C)
        #expect(try rig.bus.readBlock(from: maxAddress, register: 0x0C, count: 2) == [0x97, 0x1C])
        #expect(try rig.bus.writeRead([0x08], readCount: 2, at: maxAddress) == [0x00, 0x12])
    }
}
