import BoltworkHAL

/// A BQ27441-G1 on a ``SimulatedI2CBus``, measuring a ``SimulatedBattery``, with the
/// standard commands' semantics:
///
/// - 16-bit little-endian words (LSB first on the wire); the standard commands are read only
///   (writes are acknowledged and ignored); unknown commands read 0x0000.
/// - Voltage (mV, terminal voltage under load), AverageCurrent (mA, negative while
///   discharging), StateOfCharge (%, rounded), RemainingCapacity and FullChargeCapacity
///   (mAh; the full capacity is the design capacity × state of health), StateOfHealth
///   (percent in the low byte, status 0x03 "ready" in the high byte), Temperature (0.1 K),
///   AveragePower (mW).
/// - Flags: DSG while discharging, SOC1 at or below 10 %, SOCF at or below 2 %, BAT_DET,
///   FC at 100 % when not discharging, ITPOR after power-up until the host's configuration
///   update ends with SOFT_RESET (Control() subcommand 0x0042), UT/OT outside 0-45 °C.
/// - Control(): write a subcommand to 0x00, read the answer from 0x00 (CONTROL_STATUS 0x0000,
///   DEVICE_TYPE 0x0001 = 0x0421, FW_VERSION 0x0002 = 0x0109).
public final class SimulatedBQ27441: SimulatedI2CDevice, Sendable {
    /// DEVICE_TYPE answer.
    public static let deviceType: UInt16 = 0x0421

    /// The battery measured.
    public let battery: SimulatedBattery
    private let state: Protected<State>
    private let wire = WordRegisterWire(bigEndian: false)

    private struct State {
        var pointer: UInt8 = 0
        var forced: [UInt8: UInt16] = [:]
        var decikelvin: UInt16 = 2982
        var healthPercent = 100
        var resetFlag = true
        var controlAnswer: UInt16 = 0
    }

    /// A gauge measuring `battery`, freshly powered (Flags.ITPOR set).
    public init(battery: SimulatedBattery) {
        self.battery = battery
        self.state = Protected(State())
    }

    /// Sets the temperature the gauge reports, in degrees Celsius.
    public func setTemperature(celsius: Double) {
        let decikelvin = UInt16(clamping: Int(((celsius + 273.15) * 10).rounded()))
        state.withLock { $0.decikelvin = decikelvin }
    }

    /// Sets the state of health (an aged cell has a smaller full-charge capacity), in percent.
    public func setHealth(percent: Int) {
        state.withLock { $0.healthPercent = min(100, max(0, percent)) }
    }

    /// Makes reads of `command` answer `value` whatever the battery does (Voltage 0, SOC 0xFFFF).
    public func force(_ command: UInt8, to value: UInt16) {
        state.withLock { $0.forced[command & 0xFE] = value }
    }

    /// Ends every ``force(_:to:)``.
    public func clearForcedRegisters() {
        state.withLock { $0.forced.removeAll() }
    }

    /// Answers a transfer with the standard commands' values now.
    public func respond(to operation: I2COperation) throws(I2CError) -> [UInt8] {
        let percent = battery.stateOfCharge
        let millivolts = battery.terminalMillivolts
        let load = battery.loadMilliamps
        let capacity = battery.capacityMilliampHours
        return state.withLock { state in
            let current = state
            var pointer = state.pointer
            var writes: [(register: UInt8, value: UInt16)] = []
            let bytes = wire.respond(
                to: operation, pointer: &pointer,
                read: { command in
                    if let forced = current.forced[command] { return forced }
                    return Self.value(
                        of: command, state: current, percent: percent, millivolts: millivolts, load: load,
                        capacity: capacity)
                },
                write: { writes += $0 })
            state.pointer = pointer
            for write in writes where write.register == 0x00 {
                switch write.value {
                case 0x0001: state.controlAnswer = Self.deviceType
                case 0x0002: state.controlAnswer = 0x0109
                case 0x0042:
                    state.resetFlag = false
                    state.controlAnswer = 0
                default: state.controlAnswer = 0
                }
            }
            return bytes
        }
    }

    private static func value(
        of command: UInt8, state: State, percent: Double, millivolts: Double, load: Double, capacity: Double
    ) -> UInt16 {
        let full = capacity * Double(state.healthPercent) / 100
        let soc = Int(percent.rounded())
        switch command {
        case 0x00: return state.controlAnswer
        case 0x02: return state.decikelvin
        case 0x04: return UInt16(clamping: Int(millivolts.rounded()))
        case 0x06:
            var flags: UInt16 = 1 << 3
            if load > 0 { flags |= 1 << 0 }
            if soc <= 2 { flags |= 1 << 1 }
            if soc <= 10 { flags |= 1 << 2 }
            if state.resetFlag { flags |= 1 << 5 }
            if soc >= 100 && load <= 0 { flags |= 1 << 9 }
            let celsius = (Double(state.decikelvin) - 2731.5) / 10
            if celsius < 0 { flags |= 1 << 14 }
            if celsius > 45 { flags |= 1 << 15 }
            return flags
        case 0x0C: return UInt16(clamping: Int((full * percent / 100).rounded()))
        case 0x0E: return UInt16(clamping: Int(full.rounded()))
        case 0x10: return UInt16(bitPattern: Int16(clamping: Int((-load).rounded())))
        case 0x18: return UInt16(bitPattern: Int16(clamping: Int((-load * millivolts / 1000).rounded())))
        case 0x1C: return UInt16(clamping: soc)
        case 0x20: return 0x0300 | UInt16(clamping: state.healthPercent)
        default: return 0
        }
    }
}
