import BoltworkDrivers
import BoltworkHAL
import Testing

@Suite("Device contracts")
struct DeviceErrorTests {
    @Test("a device error names the device, the problem and the bus error underneath")
    func description() {
        let bus = I2CError(
            .noAcknowledge(.address), errno: 121, bus: "/dev/i2c-1", address: I2CAddress(constant: 0x36),
            detail: "check wiring")
        let error = DeviceError(.hardware, device: "gauge", detail: "cannot read VCELL", underlying: bus)
        #expect(
            error.description.hasPrefix(
                "gauge: cannot read VCELL: I2C no acknowledge for the address on /dev/i2c-1 address 0x36"))
    }

    @Test("bolt positions and directions describe themselves")
    func positions() {
        #expect(BoltPosition.between(percent: 42.4).description == "between ends (42 %)")
        #expect(BoltDirection.extend.opposite == .retract)
    }
}
