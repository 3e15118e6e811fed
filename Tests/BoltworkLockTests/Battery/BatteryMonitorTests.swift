import BoltworkDrivers
import BoltworkHAL
import BoltworkLock
import BoltworkSimulation
import Testing

@Suite("Battery policy")
struct BatteryMonitorTests {
    let clock = VirtualClock()
    let battery: SimulatedBattery
    let chip: SimulatedMAX17048
    let bus = SimulatedI2CBus()
    let monitor: BatteryMonitor
    let notices = Protected([BatteryNotice]())

    init() {
        battery = SimulatedBattery(clock: clock, capacityMilliampHours: 1000, stateOfCharge: 40)
        chip = SimulatedMAX17048(battery: battery)
        bus.attach(chip, at: I2CAddress(constant: 0x36))
        monitor = BatteryMonitor(gauge: MAX17048(bus: bus, clock: clock), clock: clock)
        let notices = self.notices
        monitor.setNoticeHandler { notice in notices.withLock { $0.append(notice) } }
    }

    var levels: [BatteryLevel] {
        notices.withLock { $0 }.compactMap { notice in
            if case .levelChanged(let level, _) = notice { return level }
            return nil
        }
    }

    @Test("discharging crosses low, critical and reserve once each, on the periodic reads")
    func crossings() {
        monitor.start()
        clock.runUntilIdle()
        #expect(monitor.level == .normal)
        // 100 mA from 40 % of 1000 mAh: 1 % every 6 minutes; reads every 15 minutes.
        battery.setLoad(milliamps: 100)
        clock.advance(by: .seconds(4 * 3600))
        #expect(levels == [.low, .critical, .reserve])
        #expect(monitor.moveRefusal()?.contains("below the reserve") == true)
        let timersWhileMonitoring = clock.firedTimerCount
        monitor.stop()
        clock.advance(by: .seconds(3600))
        #expect(clock.firedTimerCount == timersWhileMonitoring, "a stopped monitor schedules nothing")
    }

    @Test("a reading wobbling around a threshold raises one event (hysteresis), clearing needs 2 points")
    func hysteresis() {
        battery.setStateOfCharge(24.5)
        monitor.refresh()
        battery.setStateOfCharge(25.5)
        monitor.refresh()
        battery.setStateOfCharge(24.8)
        monitor.refresh()
        #expect(levels == [.low])
        battery.setStateOfCharge(27.5)
        monitor.refresh()
        #expect(levels == [.low, .normal])
    }

    @Test("moves are allowed above the reserve and refused below it, by charge or by voltage")
    func refusal() {
        battery.setStateOfCharge(8)
        #expect(monitor.moveRefusal() == nil, "critical still moves")
        battery.setStateOfCharge(4)
        #expect(monitor.moveRefusal() != nil)

        let lowVoltage = BatteryReading(millivolts: 3400, percent: 30, timestamp: clock.now)
        #expect(monitor.classify(lowVoltage, previous: .normal) == .reserve)
    }

    @Test("a gauge fault is reported once and does not refuse moves; recovery is reported")
    func gaugeFault() {
        monitor.refresh()
        bus.injectFault(.noAcknowledge(.address), schedule: .next(3))
        #expect(monitor.moveRefusal() == nil)
        monitor.refresh()
        #expect(monitor.fault?.contains("0x36") == true)
        chip.force(0x04, to: 0xFFFF)
        monitor.refresh()
        let faults = notices.withLock { $0 }.filter { if case .gaugeFault = $0 { true } else { false } }
        #expect(faults.count == 1)
        chip.clearForcedRegisters()
        monitor.refresh()
        #expect(monitor.fault == nil)
        #expect(notices.withLock { $0 }.contains { if case .gaugeRecovered = $0 { true } else { false } })
    }
}
