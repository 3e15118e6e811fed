import BoltworkHAL

/// Maxim (Analog Devices) MAX17048 one-cell and MAX17049 two-cell ModelGauge fuel gauges, at
/// 7-bit address 0x36, with 16-bit big-endian registers (MSB first on the wire).
///
/// ``read()`` returns the cell (MAX17049: pack) voltage, the state of charge, the charge rate
/// and the status bits. The first read checks the VERSION register, so a different chip at
/// 0x36 (an AS5600 angle sensor lives there too) is reported instead of being read as a
/// battery. Impossible values throw ``DeviceError`` of kind `.implausible`; I2C failures throw
/// `.hardware` wrapping the ``I2CError``.
///
/// The chip's ALRT output is open drain and active low. Wire it to a GPIO input with a pull-up
/// and hand the line to ``attachAlert(_:index:handler:)`` (or let
/// ``requestAlertLine(on:line:consumer:)`` request it): each falling edge makes the driver read
/// STATUS on the clock, report which alert fired, and clear it so the pin is released and the
/// next alert makes a new edge.
public final class MAX17048: BatteryGauge, Sendable {
    /// Which chip of the family.
    public enum Variant: Sendable, Hashable {
        /// One cell: VCELL is 78.125 uV per LSB.
        case max17048
        /// Two cells in series: VCELL is the pack voltage at 156.25 uV per LSB.
        case max17049

        /// Microvolts per VCELL LSB.
        public var microvoltsPerLSB: Double { self == .max17048 ? 78.125 : 156.25 }

        /// Cells in series.
        public var cells: Int { self == .max17048 ? 1 : 2 }

        /// `MAX17048` or `MAX17049`.
        public var model: String { self == .max17048 ? "MAX17048" : "MAX17049" }
    }

    /// Register addresses (datasheet table 2).
    public enum Register {
        /// VCELL: cell voltage, read only.
        public static let vcell: UInt8 = 0x02
        /// SOC: state of charge in 1/256 %, read only.
        public static let soc: UInt8 = 0x04
        /// MODE: quick-start, sleep enable (write).
        public static let mode: UInt8 = 0x06
        /// VERSION: 0x001x, read only.
        public static let version: UInt8 = 0x08
        /// HIBRT: hibernate thresholds.
        public static let hibrt: UInt8 = 0x0A
        /// CONFIG: RCOMP (MSB), SLEEP, ALSC, ALRT, ATHD (LSB).
        public static let config: UInt8 = 0x0C
        /// VALRT: voltage alert window, 20 mV per LSB (MSB minimum, LSB maximum).
        public static let valrt: UInt8 = 0x14
        /// CRATE: signed charge rate, 0.208 %/h per LSB, read only.
        public static let crate: UInt8 = 0x16
        /// VRESET/ID.
        public static let vresetID: UInt8 = 0x18
        /// STATUS: alert flags in the MSB.
        public static let status: UInt8 = 0x1A
        /// CMD: 0x5400 resets the chip as at power-on.
        public static let command: UInt8 = 0xFE
    }

    /// MODE value that starts a quick-start (MSB bit 6, bit 14 of the word).
    public static let quickStartCommand: UInt16 = 0x4000
    /// CMD value that resets the chip as at power-on.
    public static let powerOnResetCommand: UInt16 = 0x5400
    /// Percent per hour for one CRATE LSB.
    public static let percentPerHourPerCRATE = 0.208
    /// A full MAX17048 reports slightly over 100 % (about 100.5 %): values up to this are
    /// clamped to 100 %, anything above is implausible.
    public static let stateOfChargeTolerance = 101.0
    /// Highest plausible voltage per cell, in millivolts.
    public static let maximumCellMillivolts = 5000

    /// The STATUS register's flag bits (its MSB).
    public struct Status: OptionSet, Sendable, Hashable, CustomStringConvertible {
        /// The STATUS MSB.
        public let rawValue: UInt8
        /// Wraps a STATUS MSB.
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// RI: the chip was reset (power-on or CMD) and has not been configured since.
        public static let resetIndicator = Status(rawValue: 0x01)
        /// VH: VCELL went above VALRT.MAX.
        public static let voltageHigh = Status(rawValue: 0x02)
        /// VL: VCELL went below VALRT.MIN.
        public static let voltageLow = Status(rawValue: 0x04)
        /// VR: VCELL dropped below VRESET (a battery swap or brown-out).
        public static let voltageReset = Status(rawValue: 0x08)
        /// HD: state of charge fell below the CONFIG.ATHD threshold.
        public static let stateOfChargeLow = Status(rawValue: 0x10)
        /// SC: state of charge changed by 1 % (with CONFIG.ALSC set).
        public static let stateOfChargeChange = Status(rawValue: 0x20)

        /// Every flag the chip defines.
        public static let all: Status = [
            .resetIndicator, .voltageHigh, .voltageLow, .voltageReset, .stateOfChargeLow,
            .stateOfChargeChange,
        ]

        /// The flags that assert ALRT (all but RI, which stays set until the host has
        /// configured the chip).
        public static let alerts: Status = all.subtracting(.resetIndicator)

        /// The flags' names (`reset`, `voltage low`, `SOC low`).
        public var names: [String] {
            let table: [(Status, String)] = [
                (.resetIndicator, "reset"), (.voltageHigh, "voltage high"), (.voltageLow, "voltage low"),
                (.voltageReset, "voltage reset"), (.stateOfChargeLow, "SOC low"),
                (.stateOfChargeChange, "SOC changed"),
            ]
            return table.filter { contains($0.0) }.map(\.1)
        }

        /// The names joined by commas, or `none`.
        public var description: String { isEmpty ? "none" : names.joined(separator: ", ") }
    }

    /// The CONFIG register.
    public struct Configuration: Sendable, Hashable {
        /// RCOMP, the temperature compensation (MSB; 0x97 after reset).
        public var rcomp: UInt8
        /// SLEEP: forces sleep mode (with MODE.EnSleep).
        public var sleep: Bool
        /// ALSC: alert on every 1 % change of the state of charge.
        public var stateOfChargeChangeAlert: Bool
        /// ALRT: set by the chip when an alert fires; the ALRT pin is low while it is set.
        public var alertAsserted: Bool
        /// ATHD, 0-31: the low-SOC alert fires at (32 - ATHD) %.
        public var athd: UInt8

        /// Decodes the register value.
        public init(rawValue: UInt16) {
            rcomp = UInt8(rawValue >> 8)
            sleep = rawValue & 0x80 != 0
            stateOfChargeChangeAlert = rawValue & 0x40 != 0
            alertAsserted = rawValue & 0x20 != 0
            athd = UInt8(rawValue & 0x1F)
        }

        /// The register value.
        public var rawValue: UInt16 {
            var low = UInt16(athd & 0x1F)
            if sleep { low |= 0x80 }
            if stateOfChargeChangeAlert { low |= 0x40 }
            if alertAsserted { low |= 0x20 }
            return UInt16(rcomp) << 8 | low
        }

        /// The low-SOC alert threshold in percent, 1-32.
        public var alertThresholdPercent: Int { 32 - Int(athd) }
    }

    /// An alert reported through the ALRT pin.
    public struct Alert: Sendable, Hashable {
        /// The STATUS flags that were set when the alert was serviced (cleared afterwards).
        public var causes: Status
        /// When the falling edge happened.
        public var timestamp: MonotonicInstant

        /// Creates an alert.
        public init(causes: Status, timestamp: MonotonicInstant) {
            self.causes = causes
            self.timestamp = timestamp
        }
    }

    /// The I2C address of every MAX17048/MAX17049.
    public static let defaultAddress = I2CAddress(constant: 0x36)

    /// How the ALRT line is requested: an input with a pull-up (ALRT is open drain), reporting
    /// falling edges (ALRT is active low, so the falling edge is the alert).
    public static let alertLineSettings = LineSettings.input(bias: .pullUp, edges: .falling)

    /// The bus the chip is on.
    public let bus: any I2CBus
    /// The chip's address (0x36).
    public let address: I2CAddress
    /// MAX17048 or MAX17049.
    public let variant: Variant
    /// The clock timestamps and alert handling run on.
    public let clock: any BoltClock
    /// The name errors use (`gauge`).
    public let device: String

    private let registers: GaugeRegisters
    private let state = Protected(State())

    private struct State {
        var versionChecked = false
        var alertLine: (request: any GPIOLineRequest, index: Int)?
        var alertGeneration = 0
    }

    /// A driver for the chip at `address` on `bus`. Nothing is transferred until the first call.
    public init(
        bus: any I2CBus, address: I2CAddress = MAX17048.defaultAddress, variant: Variant = .max17048,
        clock: any BoltClock, device: String = "gauge"
    ) {
        self.bus = bus
        self.address = address
        self.variant = variant
        self.clock = clock
        self.device = device
        self.registers = GaugeRegisters(bus: bus, address: address, device: device, bigEndian: true)
    }

    /// `MAX17048 at 0x36 on /dev/i2c-1`.
    public var name: String { "\(variant.model) at \(address) on \(bus.name)" }

    // MARK: Reading

    /// Reads VCELL, SOC, CRATE and STATUS (and VERSION, the first time). Throws `.implausible`
    /// for a wrong VERSION, a voltage of 0 or above 5 V per cell, or a state of charge above
    /// ``stateOfChargeTolerance``; values between 100 % and the tolerance read as 100 %.
    public func read() throws(DeviceError) -> BatteryReading {
        if !state.withLock({ $0.versionChecked }) { _ = try version() }
        let vcell = try registers.read(Register.vcell, "VCELL")
        let socRaw = try registers.read(Register.soc, "SOC")
        let crate = try registers.read(Register.crate, "CRATE")
        let status = Status(rawValue: UInt8(try registers.read(Register.status, "STATUS") >> 8))
        let millivolts = try Self.millivolts(
            vcell: vcell, variant: variant, device: device, address: address)
        let percent = try Self.percent(soc: socRaw, model: variant.model, device: device, address: address)
        return BatteryReading(
            millivolts: millivolts, percent: percent,
            ratePercentPerHour: Double(Int16(bitPattern: crate)) * Self.percentPerHourPerCRATE,
            flags: status.names, timestamp: clock.now)
    }

    /// Converts a VCELL register value to millivolts (rounded), checking plausibility.
    public static func millivolts(
        vcell: UInt16, variant: Variant, device: String = "gauge", address: I2CAddress
    )
        throws(DeviceError) -> Int
    {
        let millivolts = Int((Double(vcell) * variant.microvoltsPerLSB / 1000).rounded())
        let limit = maximumCellMillivolts * variant.cells
        guard vcell != 0 else {
            throw .gaugeImplausible(
                device: device, model: variant.model, address: address,
                what: "VCELL reads 0 V (0x0000), which no connected cell produces (is the cell wired to "
                    + "the gauge's CELL and VDD pins?)")
        }
        guard millivolts <= limit else {
            throw .gaugeImplausible(
                device: device, model: variant.model, address: address,
                what: "VCELL reads \(millivolts) mV (\(gaugeHex(vcell))), above the \(limit) mV "
                    + "\(variant.cells == 1 ? "any Li-ion cell" : "any two-cell pack") can reach")
        }
        return millivolts
    }

    /// Converts an SOC register value to percent, clamping up to ``stateOfChargeTolerance`` to
    /// 100 % and rejecting more.
    public static func percent(
        soc: UInt16, model: String = "MAX17048", device: String = "gauge", address: I2CAddress
    )
        throws(DeviceError) -> Double
    {
        let percent = Double(soc) / 256
        guard percent <= stateOfChargeTolerance else {
            throw .gaugeImplausible(
                device: device, model: model, address: address,
                what: "SOC reads \(percent) % (\(gaugeHex(soc))), more than a full battery")
        }
        return min(percent, 100)
    }

    /// Reads and checks the VERSION register (0x001x). Another value means another chip: an
    /// AS5600 magnetic angle sensor also answers at 0x36.
    @discardableResult
    public func version() throws(DeviceError) -> UInt16 {
        let version = try registers.read(Register.version, "VERSION")
        guard version & 0xFFF0 == 0x0010 else {
            throw .gaugeImplausible(
                device: device, model: variant.model, address: address,
                what: "VERSION reads \(gaugeHex(version)) instead of 0x001x, so this is not a "
                    + "MAX17048/MAX17049 (an AS5600 magnetic angle sensor also answers at 0x36; "
                    + "give each its own bus if you use both)")
        }
        state.withLock { $0.versionChecked = true }
        return version
    }

    /// Reads the STATUS flags.
    public func status() throws(DeviceError) -> Status {
        Status(rawValue: UInt8(try registers.read(Register.status, "STATUS") >> 8))
    }

    /// Clears STATUS flags (read-modify-write, keeping EnVR and the other flags), then clears
    /// CONFIG.ALRT so the ALRT pin is released.
    public func clearAlerts(_ flags: Status = .all) throws(DeviceError) {
        let status = try registers.read(Register.status, "STATUS")
        try registers.write(status & ~(UInt16(flags.rawValue) << 8), Register.status, "STATUS")
        var config = try configuration()
        if config.alertAsserted {
            config.alertAsserted = false
            try registers.write(config.rawValue, Register.config, "CONFIG")
        }
    }

    // MARK: Configuration and commands

    /// Reads CONFIG.
    public func configuration() throws(DeviceError) -> Configuration {
        Configuration(rawValue: try registers.read(Register.config, "CONFIG"))
    }

    /// Sets the low-SOC alert threshold to `percent` (1-32): reads CONFIG, replaces ATHD with
    /// 32 - `percent` and writes it back, keeping RCOMP and the other bits.
    public func setAlertThreshold(percent: Int) throws(DeviceError) {
        guard (1...32).contains(percent) else {
            throw DeviceError(
                .configuration, device: device,
                detail: "the \(variant.model) alert threshold must be 1-32 %, not \(percent) %")
        }
        var config = try configuration()
        config.athd = UInt8(32 - percent)
        try registers.write(config.rawValue, Register.config, "CONFIG")
    }

    /// Starts a quick-start: the chip restarts its estimate from the present cell voltage.
    /// Only useful right after the battery was connected and before a load is applied: a
    /// quick-start under load underestimates the charge.
    public func quickStart() throws(DeviceError) {
        try registers.write(Self.quickStartCommand, Register.mode, "MODE (quick-start)")
    }

    /// Resets the chip as at power-on (CMD = 0x5400). The chip resets before it acknowledges
    /// the last byte, so a no-acknowledge on this write is expected and treated as success; an
    /// absent chip shows up at the next read instead. The reset restores CONFIG (threshold 4 %,
    /// RCOMP 0x97) and sets STATUS.RI.
    public func reset() throws(DeviceError) {
        do {
            try bus.writeWordBigEndian(Self.powerOnResetCommand, to: address, register: Register.command)
        } catch {
            switch error.kind {
            case .noAcknowledge: break
            default:
                throw .gaugeTransfer(
                    error, device: device, action: "write CMD (register 0xfe) for a power-on reset")
            }
        }
        state.withLock { $0.versionChecked = false }
    }

    // MARK: Alert pin

    /// Requests `line` on `chip` with ``alertLineSettings`` and attaches it with
    /// ``attachAlert(_:index:handler:)``. Returns the request (release it to stop).
    @discardableResult
    public func requestAlertLine(
        on chip: any GPIOChip, line: GPIOLineID, consumer: String = "boltwork-gauge",
        handler: @escaping @Sendable (Result<Alert, DeviceError>) -> Void
    ) throws(DeviceError) -> any GPIOLineRequest {
        let request: any GPIOLineRequest
        do {
            request = try chip.requestLines([LineConfig(line, Self.alertLineSettings)], consumer: consumer)
        } catch {
            throw DeviceError(
                .hardware, device: device, detail: "cannot request the ALRT line \(line)", underlying: error)
        }
        try attachAlert(request, index: 0, handler: handler)
        return request
    }

    /// Uses the input at `index` of `request` (requested with falling-edge detection, as
    /// ``alertLineSettings``) as the ALRT interrupt. On each falling edge the driver, on the
    /// clock, reads STATUS, clears the alert flags it found (not RI) and CONFIG.ALRT, and calls
    /// `handler` with the flags, or with the error when the transfers failed. If the line is already low
    /// (an alert pending from before), it is serviced at once.
    public func attachAlert(
        _ request: any GPIOLineRequest, index: Int = 0,
        handler: @escaping @Sendable (Result<Alert, DeviceError>) -> Void
    ) throws(DeviceError) {
        let generation = state.withLock { state -> Int in
            state.alertLine = (request, index)
            state.alertGeneration += 1
            return state.alertGeneration
        }
        request.setEdgeHandler { [weak self] event in
            guard event.index == index, event.kind == .falling else { return }
            self?.serviceAlert(at: event.timestamp, generation: generation, handler: handler)
        }
        let level: LineValue
        do {
            level = try request.value(at: index)
        } catch {
            throw DeviceError(
                .hardware, device: device, detail: "cannot read the ALRT line", underlying: error)
        }
        if level == .inactive {
            clock.execute { [weak self] in
                guard let self else { return }
                self.serviceAlert(at: self.clock.now, generation: generation, handler: handler)
            }
        }
    }

    /// Stops listening to the ALRT line (the request stays with its owner).
    public func detachAlert() {
        let line = state.withLock { state -> (any GPIOLineRequest)? in
            defer {
                state.alertLine = nil
                state.alertGeneration += 1
            }
            return state.alertLine?.request
        }
        line?.setEdgeHandler(nil)
    }

    private func serviceAlert(
        at timestamp: MonotonicInstant, generation: Int,
        handler: @Sendable (Result<Alert, DeviceError>) -> Void
    ) {
        guard state.withLock({ $0.alertGeneration == generation }) else { return }
        do throws(DeviceError) {
            let raw = try registers.read(Register.status, "STATUS")
            let causes = Status(rawValue: UInt8(raw >> 8)).intersection(.alerts)
            try registers.write(raw & ~(UInt16(causes.rawValue) << 8), Register.status, "STATUS")
            var config = try configuration()
            if config.alertAsserted {
                config.alertAsserted = false
                try registers.write(config.rawValue, Register.config, "CONFIG")
            }
            handler(.success(Alert(causes: causes, timestamp: timestamp)))
        } catch {
            handler(.failure(error))
        }
    }
}
