import BoltworkHAL

// Shared plumbing of the fuel-gauge drivers: turning I2C failures into device errors with the
// register that failed, and the wording of implausible-reading errors.

extension DeviceError {
    /// An I2C transfer to a gauge register failed.
    static func gaugeTransfer(
        _ error: I2CError, device: String, action: String
    ) -> DeviceError {
        var hint = ""
        if case .noAcknowledge = error.kind {
            hint = " (nothing answered: check SDA/SCL, power, pull-ups and the address)"
        }
        return DeviceError(.hardware, device: device, detail: "cannot \(action)\(hint)", underlying: error)
    }

    /// A gauge returned a value no battery can produce.
    static func gaugeImplausible(device: String, model: String, address: I2CAddress, what: String)
        -> DeviceError
    {
        DeviceError(
            .implausible, device: device,
            detail: "\(what); this is not a battery level: check the wiring and that the device at "
                + "\(address) really is a \(model) (address, power, I2C bus)")
    }
}

/// Register access for one gauge: every transfer failure becomes a `.hardware` device error
/// naming the register.
struct GaugeRegisters: Sendable {
    let bus: any I2CBus
    let address: I2CAddress
    let device: String
    let bigEndian: Bool

    func read(_ register: UInt8, _ label: String) throws(DeviceError) -> UInt16 {
        do {
            return bigEndian
                ? try bus.readWordBigEndian(from: address, register: register)
                : try bus.readWord(from: address, register: register)
        } catch {
            throw .gaugeTransfer(
                error, device: device, action: "read \(label) (register \(gaugeHex(register)))")
        }
    }

    func write(_ value: UInt16, _ register: UInt8, _ label: String) throws(DeviceError) {
        do {
            if bigEndian {
                try bus.writeWordBigEndian(value, to: address, register: register)
            } else {
                try bus.writeWord(value, to: address, register: register)
            }
        } catch {
            throw .gaugeTransfer(
                error, device: device, action: "write \(label) (register \(gaugeHex(register)))")
        }
    }
}

/// `0x1a`, `0x0011`: hexadecimal with a fixed number of digits.
func gaugeHex(_ value: some BinaryInteger & FixedWidthInteger) -> String {
    let digits = String(value, radix: 16)
    let width = value.bitWidth / 4
    return "0x" + String(repeating: "0", count: max(0, width - digits.count)) + digits
}
