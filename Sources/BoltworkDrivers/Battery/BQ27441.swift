import BoltworkHAL

/// Texas Instruments BQ27441-G1 Impedance Track fuel gauge, at 7-bit address 0x55, read
/// through its little-endian 16-bit standard commands (SMBus read word data).
///
/// ``read()`` returns voltage, state of charge, average current, remaining and full capacity,
/// state of health and the flags; ``readDetails()`` adds the temperature and the raw flags.
/// A voltage of 0 or above 5 V, or a state of charge above 100 %, throws ``DeviceError`` of kind
/// `.implausible`; I2C failures throw `.hardware` wrapping the ``I2CError``.
public final class BQ27441: BatteryGauge, Sendable {
    /// Standard command codes (technical reference, section 4).
    public enum Command {
        /// Control() subcommands.
        public static let control: UInt8 = 0x00
        /// Temperature() in 0.1 K.
        public static let temperature: UInt8 = 0x02
        /// Voltage() in mV.
        public static let voltage: UInt8 = 0x04
        /// Flags().
        public static let flags: UInt8 = 0x06
        /// RemainingCapacity() in mAh.
        public static let remainingCapacity: UInt8 = 0x0C
        /// FullChargeCapacity() in mAh.
        public static let fullChargeCapacity: UInt8 = 0x0E
        /// AverageCurrent() in mA, signed (negative: discharging).
        public static let averageCurrent: UInt8 = 0x10
        /// AveragePower() in mW, signed.
        public static let averagePower: UInt8 = 0x18
        /// StateOfCharge() in %.
        public static let stateOfCharge: UInt8 = 0x1C
        /// StateOfHealth(): percent in the low byte, status in the high byte.
        public static let stateOfHealth: UInt8 = 0x20
    }

    /// The Flags() register.
    public struct Flags: OptionSet, Sendable, Hashable, CustomStringConvertible {
        /// The register value.
        public let rawValue: UInt16
        /// Wraps a register value.
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        /// DSG: discharging.
        public static let discharging = Flags(rawValue: 1 << 0)
        /// SOCF: state of charge at or below the final threshold.
        public static let stateOfChargeFinal = Flags(rawValue: 1 << 1)
        /// SOC1: state of charge at or below the first threshold.
        public static let stateOfChargeLow = Flags(rawValue: 1 << 2)
        /// BAT_DET: a battery is detected.
        public static let batteryDetected = Flags(rawValue: 1 << 3)
        /// ITPOR: the gauge was reset and its configuration must be loaded again.
        public static let resetOccurred = Flags(rawValue: 1 << 5)
        /// FC: fully charged.
        public static let fullCharge = Flags(rawValue: 1 << 9)
        /// UT: under temperature.
        public static let underTemperature = Flags(rawValue: 1 << 14)
        /// OT: over temperature.
        public static let overTemperature = Flags(rawValue: 1 << 15)

        /// Names of the set flags worth showing; a missing BAT_DET shows as `battery not
        /// detected`.
        public var names: [String] {
            let table: [(Flags, String)] = [
                (.discharging, "discharging"), (.stateOfChargeFinal, "SOC final"),
                (.stateOfChargeLow, "SOC low"), (.resetOccurred, "reset"), (.fullCharge, "full"),
                (.underTemperature, "under temperature"), (.overTemperature, "over temperature"),
            ]
            var names = table.filter { contains($0.0) }.map(\.1)
            if !contains(.batteryDetected) { names.append("battery not detected") }
            return names
        }

        /// The names joined by commas, or `none`.
        public var description: String { names.isEmpty ? "none" : names.joined(separator: ", ") }
    }

    /// Everything one ``readDetails()`` returns.
    public struct Details: Sendable, Hashable {
        /// The portable reading.
        public var reading: BatteryReading
        /// The raw flags.
        public var flags: Flags
        /// Temperature in degrees Celsius (from 0.1 K).
        public var celsius: Double

        /// Creates details.
        public init(reading: BatteryReading, flags: Flags, celsius: Double) {
            self.reading = reading
            self.flags = flags
            self.celsius = celsius
        }
    }

    /// The BQ27441's address.
    public static let defaultAddress = I2CAddress(constant: 0x55)
    /// Highest plausible single-cell voltage, in millivolts.
    public static let maximumMillivolts = 5000

    /// The bus the chip is on.
    public let bus: any I2CBus
    /// The chip's address (0x55).
    public let address: I2CAddress
    /// The clock timestamps come from.
    public let clock: any BoltClock
    /// The name errors use (`gauge`).
    public let device: String

    private let registers: GaugeRegisters

    /// A driver for the chip at `address` on `bus`. Nothing is transferred until the first call.
    public init(
        bus: any I2CBus, address: I2CAddress = BQ27441.defaultAddress, clock: any BoltClock,
        device: String = "gauge"
    ) {
        self.bus = bus
        self.address = address
        self.clock = clock
        self.device = device
        self.registers = GaugeRegisters(bus: bus, address: address, device: device, bigEndian: false)
    }

    /// `BQ27441 at 0x55 on /dev/i2c-1`.
    public var name: String { "BQ27441 at \(address) on \(bus.name)" }

    /// Reads the battery (see ``readDetails()``).
    public func read() throws(DeviceError) -> BatteryReading {
        try readDetails().reading
    }

    /// Reads Voltage, Flags, StateOfCharge, AverageCurrent, RemainingCapacity,
    /// FullChargeCapacity, StateOfHealth and Temperature, in that order.
    public func readDetails() throws(DeviceError) -> Details {
        let voltage = try registers.read(Command.voltage, "Voltage")
        let flags = Flags(rawValue: try registers.read(Command.flags, "Flags"))
        let soc = try registers.read(Command.stateOfCharge, "StateOfCharge")
        let current = try registers.read(Command.averageCurrent, "AverageCurrent")
        let remaining = try registers.read(Command.remainingCapacity, "RemainingCapacity")
        let full = try registers.read(Command.fullChargeCapacity, "FullChargeCapacity")
        let health = try registers.read(Command.stateOfHealth, "StateOfHealth")
        let temperature = try registers.read(Command.temperature, "Temperature")
        guard voltage != 0 else {
            throw implausible("Voltage() reads 0 mV, which no connected cell produces (is the cell on BAT?)")
        }
        guard Int(voltage) <= Self.maximumMillivolts else {
            throw implausible(
                "Voltage() reads \(voltage) mV (\(gaugeHex(voltage))), above the 5000 mV any Li-ion cell can reach"
            )
        }
        guard soc <= 100 else {
            throw implausible("StateOfCharge() reads \(soc) % (\(gaugeHex(soc))), more than a full battery")
        }
        let reading = BatteryReading(
            millivolts: Int(voltage), percent: Double(soc),
            averageMilliamps: Int(Int16(bitPattern: current)),
            remainingMilliampHours: Int(remaining), fullMilliampHours: Int(full),
            healthPercent: Int(health & 0xFF), flags: flags.names, timestamp: clock.now)
        return Details(reading: reading, flags: flags, celsius: Self.celsius(temperature: temperature))
    }

    /// DEVICE_TYPE of the BQ27441.
    public static let deviceType: UInt16 = 0x0421

    /// Asks Control() for DEVICE_TYPE (writes subcommand 0x0001 to 0x00, reads the answer from
    /// 0x00) and checks that it is 0x0421; another answer means another chip at this address.
    @discardableResult
    public func verifyDeviceType() throws(DeviceError) -> UInt16 {
        try registers.write(0x0001, Command.control, "Control(DEVICE_TYPE)")
        let type = try registers.read(Command.control, "Control(DEVICE_TYPE)")
        guard type == Self.deviceType else {
            throw implausible("DEVICE_TYPE reads \(gaugeHex(type)) instead of 0x0421")
        }
        return type
    }

    /// Converts a Temperature() value (0.1 K) to degrees Celsius.
    public static func celsius(temperature: UInt16) -> Double {
        (Double(temperature) - 2731.5) / 10
    }

    private func implausible(_ what: String) -> DeviceError {
        .gaugeImplausible(device: device, model: "BQ27441", address: address, what: what)
    }
}
