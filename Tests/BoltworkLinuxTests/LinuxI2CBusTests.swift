import BoltworkHAL
import Testing

@testable import BoltworkLinux

@Suite("Linux I2C backend through the funnel")
struct LinuxI2CBusTests {
    let address = I2CAddress(constant: 0x36)

    func open(_ system: FakeI2CSystem, retry: I2CRetryPolicy = .none, force: Bool = false) throws
        -> LinuxI2CBus
    {
        try LinuxI2CBus(
            path: "/dev/i2c-1", retry: retry, forceAddress: force, system: system, devDirectory: "/dev")
    }

    @Test(
        "errno values map to the kernel fault-code kinds",
        arguments: [
            (Int32(6), I2CError.Kind.noAcknowledge(.address)), (121, .noAcknowledge(.address)), (5, .bus),
            (71, .bus), (74, .bus), (11, .arbitrationLost), (110, .timeout), (16, .busy),
            (19, .noAcknowledge(.address)),
            (13, .permissionDenied), (1, .permissionDenied), (95, .unsupported), (22, .invalidArgument),
            (12, .other),
        ])
    func errnoMapping(code: Int32, kind: I2CError.Kind) throws {
        let system = FakeI2CSystem()
        system.state.withLock { $0.transferErrors = [code] }
        let bus = try open(system)
        let error = #expect(throws: I2CError.self) { try bus.readWord(from: address, register: 0x04) }
        #expect(error?.kind == kind)
        #expect(error?.errno == code)
        #expect(error?.bus == "/dev/i2c-1")
        #expect(error?.address == address)
        #expect(error?.operation == .readWordData(register: 0x04))
    }

    @Test("EINTR is retried until the transfer completes")
    func interruptedTransfersAreRetried() throws {
        let system = FakeI2CSystem()
        system.state.withLock {
            $0.transferErrors = [4, 4]
            $0.responses[.readByteData(register: 0x08)] = [0x12]
        }
        let bus = try open(system)
        #expect(try bus.readByte(from: address, register: 0x08) == 0x12)
        #expect(system.log.filter { $0 == "read byte register 0x8" }.count == 3)
    }

    @Test("the device is selected with I2C_SLAVE once per address, FORCE only when asked")
    func addressSelection() throws {
        let system = FakeI2CSystem()
        let bus = try open(system)
        _ = try bus.readByte(from: address, register: 1)
        _ = try bus.readByte(from: address, register: 2)
        _ = try bus.readByte(from: I2CAddress(constant: 0x55), register: 3)
        #expect(system.log.filter { $0.hasPrefix("I2C_SLAVE") } == ["I2C_SLAVE 54", "I2C_SLAVE 85"])

        let forced = FakeI2CSystem()
        _ = try open(forced, force: true).readByte(from: address, register: 1)
        #expect(forced.log.contains("I2C_SLAVE_FORCE 54"))
    }

    @Test("a transfer type missing from the functionality mask is refused before any ioctl")
    func functionalityIsChecked() throws {
        let system = FakeI2CSystem()
        system.state.withLock { $0.functionality = I2CCapabilities.smbus.rawValue }
        let bus = try open(system)
        let error = #expect(throws: I2CError.self) { try bus.writeRead([0x02], readCount: 2, at: address) }
        #expect(error?.kind == .unsupported)
        #expect(!system.log.contains { $0.hasPrefix("write 1 bytes") })
        #expect(try bus.capabilities() == .smbus)
    }

    @Test("block transfers outside 1-32 bytes are refused")
    func blockLengthIsChecked() throws {
        let bus = try open(FakeI2CSystem())
        let error = #expect(throws: I2CError.self) {
            try bus.readBlock(from: address, register: 0, count: 33)
        }
        #expect(error?.kind == .invalidArgument)
    }

    @Test("transient failures are retried per the caller's policy, others are not")
    func retryPolicy() throws {
        let system = FakeI2CSystem()
        system.state.withLock { $0.transferErrors = [11, 16] }
        let bus = try open(system, retry: I2CRetryPolicy(attempts: 3))
        #expect(try bus.readByte(from: address, register: 0) == 0)

        let stubborn = FakeI2CSystem()
        stubborn.state.withLock { $0.transferErrors = [11, 11, 11, 11] }
        let error = #expect(throws: I2CError.self) {
            try open(stubborn, retry: I2CRetryPolicy(attempts: 3)).readByte(from: address, register: 0)
        }
        #expect(error?.kind == .arbitrationLost)
        #expect(error?.detail.contains("after 3 attempts") == true)

        let nack = FakeI2CSystem()
        nack.state.withLock { $0.transferErrors = [121, 0] }
        #expect(throws: I2CError.self) {
            try open(nack, retry: I2CRetryPolicy(attempts: 3)).readByte(from: address, register: 0)
        }
        #expect(nack.log.filter { $0.hasPrefix("read byte") }.count == 1)
    }

    @Test("a missing bus names the buses that exist")
    func missingBus() {
        let system = FakeI2CSystem()
        system.state.withLock {
            $0.openResult = -2
            $0.buses = ["i2c-20", "i2c-21"]
        }
        let error = #expect(throws: I2CError.self) { try open(system) }
        #expect(error?.kind == .noSuchDevice)
        #expect(error?.description.contains("/dev/i2c-20, /dev/i2c-21") == true)
    }

    @Test("no buses at all says how to enable I2C")
    func noBuses() {
        let system = FakeI2CSystem()
        system.state.withLock {
            $0.openResult = -2
            $0.buses = []
        }
        let error = #expect(throws: I2CError.self) { try open(system) }
        #expect(error?.description.contains("dtparam=i2c_arm=on") == true)
    }

    @Test("permission denied names the device's group and the udev rule")
    func permissionDenied() {
        let system = FakeI2CSystem()
        system.state.withLock {
            $0.openResult = -13
            $0.ownership = DeviceOwnership(group: "i2c", mode: 0o660)
        }
        let error = #expect(throws: I2CError.self) { try open(system) }
        #expect(error?.kind == .permissionDenied)
        #expect(error?.errno == 13)
        let text = error?.description ?? ""
        #expect(text.contains("group 'i2c'"))
        #expect(text.contains("usermod -aG i2c"))
        #expect(text.contains("udev/60-boltwork.rules"))
    }

    @Test("a failed address selection is reported, and retried next time")
    func addressSelectionFailure() throws {
        let system = FakeI2CSystem()
        system.state.withLock { $0.addressErrors = [16] }
        let bus = try open(system)
        let error = #expect(throws: I2CError.self) { try bus.readByte(from: address, register: 0) }
        #expect(error?.kind == .busy)
        _ = try bus.readByte(from: address, register: 0)
        #expect(system.log.filter { $0.hasPrefix("I2C_SLAVE") }.count == 2)
    }

    @Test("closing releases the descriptor and later transfers fail cleanly")
    func close() throws {
        let system = FakeI2CSystem()
        let bus = try open(system)
        bus.close()
        #expect(system.state.withLock { $0.closed } == [3])
        let error = #expect(throws: I2CError.self) { try bus.readByte(from: address, register: 0) }
        #expect(error?.kind == .noSuchDevice)
    }

    @Test("big-endian word registers are swapped after the SMBus word read")
    func byteOrder() throws {
        let system = FakeI2CSystem()
        system.state.withLock { $0.responses[.readWordData(register: 0x02)] = [0xC3, 0x50] }
        let bus = try open(system)
        #expect(try bus.readWord(from: address, register: 0x02) == 0x50C3)
        #expect(try bus.readWordBigEndian(from: address, register: 0x02) == 0xC350)
    }
}
