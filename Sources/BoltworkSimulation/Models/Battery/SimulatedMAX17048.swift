import BoltworkHAL

/// A MAX17048 (or two-cell MAX17049) on a ``SimulatedI2CBus``, measuring a
/// ``SimulatedBattery``, with the chip's register semantics:
///
/// - 16-bit registers, MSB first on the wire; a write lands once both bytes arrived.
/// - VCELL, SOC, VERSION (0x0012) and CRATE are read only (writes are acknowledged and
///   ignored); unknown registers read 0xFFFF.
/// - MODE bit 14 (0x4000) starts a quick-start: the SOC estimate restarts from the terminal
///   voltage, so a quick-start under load underestimates the charge, as on the real chip.
/// - CMD 0x5400 resets every register (CONFIG 0x971C: RCOMP 0x97, alert at 4 %; STATUS.RI
///   set) and, like the real chip, does not acknowledge the write (see
///   ``setAcknowledgesResetCommand(_:)``).
/// - STATUS flags: RI after a reset; HD when the SOC falls below (32 - CONFIG.ATHD) %; SC on
///   each whole-percent change with CONFIG.ALSC; VL/VH when the cell voltage leaves the VALRT
///   window (20 mV per LSB, per cell). Each flag fires when its condition starts (and again
///   only after it ended); firing sets CONFIG.ALRT, which pulls the ALRT line low until the
///   host clears CONFIG.ALRT. VR (reset voltage), hibernation and the model TABLE are not
///   modelled: HIBRT and VRESET/ID are stored and read back.
///
/// Nothing ticks: the SOC is computed from the battery at each transfer, and the one
/// upcoming alert (the threshold crossing at the present load) is scheduled on the battery's
/// clock and replanned whenever the load or the configuration changes.
public final class SimulatedMAX17048: SimulatedI2CDevice, Sendable {
    /// Which chip of the family.
    public enum Variant: Sendable, Hashable {
        /// One cell, 78.125 uV per VCELL LSB.
        case max17048
        /// Two cells in series (VCELL is the pack voltage), 156.25 uV per VCELL LSB.
        case max17049
    }

    /// CONFIG after a reset: RCOMP 0x97, ATHD 0x1C (alert at 4 %).
    public static let defaultConfiguration: UInt16 = 0x971C
    /// VERSION this model answers.
    public static let version: UInt16 = 0x0012

    /// The battery measured.
    public let battery: SimulatedBattery
    /// MAX17048 or MAX17049.
    public let variant: Variant
    private let alertChip: SimulatedGPIOChip?
    private let alertLine: String?
    private let state: Protected<State>
    private let wire = WordRegisterWire(bigEndian: true)

    private struct State {
        var registers = SimulatedMAX17048.resetRegisters()
        var estimateOffset = 0.0
        var forced: [UInt8: UInt16] = [:]
        var pointer: UInt8 = 0
        var armed = Flags.all
        var lastWholePercent: Int?
        var timer: (any ScheduledWork)?
        var acknowledgesReset = false
        var pinLow = false
        var quickStarts = 0
        var resets = 0
        var observer: UInt64?
    }

    private struct Flags: OptionSet {
        let rawValue: UInt8
        static let voltageHigh = Flags(rawValue: 0x02)
        static let voltageLow = Flags(rawValue: 0x04)
        static let stateOfChargeLow = Flags(rawValue: 0x10)
        static let stateOfChargeChange = Flags(rawValue: 0x20)
        static let all: Flags = [.voltageHigh, .voltageLow, .stateOfChargeLow]
    }

    private enum Register {
        static let vcell: UInt8 = 0x02
        static let soc: UInt8 = 0x04
        static let mode: UInt8 = 0x06
        static let version: UInt8 = 0x08
        static let hibrt: UInt8 = 0x0A
        static let config: UInt8 = 0x0C
        static let valrt: UInt8 = 0x14
        static let crate: UInt8 = 0x16
        static let vresetID: UInt8 = 0x18
        static let status: UInt8 = 0x1A
        static let command: UInt8 = 0xFE
    }

    /// A chip measuring `battery`, freshly powered (STATUS.RI set). With `alertChip` and
    /// `alertLine`, the ALRT output is that line: pulled low (driven) while CONFIG.ALRT is set,
    /// released otherwise (request it with a pull-up, as on a board).
    public init(
        battery: SimulatedBattery, variant: Variant = .max17048, alertChip: SimulatedGPIOChip? = nil,
        alertLine: String? = nil
    ) {
        self.battery = battery
        self.variant = variant
        self.alertChip = alertChip
        self.alertLine = alertLine
        self.state = Protected(State())
        let token = battery.observe { [weak self] in self?.evaluate() }
        state.withLock { $0.observer = token }
        evaluate()
    }

    deinit {
        let (observer, timer) = state.withLock { ($0.observer, $0.timer) }
        if let observer { battery.removeObserver(observer) }
        timer?.cancel()
    }

    private static func resetRegisters() -> [UInt8: UInt16] {
        [
            Register.mode: 0x0000, Register.hibrt: 0x8030, Register.config: defaultConfiguration,
            Register.valrt: 0x00FF, Register.vresetID: 0x9600, Register.status: 0x0100,
            Register.command: 0x0000,
        ]
    }

    // MARK: Test knobs and observations

    /// The gauge's state of charge estimate now, in percent.
    public var reportedPercent: Double {
        let soc = battery.stateOfCharge
        return state.withLock { min(100, max(0, soc + $0.estimateOffset)) }
    }

    /// The stored value of a writable register (CONFIG, STATUS, MODE, VALRT, HIBRT, VRESET/ID).
    public func register(_ register: UInt8) -> UInt16? {
        state.withLock { $0.registers[register] }
    }

    /// Makes the estimate off by `percent` (a gauge that powered up on a rested battery of
    /// another charge); a quick-start or reset corrects it from the voltage.
    public func setEstimateError(percent: Double) {
        state.withLock { $0.estimateOffset = percent }
        evaluate()
    }

    /// Makes reads of `register` answer `value` whatever the battery does (a wrong chip, a
    /// broken gauge: SOC 0xFFFF, VCELL 0, VERSION of another chip).
    public func force(_ register: UInt8, to value: UInt16) {
        state.withLock { $0.forced[register & 0xFE] = value }
    }

    /// Ends every ``force(_:to:)``.
    public func clearForcedRegisters() {
        state.withLock { $0.forced.removeAll() }
    }

    /// Whether the CMD reset write is acknowledged (false by default: the chip resets before
    /// acknowledging it).
    public func setAcknowledgesResetCommand(_ acknowledges: Bool) {
        state.withLock { $0.acknowledgesReset = acknowledges }
    }

    /// How many quick-starts the host started.
    public var quickStartCount: Int { state.withLock { $0.quickStarts } }

    /// How many CMD resets the host sent.
    public var resetCount: Int { state.withLock { $0.resets } }

    /// Whether the ALRT output is pulled low now.
    public var isAlertAsserted: Bool { state.withLock { $0.pinLow } }

    // MARK: I2C

    /// Answers a transfer with the registers' values now.
    public func respond(to operation: I2COperation) throws(I2CError) -> [UInt8] {
        evaluate()
        let snapshot = measure()
        let (bytes, nack) = state.withLock { state -> ([UInt8], Bool) in
            var writes: [(register: UInt8, value: UInt16)] = []
            var pointer = state.pointer
            let current = state
            let bytes = wire.respond(
                to: operation, pointer: &pointer,
                read: { register in
                    current.forced[register] ?? value(of: register, state: current, snapshot: snapshot)
                },
                write: { writes += $0 })
            state.pointer = pointer
            var nack = false
            for write in writes {
                if apply(write, state: &state, snapshot: snapshot) { nack = true }
            }
            return (bytes, nack)
        }
        evaluate()
        if nack {
            throw I2CError(
                .noAcknowledge(.data), errno: 121, detail: "the MAX17048 reset before acknowledging CMD")
        }
        return bytes
    }

    private struct Snapshot {
        var percent: Double
        var cellMillivolts: Double
        var loadMilliamps: Double
    }

    private func measure() -> Snapshot {
        Snapshot(
            percent: battery.stateOfCharge, cellMillivolts: battery.terminalMillivolts,
            loadMilliamps: battery.loadMilliamps)
    }

    private var cells: Double { variant == .max17048 ? 1 : 2 }
    private var microvoltsPerLSB: Double { variant == .max17048 ? 78.125 : 156.25 }

    private func value(of register: UInt8, state: State, snapshot: Snapshot) -> UInt16 {
        switch register {
        case Register.vcell:
            let microvolts = snapshot.cellMillivolts * cells * 1000
            return UInt16(clamping: Int((microvolts / microvoltsPerLSB).rounded()))
        case Register.soc:
            let percent = min(100, max(0, snapshot.percent + state.estimateOffset))
            return UInt16(clamping: Int((percent * 256).rounded(.down)))
        case Register.version:
            return Self.version
        case Register.crate:
            let rate = -snapshot.loadMilliamps / battery.capacityMilliampHours * 100
            return UInt16(bitPattern: Int16(clamping: Int((rate / 0.208).rounded())))
        default:
            return state.registers[register] ?? 0xFFFF
        }
    }

    /// Applies a written word; returns whether the write is not acknowledged.
    private func apply(_ write: (register: UInt8, value: UInt16), state: inout State, snapshot: Snapshot)
        -> Bool
    {
        switch write.register {
        case Register.mode:
            if write.value & 0x4000 != 0 {
                state.quickStarts += 1
                state.estimateOffset = estimate(snapshot) - snapshot.percent
                state.lastWholePercent = nil
            }
            state.registers[Register.mode] = write.value & ~0x4000
        case Register.hibrt, Register.config, Register.valrt:
            state.registers[write.register] = write.value
        case Register.vresetID:
            let id = state.registers[Register.vresetID, default: 0] & 0x00FF
            state.registers[Register.vresetID] = write.value & 0xFF00 | id
        case Register.status:
            state.registers[Register.status] = write.value & 0x7F00
        case Register.command:
            guard write.value == 0x5400 else { return false }
            state.resets += 1
            state.registers = Self.resetRegisters()
            state.estimateOffset = estimate(snapshot) - snapshot.percent
            state.armed = Flags.all
            state.lastWholePercent = nil
            return !state.acknowledgesReset
        default:
            break
        }
        return false
    }

    /// The SOC a quick-start finds: the curve read at the terminal voltage (sagged by the load).
    private func estimate(_ snapshot: Snapshot) -> Double {
        SimulatedBattery.percent(atOpenCircuitMillivolts: snapshot.cellMillivolts)
    }

    // MARK: Alerts

    /// Updates the STATUS flags and the ALRT line from the battery now, and plans the next
    /// threshold crossing.
    private func evaluate() {
        let snapshot = measure()
        let clock = battery.clock
        let (pin, delay, oldTimer) = state.withLock {
            state -> (PinLevel??, Duration?, (any ScheduledWork)?) in
            let percent = min(100, max(0, snapshot.percent + state.estimateOffset))
            let registers = state.registers
            let config = registers[Register.config, default: Self.defaultConfiguration]
            let valrt = registers[Register.valrt, default: 0x00FF]
            let threshold = Double(32 - Int(config & 0x1F))
            let minimum = Double(valrt >> 8) * 20
            let maximum = Double(valrt & 0xFF) * 20
            var fired: Flags = []
            func check(_ flag: Flags, _ condition: Bool) {
                if condition {
                    if state.armed.contains(flag) { fired.insert(flag) }
                    state.armed.remove(flag)
                } else {
                    state.armed.insert(flag)
                }
            }
            check(.stateOfChargeLow, percent < threshold)
            check(.voltageLow, snapshot.cellMillivolts < minimum)
            check(.voltageHigh, snapshot.cellMillivolts > maximum)
            let whole = Int(percent.rounded(.down))
            if config & 0x40 != 0, let last = state.lastWholePercent, last != whole {
                fired.insert(.stateOfChargeChange)
            }
            state.lastWholePercent = whole
            if !fired.isEmpty {
                state.registers[Register.status, default: 0] |= UInt16(fired.rawValue) << 8
                state.registers[Register.config] = config | 0x20
            }
            let low = state.registers[Register.config, default: 0] & 0x20 != 0
            var pin: PinLevel?? = .none
            if low != state.pinLow {
                state.pinLow = low
                pin = .some(low ? .low : nil)
            }

            // The next moment a flag can fire at the present load.
            let offset = state.estimateOffset
            var targets: [Double] = []
            if state.armed.contains(.stateOfChargeLow) { targets.append(threshold - offset) }
            if config & 0x40 != 0 { targets.append(Double(whole) - offset) }
            if state.armed.contains(.voltageLow), minimum > 0 {
                let sag = snapshot.loadMilliamps * battery.internalResistanceOhms
                targets.append(SimulatedBattery.percent(atOpenCircuitMillivolts: minimum + sag))
            }
            let delays = targets.compactMap { battery.timeUntil(stateOfCharge: $0 - 0.000_001) }
            let old = state.timer
            state.timer = nil
            return (pin, delays.min().map { max($0, .milliseconds(1)) }, old)
        }
        oldTimer?.cancel()
        if let delay {
            let timer = clock.schedule(after: delay) { [weak self] in self?.evaluate() }
            let previous = state.withLock { state -> (any ScheduledWork)? in
                defer { state.timer = timer }
                return state.timer
            }
            previous?.cancel()
        }
        if case .some(let level) = pin, let alertChip, let alertLine {
            alertChip.drive(alertLine, to: level)
        }
    }
}
