import BoltworkBoard
import BoltworkDrivers
import BoltworkHAL
import BoltworkLock
import BoltworkSimulation
import Foundation
import Testing

/// The battery policy in the whole lock: the simulated cell and MAX17048 on the simulated I2C
/// bus, read by the real driver.
@Suite("Battery scenarios on the simulated board")
struct BatteryScenarioTests {
    /// The periodic gauge read.
    static let readInterval: Duration = .seconds(15 * 60)
    /// The gauge's address on the simulated board.
    static let gaugeAddress = I2CAddress(constant: 0x36)

    @Test("low and critical are each recorded once when crossed; moves still run above the reserve")
    func crossings() async throws {
        let bench = try LockBench(batteryPercent: 40, autoRelock: .zero)
        defer { bench.shutdown() }
        bench.controller.start()
        let mark = try bench.mark()
        func batteryEvents() throws -> [AuditEvent] {
            try bench.events(after: mark).filter { [.batteryLow, .batteryCritical].contains($0.action) }
        }

        bench.sim.battery.setStateOfCharge(24)
        bench.clock.advance(by: Self.readInterval)
        #expect(try batteryEvents().map(\.detail) == ["battery at 24 %"])
        #expect(bench.controller.status().batteryLevel == .low)
        // Lower still, read periodically and before every move: no new event.
        bench.sim.battery.setStateOfCharge(20)
        bench.clock.advance(by: Self.readInterval * 4)
        #expect(try await bench.remote { await $0.lock(source: .remote) } == .done(.locked))
        #expect(try await bench.remote { await $0.unlock(source: .remote) } == .done(.unlocked))
        #expect(try batteryEvents().map(\.action) == [.batteryLow])

        bench.sim.battery.setStateOfCharge(9)
        bench.clock.advance(by: Self.readInterval)
        bench.sim.battery.setStateOfCharge(7)
        bench.clock.advance(by: Self.readInterval * 4)
        #expect(
            try await bench.remote { await $0.lock(source: .remote) } == .done(.locked),
            "critical still moves")
        #expect(try await bench.remote { await $0.unlock(source: .remote) } == .done(.unlocked))
        let events = try batteryEvents()
        #expect(events.map(\.action) == [.batteryLow, .batteryCritical])
        #expect(events.last?.detail == "battery at 9 %")
        #expect(bench.controller.status().batteryLevel == .critical)
        #expect(bench.percent < 2)
        #expect(bench.motorIsOff)
    }

    @Test("below the reserve a granted code is refused as insufficient battery and the bolt stays at its end")
    func insufficientBattery() async throws {
        let bench = try LockBench(batteryPercent: 50, autoRelock: .zero)
        defer { bench.shutdown() }
        try bench.startLocked()
        let ada = try bench.controller.access.initializeAdmin(name: "Ada", pin: adminCode)
        bench.sim.battery.setStateOfCharge(4)
        bench.clock.advance(by: Self.readInterval)
        let critical = try #require(try bench.events(.batteryCritical).last)
        #expect(critical.detail == "battery at 4 %, below the reserve: motor moves are refused")
        #expect(bench.controller.status().batteryLevel == .reserve)

        let started = bench.clock.now
        let mark = try bench.mark()
        bench.type(adminCode + "#")
        bench.clock.advance(by: .seconds(3))
        let refused = try bench.events(after: mark)
        #expect(refused.map(\.action) == [.insufficientBattery])
        #expect(refused.first?.source == .keypad)
        #expect(refused.first?.userID == ada.id)
        let detail = try #require(refused.first?.detail)
        #expect(detail.hasPrefix("battery at 4 % ("))
        #expect(detail.contains("is below the reserve (5 % / 3450 mV): replace or charge it"))
        #expect(bench.controller.bolt.state == .locked)
        #expect(bench.percent > 98, "still fully thrown")
        #expect(bench.motorIsOff)
        #expect(try bench.motorRuns(since: started).retract.isEmpty, "the motor never started")
        // The long "refused" beep at once, cutting the "accepted" one short: the door will not open.
        let heard = try bench.pulses(of: "BUZZER", since: started).map(\.length)
        #expect(heard.last == .milliseconds(600))
        #expect(!heard.contains(.milliseconds(100)), "\(heard)")

        // The remote channel with a code: refused the same way.
        let remote = try await bench.remote { await $0.unlock(source: .remote, code: adminCode) }
        #expect(remote == .refused(.insufficientBattery, detail))
        #expect(try bench.events(after: mark).last?.userID == ada.id)

        // Charged, an unlock without a code (a trusted caller) works, and is nobody's code.
        bench.sim.battery.setStateOfCharge(60)
        #expect(try await bench.remote { await $0.unlock(source: .remote) } == .done(.unlocked))
        let unlocked = try #require(try bench.events(after: mark).last)
        #expect(unlocked.action == .unlocked)
        #expect(unlocked.source == .remote)
        #expect(unlocked.userID == nil, "not Ada's: her refused request ended with its refusal")
        #expect(bench.percent < 2)
        #expect(bench.motorIsOff)
    }

    enum GaugeFault: String, CaseIterable, Sendable {
        /// The chip answers, with a state of charge of 0xFFFF (256 %).
        case garbage
        /// Every transfer to the chip fails with a bus error.
        case busFault
    }

    @Test(
        "a gauge fault is one event per episode, refuses no move, and clears when the gauge reads again",
        arguments: GaugeFault.allCases)
    func gaugeFault(_ fault: GaugeFault) async throws {
        let bench = try LockBench(batteryPercent: 80, autoRelock: .zero)
        defer { bench.shutdown() }
        let bus = try #require(bench.sim.buses[1])
        // A gauge model the scenario can reach, on the same cell, in place of the board's.
        let gauge = SimulatedMAX17048(battery: bench.sim.battery)
        bus.attach(gauge, at: Self.gaugeAddress)
        bench.controller.start()
        bench.clock.advance(by: .seconds(1))
        #expect(bench.controller.status().gaugeFault == nil)
        let mark = try bench.mark()

        func breakGauge() {
            switch fault {
            case .garbage: gauge.force(0x04, to: 0xFFFF)
            case .busFault: bus.injectFault(.bus, at: Self.gaugeAddress, schedule: .always)
            }
        }
        func repairGauge() {
            gauge.clearForcedRegisters()
            bus.clearFaults()
        }

        breakGauge()
        bench.clock.advance(by: Self.readInterval)
        let faults = try bench.events(.gaugeFault)
        #expect(faults.count == 1)
        let detail = try #require(faults.first?.detail)
        #expect(detail.contains("0x36") || detail.contains("MAX17048"), "names the gauge: \(detail)")
        let status = bench.controller.status()
        #expect(status.gaugeFault == detail)
        // More reads, and moves (which read the gauge first) still run: no new event.
        bench.clock.advance(by: Self.readInterval * 3)
        #expect(try await bench.remote { await $0.lock(source: .remote) } == .done(.locked))
        #expect(bench.percent > 98)
        #expect(try bench.events(.gaugeFault).count == 1)

        repairGauge()
        bench.clock.advance(by: Self.readInterval)
        #expect(bench.controller.status().gaugeFault == nil)
        #expect(bench.controller.status().batteryLevel == .normal)
        let reading = try #require(bench.controller.status().battery)
        #expect(abs(reading.percent - bench.sim.battery.stateOfCharge) < 1)

        // A new episode is a new event.
        breakGauge()
        bench.clock.advance(by: Self.readInterval)
        #expect(try bench.events(.gaugeFault).count == 2)
        #expect(
            try bench.actions(after: mark).filter { $0.category == .alarm } == [.gaugeFault, .gaugeFault])
        #expect(bench.motorIsOff)
    }
}
