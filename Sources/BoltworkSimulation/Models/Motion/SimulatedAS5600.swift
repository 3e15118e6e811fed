import BoltworkHAL

/// A register model of the AS5600 magnetic angle sensor for a ``SimulatedI2CBus``: STATUS
/// (0x0B), RAW ANGLE (0x0C-0x0D), ANGLE (0x0E-0x0F, equal to RAW ANGLE: no ZPOS/MPOS
/// scaling is modelled) and MAGNITUDE (0x1B-0x1C), 16-bit values big-endian, with
/// auto-incrementing reads like the chip.
///
/// The angle is either set with ``setRawAngle(_:)`` or computed on every read from a source
/// (``SimulatedLockMechanism`` installs one), so the value is exact at the time of the read.
/// Attach it at 0x36 (AS5600) or 0x40 (AS5600L).
public final class SimulatedAS5600: SimulatedI2CDevice, Sendable {
    /// What the magnet looks like to the chip.
    public enum Magnet: Sendable, Hashable {
        /// Detected, in range: STATUS = MD.
        case ok
        /// No magnet: STATUS = 0.
        case missing
        /// Too weak: STATUS = MD | ML.
        case tooWeak
        /// Too strong: STATUS = MD | MH.
        case tooStrong
    }

    private struct State {
        var raw: UInt16 = 0
        var source: (@Sendable () -> UInt16)?
        var magnet: Magnet = .ok
        var magnitude: UInt16 = 0x0800
        var pointer: UInt8 = 0
        var writes: [(UInt8, [UInt8])] = []
    }

    private let state = Protected(State())

    /// A sensor reading raw angle 0 with a good magnet.
    public init() {}

    /// Sets the raw angle (masked to 12 bits) and removes any source.
    public func setRawAngle(_ raw: UInt16) {
        state.withLock { state in
            state.raw = raw & 0x0FFF
            state.source = nil
        }
    }

    /// Computes the raw angle on every read from `source` (`nil` goes back to the set value).
    public func setAngleSource(_ source: (@Sendable () -> UInt16)?) {
        state.withLock { $0.source = source }
    }

    /// The raw angle a read would return now.
    public var rawAngle: UInt16 {
        let (raw, source) = state.withLock { ($0.raw, $0.source) }
        return (source?() ?? raw) & 0x0FFF
    }

    /// Sets what the magnet looks like.
    public func setMagnet(_ magnet: Magnet) {
        state.withLock { $0.magnet = magnet }
    }

    /// Sets MAGNITUDE (12 bits).
    public func setMagnitude(_ value: UInt16) {
        state.withLock { $0.magnitude = value & 0x0FFF }
    }

    /// Writes received (register, bytes); the model ignores their effect.
    public var writes: [(register: UInt8, bytes: [UInt8])] {
        state.withLock { $0.writes.map { (register: $0.0, bytes: $0.1) } }
    }

    /// Answers a transfer from the register file as it is at this instant.
    public func respond(to operation: I2COperation) throws(I2CError) -> [UInt8] {
        let raw = rawAngle
        return state.withLock { state in
            var bytes = [UInt8](repeating: 0, count: 256)
            let status: UInt8
            switch state.magnet {
            case .ok: status = 0x20
            case .missing: status = 0x00
            case .tooWeak: status = 0x30
            case .tooStrong: status = 0x28
            }
            bytes[0x0B] = status
            let angle = state.magnet == .missing ? 0 : raw
            bytes[0x0C] = UInt8(angle >> 8)
            bytes[0x0D] = UInt8(angle & 0xFF)
            bytes[0x0E] = UInt8(angle >> 8)
            bytes[0x0F] = UInt8(angle & 0xFF)
            let magnitude = state.magnet == .missing ? 0 : state.magnitude
            bytes[0x1B] = UInt8(magnitude >> 8)
            bytes[0x1C] = UInt8(magnitude & 0xFF)
            func read(_ start: UInt8, _ count: Int) -> [UInt8] {
                (0..<count).map { bytes[(Int(start) + $0) & 0xFF] }
            }
            switch operation {
            case .readByte:
                defer { state.pointer &+= 1 }
                return [bytes[Int(state.pointer)]]
            case .writeByte(let value):
                state.pointer = value
                return []
            case .readByteData(let register): return read(register, 1)
            case .readWordData(let register): return read(register, 2)
            case .readBlockData(let register, let count): return read(register, count)
            case .writeByteData(let register, let value):
                state.writes.append((register, [value]))
                return []
            case .writeWordData(let register, let value):
                state.writes.append((register, [UInt8(value & 0xFF), UInt8(value >> 8)]))
                return []
            case .writeBlockData(let register, let values):
                state.writes.append((register, values))
                return []
            case .writeRead(let written, let count):
                guard let first = written.first else { return read(state.pointer, count) }
                if written.count > 1 { state.writes.append((first, Array(written.dropFirst()))) }
                state.pointer = first
                return read(first, count)
            }
        }
    }
}
