import BoltworkHAL
import BoltworkSimulation
import Testing

@Suite("Simulated I2C and scripted mocks")
struct SimulatedI2CTests {
    let gauge = I2CAddress(constant: 0x36)

    @Test("a register file answers byte, word and block reads with auto-increment")
    func registerFile() throws {
        let bus = SimulatedI2CBus()
        let device = RegisterFileDevice()
        device.setWordBigEndian(0xC350, at: 0x02)
        device.setWordLittleEndian(3900, at: 0x04)
        bus.attach(device, at: gauge)
        #expect(try bus.readWordBigEndian(from: gauge, register: 0x02) == 0xC350)
        #expect(try bus.readWord(from: gauge, register: 0x04) == 3900)
        #expect(try bus.readBlock(from: gauge, register: 0x02, count: 2) == [0xC3, 0x50])
        #expect(try bus.writeRead([0x02], readCount: 2, at: gauge) == [0xC3, 0x50])
        try bus.writeWordBigEndian(0x5400, to: gauge, register: 0xFE)
        #expect(device.wordBigEndian(at: 0xFE) == 0x5400)
        #expect(device.writes.last?.bytes == [0x54, 0x00])
    }

    @Test("nobody at an address is a no-acknowledge with ENXIO")
    func missingDevice() {
        let bus = SimulatedI2CBus()
        let error = #expect(throws: I2CError.self) { try bus.readByte(from: gauge, register: 0) }
        #expect(error?.kind == .noAcknowledge(.address))
        #expect(error?.errno == 6)
        #expect(error?.description.contains("/dev/i2c-1 address 0x36") == true)
    }

    @Test("transfer types the adapter lacks are unsupported (i2c-stub has no raw I2C)")
    func capabilities() {
        let bus = SimulatedI2CBus(capabilities: .smbus)
        bus.attach(RegisterFileDevice(), at: gauge)
        let error = #expect(throws: I2CError.self) { try bus.writeRead([0], readCount: 1, at: gauge) }
        #expect(error?.kind == .unsupported)
    }

    @Test("faults fire on the Nth call, for the next N calls, or always")
    func faultInjection() throws {
        let bus = SimulatedI2CBus()
        bus.attach(RegisterFileDevice(), at: gauge)
        bus.injectFault(.timeout, at: gauge, schedule: .onCall(2))
        _ = try bus.readByte(from: gauge, register: 0)
        let second = #expect(throws: I2CError.self) { try bus.readByte(from: gauge, register: 0) }
        #expect(second?.kind == .timeout)
        #expect(second?.errno == 110)
        _ = try bus.readByte(from: gauge, register: 0)

        bus.clearFaults()
        bus.injectFault(.arbitrationLost, schedule: .next(2))
        #expect(throws: I2CError.self) { try bus.readByte(from: gauge, register: 0) }
        #expect(throws: I2CError.self) { try bus.readByte(from: gauge, register: 0) }
        _ = try bus.readByte(from: gauge, register: 0)

        bus.clearFaults()
        bus.injectFault(.bus, schedule: .always)
        for _ in 0..<3 { #expect(throws: I2CError.self) { try bus.readByte(from: gauge, register: 0) } }
        #expect(bus.transfers.count == 9)
    }

    @Test("the transfer log keeps the newest transfers and does not grow without bound")
    func logIsBounded() throws {
        let bus = SimulatedI2CBus(logLimit: 10)
        bus.attach(RegisterFileDevice(), at: gauge)
        for register in 0..<40 { _ = try bus.readByte(from: gauge, register: UInt8(register)) }
        let transfers = bus.transfers
        #expect(transfers.count >= 10 && transfers.count <= 15, "got \(transfers.count) transfers")
        #expect(transfers.last?.operation == .readByteData(register: 39))
    }

    @Test("a retry policy rides out transient faults and gives up on others")
    func retryingBus() throws {
        let bus = SimulatedI2CBus()
        bus.attach(RegisterFileDevice(), at: gauge)
        let retrying = RetryingI2CBus(bus, policy: I2CRetryPolicy(attempts: 3))
        bus.injectFault(.arbitrationLost, schedule: .next(2))
        #expect(try retrying.readByte(from: gauge, register: 0) == 0)
        bus.clearFaults()
        bus.injectFault(.noAcknowledge(.address), schedule: .next(1))
        #expect(throws: I2CError.self) { try retrying.readByte(from: gauge, register: 0) }
        #expect(bus.transfers.count == 4)
    }

    @Test("the scripted bus checks exact transfers and reports what is missing or unexpected")
    func scriptedBus() throws {
        let bus = ScriptedI2CBus([
            .transfer(.readWordData(register: 0x04), at: gauge, returning: [0x4B, 0x80]),
            .transfer(.readWordData(register: 0x08), at: gauge, failingWith: .noAcknowledge(.data)),
            .transfer(.writeWordData(register: 0xFE, value: 0x0054), at: gauge),
        ])
        #expect(try bus.readWordBigEndian(from: gauge, register: 0x04) == 0x4B80)
        let nack = #expect(throws: I2CError.self) { try bus.readWord(from: gauge, register: 0x08) }
        #expect(nack?.kind == .noAcknowledge(.data))
        #expect(throws: ScriptMismatch.self) { try bus.verify() }
        try bus.writeWordBigEndian(0x5400, to: gauge, register: 0xFE)
        try bus.verify()

        let wrong = ScriptedI2CBus([.transfer(.readByteData(register: 1), at: gauge, returning: [1])])
        #expect(throws: I2CError.self) { try wrong.readByte(from: gauge, register: 2) }
        let mismatch = #expect(throws: ScriptMismatch.self) { try wrong.verify() }
        #expect(
            mismatch?.description.contains(
                "expected read byte register 0x1 at 0x36, got read byte register 0x2") == true)
    }

    @Test("the scripted line request checks pin operations in order")
    func scriptedLines() throws {
        let pins = ScriptedLineRequest(
            offsets: [4, 5],
            [
                (.write([.active, .inactive], at: [0, 1]), nil),
                (.read([.active, .active]), nil),
                (.write([.inactive], at: [0]), GPIOError(.io, errno: 5, detail: "scripted")),
                (.release, nil),
            ])
        try pins.setValues([.active, .inactive])
        #expect(try pins.values() == [.active, .active])
        #expect(throws: GPIOError.self) { try pins.setValue(.inactive, at: 0) }
        pins.release()
        pins.release()
        try pins.verify()
    }
}
