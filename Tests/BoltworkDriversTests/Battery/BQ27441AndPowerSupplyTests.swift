import BoltworkDrivers
import BoltworkHAL
import BoltworkSimulation
import Foundation
import Testing

/// Byte-exact tests of the BQ27441 driver: standard commands are little-endian words, so a
/// word read returns the LSB first ([0x74, 0x0E] is 0x0E74 = 3700 mV).
@Suite("BQ27441 transfers")
struct BQ27441ScriptedTests {
    let address = I2CAddress(constant: 0x55)

    func read(_ command: UInt8, _ value: UInt16) -> ScriptedI2CBus.Expectation {
        .transfer(
            .readWordData(register: command), at: address,
            returning: [UInt8(value & 0xFF), UInt8(value >> 8)])
    }

    func script(voltage: UInt16 = 3700, flags: UInt16 = 0x0009, soc: UInt16 = 87) -> ScriptedI2CBus {
        ScriptedI2CBus([
            read(0x04, voltage), read(0x06, flags), read(0x1C, soc),
            read(0x10, 0xFF06),  // -250 mA
            read(0x0C, 1740), read(0x0E, 2000),
            read(0x20, 0x0362),  // status "ready" in the high byte, 98 % in the low byte
            read(0x02, 2982),  // 298.2 K
        ])
    }

    @Test("a read takes eight little-endian standard commands and scales them")
    func reading() throws {
        let clock = VirtualClock(start: MonotonicInstant(nanoseconds: 7_000_000))
        let bus = script()
        let gauge = BQ27441(bus: bus, clock: clock)
        let details = try gauge.readDetails()
        let reading = details.reading
        #expect(reading.millivolts == 3700)
        #expect(reading.percent == 87)
        #expect(reading.averageMilliamps == -250)
        #expect(reading.remainingMilliampHours == 1740)
        #expect(reading.fullMilliampHours == 2000)
        #expect(reading.healthPercent == 98)
        #expect(reading.flags == ["discharging"])
        #expect(reading.timestamp == clock.now)
        #expect(details.flags == [.discharging, .batteryDetected])
        #expect(abs(details.celsius - 25.05) < 1e-9)
        try bus.verify()
        #expect(gauge.name == "BQ27441 at 0x55 on scripted-i2c")
    }

    @Test("flags decode every documented bit; a missing battery is named")
    func flags() {
        let all = BQ27441.Flags(rawValue: 0xC22F)
        #expect(
            all.names == [
                "discharging", "SOC final", "SOC low", "reset", "full", "under temperature",
                "over temperature",
            ])
        #expect(BQ27441.Flags(rawValue: 0x0000).names == ["battery not detected"])
        #expect(BQ27441.celsius(temperature: 2731) == -0.05)
    }

    @Test("voltage 0, voltage above 5 V and SOC above 100 % are implausible")
    func implausible() {
        for (bus, text) in [
            (script(voltage: 0), "Voltage() reads 0 mV"), (script(voltage: 0xFFFF), "65535 mV"),
            (script(soc: 0xFFFF), "StateOfCharge() reads 65535 %"), (script(soc: 101), "101 %"),
        ] {
            let error = #expect(throws: DeviceError.self) {
                try BQ27441(bus: bus, clock: VirtualClock()).read()
            }
            #expect(error?.kind == .implausible)
            #expect(error?.detail.contains(text) == true)
            #expect(error?.detail.contains("check the wiring") == true)
        }
    }

    @Test("DEVICE_TYPE goes through Control(): subcommand 0x0001 written LSB first, answer read from 0x00")
    func deviceType() throws {
        let bus = ScriptedI2CBus([
            .transfer(.writeWordData(register: 0x00, value: 0x0001), at: address), read(0x00, 0x0421),
            .transfer(.writeWordData(register: 0x00, value: 0x0001), at: address), read(0x00, 0x0000),
        ])
        let gauge = BQ27441(bus: bus, clock: VirtualClock())
        #expect(try gauge.verifyDeviceType() == 0x0421)
        let other = #expect(throws: DeviceError.self) { try gauge.verifyDeviceType() }
        #expect(other?.kind == .implausible)
        #expect(other?.detail.contains("DEVICE_TYPE reads 0x0000 instead of 0x0421") == true)
        try bus.verify()
    }

    @Test("an I2C failure throws .hardware naming the command")
    func hardware() {
        let bus = ScriptedI2CBus([
            .transfer(.readWordData(register: 0x04), at: address, failingWith: .noAcknowledge(.address))
        ])
        let error = #expect(throws: DeviceError.self) { try BQ27441(bus: bus, clock: VirtualClock()).read() }
        #expect(error?.kind == .hardware)
        #expect(error?.detail.hasPrefix("cannot read Voltage (register 0x04)") == true)
        #expect((error?.underlying as? I2CError)?.kind == .noAcknowledge(.address))
    }
}

/// The power_supply gauge against a temporary directory laid out like
/// /sys/class/power_supply.
@Suite("power_supply gauge")
struct PowerSupplyGaugeTests {
    /// A temporary power_supply root with the given supplies and files.
    final class Root {
        let url: URL
        init(_ supplies: [String: [String: String]]) throws {
            url = FileManager.default.temporaryDirectory.appendingPathComponent(
                "boltwork-ps-\(UUID().uuidString)")
            for (supply, files) in supplies {
                let directory = url.appendingPathComponent(supply)
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                for (name, text) in files {
                    try text.write(
                        to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
                }
            }
        }
        var path: String { url.path }
        deinit { try? FileManager.default.removeItem(at: url) }
    }

    @Test("capacity, voltage_now, status and current_now become a reading")
    func reading() throws {
        let root = try Root([
            "battery": [
                "type": "Battery\n", "capacity": "87\n", "voltage_now": "3912400\n",
                "status": "Discharging\n",
                "current_now": "-250000\n", "charge_now": "1740000\n", "charge_full": "2000000\n",
            ]
        ])
        let clock = VirtualClock(start: MonotonicInstant(nanoseconds: 3_000_000))
        let gauge = PowerSupplyGauge(supply: "battery", root: root.path, clock: clock)
        let reading = try gauge.read()
        #expect(reading.percent == 87)
        #expect(reading.millivolts == 3912)
        #expect(reading.averageMilliamps == -250)
        #expect(reading.remainingMilliampHours == 1740)
        #expect(reading.fullMilliampHours == 2000)
        #expect(reading.flags == ["discharging"])
        #expect(reading.timestamp == clock.now)
        #expect(gauge.name == "power_supply battery (\(root.path)/battery)")
    }

    @Test("optional files may be missing; a positive current while discharging is made negative")
    func optionalFiles() throws {
        let root = try Root(["max1704x-battery": ["capacity": "42", "voltage_now": "3700000"]])
        let plain = try PowerSupplyGauge(supply: "max1704x-battery", root: root.path, clock: VirtualClock())
            .read()
        #expect(plain.averageMilliamps == nil)
        #expect(plain.remainingMilliampHours == nil)
        #expect(plain.flags.isEmpty)

        let positive = try Root([
            "bq27441-0": [
                "capacity": "60", "voltage_now": "3800000", "status": "Discharging", "current_now": "300000",
            ]
        ])
        let reading = try PowerSupplyGauge(supply: "bq27441-0", root: positive.path, clock: VirtualClock())
            .read()
        #expect(reading.averageMilliamps == -300)
    }

    @Test("a missing supply lists the supplies that exist")
    func missingSupply() throws {
        let root = try Root([
            "AC": ["type": "Mains", "online": "1"], "BAT0": ["capacity": "50", "voltage_now": "3800000"],
        ])
        let error = #expect(throws: DeviceError.self) {
            try PowerSupplyGauge(supply: "battery", root: root.path, clock: VirtualClock()).read()
        }
        #expect(error?.kind == .configuration)
        #expect(
            error?.detail == "no power supply 'battery' in \(root.path); the supplies there are: AC, BAT0")
        #expect(PowerSupplyGauge.supplies(root: root.path) == ["AC", "BAT0"])

        let charger = #expect(throws: DeviceError.self) {
            try PowerSupplyGauge(supply: "AC", root: root.path, clock: VirtualClock()).read()
        }
        #expect(charger?.kind == .configuration)
        #expect(
            charger?.detail.contains("has no capacity, so it is not a battery gauge (its type is Mains)")
                == true)
        #expect(charger?.detail.contains("other supplies: BAT0") == true)

        let empty = try Root([:])
        try FileManager.default.createDirectory(at: empty.url, withIntermediateDirectories: true)
        let none = #expect(throws: DeviceError.self) {
            try PowerSupplyGauge(supply: "battery", root: empty.path, clock: VirtualClock()).read()
        }
        #expect(none?.detail.contains("there are none: is the gauge's kernel driver loaded") == true)
    }

    @Test("capacity above 100 %, 0 V or a voltage above 5 V per cell are implausible")
    func implausible() throws {
        for (files, text) in [
            (["capacity": "150", "voltage_now": "3800000"], "capacity reads 150 %"),
            (["capacity": "50", "voltage_now": "0"], "voltage_now reads 0 uV"),
            (["capacity": "50", "voltage_now": "8400000"], "8400 mV"),
            (["capacity": "fifty", "voltage_now": "3800000"], "capacity reads 'fifty'"),
        ] {
            let root = try Root(["battery": files])
            let error = #expect(throws: DeviceError.self) {
                try PowerSupplyGauge(supply: "battery", root: root.path, clock: VirtualClock()).read()
            }
            #expect(error?.kind == .implausible)
            #expect(error?.detail.contains(text) == true)
        }
        let pack = try Root(["battery": ["capacity": "50", "voltage_now": "8400000"]])
        let reading = try PowerSupplyGauge(
            supply: "battery", root: pack.path, cells: 2, clock: VirtualClock()
        ).read()
        #expect(reading.millivolts == 8400)
    }
}
