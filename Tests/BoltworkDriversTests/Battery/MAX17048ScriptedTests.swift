import BoltworkDrivers
import BoltworkHAL
import BoltworkSimulation
import Testing

/// Byte-exact tests of the MAX17048 driver: every transfer, register address and byte order is
/// pinned against the datasheet. Word reads return the bytes in wire order: the MAX17048 sends
/// the MSB first, so VCELL 0xC350 arrives as [0xC3, 0x50]; a big-endian word write of 0x5400
/// travels as SMBus value 0x0054 (low byte 0x54 first on the wire).
@Suite("MAX17048 transfers")
struct MAX17048ScriptedTests {
    let address = I2CAddress(constant: 0x36)

    func read(_ register: UInt8, _ msb: UInt8, _ lsb: UInt8) -> ScriptedI2CBus.Expectation {
        .transfer(.readWordData(register: register), at: address, returning: [msb, lsb])
    }

    func write(_ register: UInt8, smbusValue: UInt16) -> ScriptedI2CBus.Expectation {
        .transfer(.writeWordData(register: register, value: smbusValue), at: address)
    }

    @Test("the first read checks VERSION, then reads VCELL, SOC, CRATE and STATUS big-endian")
    func firstRead() throws {
        let clock = VirtualClock(start: MonotonicInstant(nanoseconds: 5_000_000_000))
        let bus = ScriptedI2CBus([
            read(0x08, 0x00, 0x12),
            read(0x02, 0xC3, 0x50),  // 50000 × 78.125 uV = 3906.25 mV
            read(0x04, 0x4B, 0x80),  // 0x4B80 / 256 = 75.5 %
            read(0x16, 0xFF, 0xF0),  // -16 × 0.208 %/h
            read(0x1A, 0x01, 0x00),  // RI
            // Second read: VERSION is not read again.
            read(0x02, 0xD0, 0x00),
            read(0x04, 0x64, 0x00),
            read(0x16, 0x00, 0x30),
            read(0x1A, 0x14, 0x00),  // VL and HD
        ])
        let gauge = MAX17048(bus: bus, clock: clock)
        let reading = try gauge.read()
        #expect(reading.millivolts == 3906)
        #expect(reading.percent == 75.5)
        #expect(reading.ratePercentPerHour == -16 * 0.208)
        #expect(reading.flags == ["reset"])
        #expect(reading.timestamp == clock.now)
        #expect(reading.averageMilliamps == nil)

        let second = try gauge.read()
        #expect(second.millivolts == 4160)  // 0xD000 = 53248 × 78.125 uV
        #expect(second.percent == 100)
        #expect(second.ratePercentPerHour == 48 * 0.208)
        #expect(second.flags == ["voltage low", "SOC low"])
        try bus.verify()
        #expect(gauge.name == "MAX17048 at 0x36 on scripted-i2c")
    }

    @Test("the two-cell MAX17049 scales VCELL at 156.25 uV per LSB")
    func max17049() throws {
        let bus = ScriptedI2CBus([
            read(0x08, 0x00, 0x11), read(0x02, 0xC3, 0x50), read(0x04, 0x32, 0x00), read(0x16, 0x00, 0x00),
            read(0x1A, 0x00, 0x00),
        ])
        let gauge = MAX17048(bus: bus, variant: .max17049, clock: VirtualClock())
        let reading = try gauge.read()
        #expect(reading.millivolts == 7813)  // 50000 × 156.25 uV = 7812.5 mV
        #expect(reading.percent == 50)
        #expect(reading.flags.isEmpty)
        try bus.verify()
        #expect(gauge.name.hasPrefix("MAX17049"))
    }

    @Test("conversions: VCELL to millivolts, SOC to percent with the full-battery tolerance")
    func conversions() throws {
        #expect(try MAX17048.millivolts(vcell: 0xC350, variant: .max17048, address: address) == 3906)
        #expect(try MAX17048.millivolts(vcell: 0xC350, variant: .max17049, address: address) == 7813)
        #expect(try MAX17048.percent(soc: 0x4B80, address: address) == 75.5)
        #expect(try MAX17048.percent(soc: 0x0080, address: address) == 0.5)
        // A full MAX17048 reads about 100.5 %: clamped to 100.
        #expect(try MAX17048.percent(soc: 0x6480, address: address) == 100)
        #expect(try MAX17048.percent(soc: 0x6500, address: address) == 100)
        let over = #expect(throws: DeviceError.self) { try MAX17048.percent(soc: 0x6501, address: address) }
        #expect(over?.kind == .implausible)
        let config = MAX17048.Configuration(rawValue: 0x971C)
        #expect(config.rcomp == 0x97)
        #expect(config.alertThresholdPercent == 4)
        #expect(!config.alertAsserted)
        #expect(MAX17048.Configuration(rawValue: 0x5A7F).rawValue == 0x5A7F)
    }

    @Test("implausible values throw .implausible with a wiring hint, never a level")
    func implausible() throws {
        func firstRead(vcell: UInt16, soc: UInt16) throws(DeviceError) -> BatteryReading {
            let bus = ScriptedI2CBus([
                read(0x08, 0x00, 0x12), read(0x02, UInt8(vcell >> 8), UInt8(vcell & 0xFF)),
                read(0x04, UInt8(soc >> 8), UInt8(soc & 0xFF)), read(0x16, 0, 0), read(0x1A, 0, 0),
            ])
            return try MAX17048(bus: bus, clock: VirtualClock()).read()
        }
        let fullSOC = #expect(throws: DeviceError.self) { try firstRead(vcell: 0xC350, soc: 0xFFFF) }
        #expect(fullSOC?.kind == .implausible)
        #expect(fullSOC?.detail.contains("SOC reads 255.99609375 %") == true)
        #expect(fullSOC?.detail.contains("check the wiring") == true)

        let zero = #expect(throws: DeviceError.self) { try firstRead(vcell: 0, soc: 0x3200) }
        #expect(zero?.kind == .implausible)
        #expect(zero?.detail.contains("VCELL reads 0 V") == true)

        let high = #expect(throws: DeviceError.self) { try firstRead(vcell: 0xFFFF, soc: 0x3200) }
        #expect(high?.kind == .implausible)
        #expect(high?.detail.contains("5120 mV") == true)
    }

    @Test("a VERSION other than 0x001x is another chip, probably an AS5600 angle sensor")
    func wrongVersion() throws {
        let bus = ScriptedI2CBus([read(0x08, 0x0E, 0x00)])
        let gauge = MAX17048(bus: bus, clock: VirtualClock())
        let error = #expect(throws: DeviceError.self) { try gauge.read() }
        #expect(error?.kind == .implausible)
        #expect(error?.detail.contains("VERSION reads 0x0e00") == true)
        #expect(error?.detail.contains("AS5600") == true)
        try bus.verify()
    }

    @Test("I2C failures throw .hardware wrapping the I2C error")
    func hardwareError() throws {
        let bus = ScriptedI2CBus([
            read(0x08, 0x00, 0x12),
            .transfer(.readWordData(register: 0x02), at: address, failingWith: .timeout),
        ])
        let error = #expect(throws: DeviceError.self) { try MAX17048(bus: bus, clock: VirtualClock()).read() }
        #expect(error?.kind == .hardware)
        #expect((error?.underlying as? I2CError)?.kind == .timeout)
        #expect(error?.detail == "cannot read VCELL (register 0x02)")
        try bus.verify()
    }

    @Test("the alert threshold is a read-modify-write of CONFIG keeping RCOMP and the other bits")
    func alertThreshold() throws {
        let bus = ScriptedI2CBus([
            read(0x0C, 0x97, 0x1C),
            write(0x0C, smbusValue: 0x1697),  // 0x9716: RCOMP 0x97, ATHD 22 = alert at 10 %
            read(0x0C, 0x5A, 0x7C),  // RCOMP 0x5A, ALSC, ALRT, ATHD 28
            write(0x0C, smbusValue: 0x6C5A),  // 0x5A6C: only ATHD changed (12 = alert at 20 %)
        ])
        let gauge = MAX17048(bus: bus, clock: VirtualClock())
        try gauge.setAlertThreshold(percent: 10)
        try gauge.setAlertThreshold(percent: 20)
        let bad = #expect(throws: DeviceError.self) { try gauge.setAlertThreshold(percent: 33) }
        #expect(bad?.kind == .configuration)
        try bus.verify()
    }

    @Test("quick-start writes 0x4000 to MODE")
    func quickStart() throws {
        let bus = ScriptedI2CBus([write(0x06, smbusValue: 0x0040)])
        try MAX17048(bus: bus, clock: VirtualClock()).quickStart()
        try bus.verify()
    }

    @Test("a power-on reset writes 0x5400 to CMD; a no-acknowledge there is success, a bus error is not")
    func reset() throws {
        let bus = ScriptedI2CBus([
            .transfer(
                .writeWordData(register: 0xFE, value: 0x0054), at: address,
                failingWith: .noAcknowledge(.address)),
            write(0xFE, smbusValue: 0x0054),
            .transfer(.writeWordData(register: 0xFE, value: 0x0054), at: address, failingWith: .bus),
        ])
        let gauge = MAX17048(bus: bus, clock: VirtualClock())
        try gauge.reset()
        try gauge.reset()
        let error = #expect(throws: DeviceError.self) { try gauge.reset() }
        #expect(error?.kind == .hardware)
        #expect((error?.underlying as? I2CError)?.kind == .bus)
        try bus.verify()
    }

    @Test("clearing alerts clears STATUS flags (keeping EnVR) and then CONFIG.ALRT")
    func clearAlerts() throws {
        let bus = ScriptedI2CBus([
            read(0x1A, 0x51, 0x00),  // EnVR, HD, RI
            write(0x1A, smbusValue: 0x0041),  // 0x4100: HD cleared, EnVR and RI kept
            read(0x0C, 0x97, 0x3C),  // ALRT set
            write(0x0C, smbusValue: 0x1C97),  // 0x971C
        ])
        let gauge = MAX17048(bus: bus, clock: VirtualClock())
        try gauge.clearAlerts(.alerts)
        try bus.verify()
    }

    @Test("a falling ALRT edge reads STATUS on the clock, clears the flags and reports them")
    func alertEdge() throws {
        let clock = VirtualClock()
        let bus = ScriptedI2CBus([
            read(0x1A, 0x11, 0x00),  // HD and RI
            write(0x1A, smbusValue: 0x0001),  // HD cleared, RI left for the host
            read(0x0C, 0x97, 0x3C),
            write(0x0C, smbusValue: 0x1C97),
        ])
        let line = ScriptedLineRequest(offsets: [4], [(.read([.active]), nil)])
        let gauge = MAX17048(bus: bus, clock: clock)
        let alerts = Protected<[Result<MAX17048.Alert, DeviceError>]>([])
        try gauge.attachAlert(line) { result in alerts.withLock { $0.append(result) } }
        clock.runUntilIdle()
        #expect(alerts.withLock { $0.isEmpty })

        let at = MonotonicInstant(nanoseconds: 42_000_000)
        line.emit(EdgeEvent(kind: .rising, index: 0, offset: 4, timestamp: at, sequence: 1))
        line.emit(EdgeEvent(kind: .falling, index: 0, offset: 4, timestamp: at, sequence: 2))
        let results = alerts.withLock { $0 }
        #expect(results.count == 1)
        #expect(try results.first?.get() == MAX17048.Alert(causes: .stateOfChargeLow, timestamp: at))
        try bus.verify()
        try line.verify()
    }

    @Test("an alert already pending when the line is attached is serviced at once")
    func pendingAlert() throws {
        let clock = VirtualClock()
        let bus = ScriptedI2CBus([
            read(0x1A, 0x04, 0x00),  // VL
            write(0x1A, smbusValue: 0x0000),
            read(0x0C, 0x97, 0x3C),
            write(0x0C, smbusValue: 0x1C97),
        ])
        let line = ScriptedLineRequest(offsets: [4], [(.read([.inactive]), nil)])
        let gauge = MAX17048(bus: bus, clock: clock)
        let causes = Protected<[MAX17048.Status]>([])
        try gauge.attachAlert(line) { result in
            if case .success(let alert) = result { causes.withLock { $0.append(alert.causes) } }
        }
        clock.runUntilIdle()
        #expect(causes.withLock { $0 } == [.voltageLow])
        try bus.verify()
    }

    @Test("a failed STATUS read during an alert reaches the handler as .hardware; a detached line is ignored")
    func alertFailureAndDetach() throws {
        let clock = VirtualClock()
        let bus = ScriptedI2CBus([
            .transfer(.readWordData(register: 0x1A), at: address, failingWith: .timeout)
        ])
        let line = ScriptedLineRequest(offsets: [4], [(.read([.active]), nil)])
        let gauge = MAX17048(bus: bus, clock: clock)
        let errors = Protected<[DeviceError.Kind]>([])
        try gauge.attachAlert(line) { result in
            if case .failure(let error) = result { errors.withLock { $0.append(error.kind) } }
        }
        let edge = EdgeEvent(kind: .falling, index: 0, offset: 4, timestamp: .zero, sequence: 1)
        line.emit(edge)
        #expect(errors.withLock { $0 } == [.hardware])
        gauge.detachAlert()
        line.emit(edge)
        #expect(errors.withLock { $0 } == [.hardware])
        try bus.verify()
        try line.verify()
    }
}
