import BoltworkHAL

/// A device on a simulated I2C bus: answers each transfer addressed to it.
public protocol SimulatedI2CDevice: AnyObject, Sendable {
    /// Answers one transfer: the bytes read (empty for writes), or an error.
    func respond(to operation: I2COperation) throws(I2CError) -> [UInt8]
}

/// When an injected fault fires.
public enum I2CFaultSchedule: Sendable, Hashable {
    /// Every matching transfer fails.
    case always
    /// Only the Nth matching transfer from now (1 = the next one).
    case onCall(Int)
    /// The next N matching transfers.
    case next(Int)
}

/// An in-memory I2C bus with attached device models, fault injection and a transfer log.
public final class SimulatedI2CBus: I2CBus, Sendable {
    /// The bus's name (`/dev/i2c-1`).
    public let name: String
    /// How many transfers the log keeps at least: older ones are dropped, so a long-running
    /// simulation does not grow.
    public let logLimit: Int
    private let state: Protected<State>

    private struct Fault {
        var kind: I2CError.Kind
        var address: I2CAddress?
        var schedule: I2CFaultSchedule
        var seen = 0
    }

    private struct State {
        var capabilities: I2CCapabilities
        var devices: [I2CAddress: any SimulatedI2CDevice] = [:]
        var faults: [Fault] = []
        var log: [(I2CAddress, I2COperation)] = []
    }

    /// A bus with the given adapter capabilities (all transfer types by default; use `.smbus`
    /// to behave like i2c-stub) whose log keeps at least the newest `logLimit` transfers.
    public init(name: String = "/dev/i2c-1", capabilities: I2CCapabilities = .all, logLimit: Int = 10_000) {
        self.name = name
        self.logLimit = max(1, logLimit)
        self.state = Protected(State(capabilities: capabilities))
    }

    /// Puts `device` on the bus at `address`, replacing what was there.
    public func attach(_ device: any SimulatedI2CDevice, at address: I2CAddress) {
        state.withLock { $0.devices[address] = device }
    }

    /// Takes the device at `address` off the bus (a loose wire).
    public func detach(at address: I2CAddress) {
        state.withLock { _ = $0.devices.removeValue(forKey: address) }
    }

    /// Makes transfers fail with `kind` (to `address`, or to any address), per `schedule`.
    public func injectFault(_ kind: I2CError.Kind, at address: I2CAddress? = nil, schedule: I2CFaultSchedule)
    {
        state.withLock { $0.faults.append(Fault(kind: kind, address: address, schedule: schedule)) }
    }

    /// Removes every injected fault.
    public func clearFaults() {
        state.withLock { $0.faults.removeAll() }
    }

    /// The transfers attempted so far, failed ones included, oldest first (once there were
    /// more than ``logLimit``, the oldest are dropped).
    public var transfers: [(address: I2CAddress, operation: I2COperation)] {
        state.withLock { $0.log.map { (address: $0.0, operation: $0.1) } }
    }

    /// The capabilities given at creation.
    public func capabilities() throws(I2CError) -> I2CCapabilities {
        state.withLock { $0.capabilities }
    }

    /// Logs the transfer, applies faults, then asks the device at `address`; nobody there is a
    /// no-acknowledge (`ENXIO`), as on Linux.
    public func perform(_ operation: I2COperation, at address: I2CAddress) throws(I2CError) -> [UInt8] {
        let (device, fault, supported) = state.withLock {
            state -> ((any SimulatedI2CDevice)?, I2CError.Kind?, Bool) in
            state.log.append((address, operation))
            dropOldest(&state.log, keeping: logLimit)
            let supported = state.capabilities.contains(operation.requiredCapability)
            var fired: I2CError.Kind?
            for index in state.faults.indices
            where state.faults[index].address == nil || state.faults[index].address == address {
                state.faults[index].seen += 1
                let fault = state.faults[index]
                let fires: Bool
                switch fault.schedule {
                case .always: fires = true
                case .onCall(let n): fires = fault.seen == n
                case .next(let n): fires = fault.seen <= n
                }
                if fires && fired == nil { fired = fault.kind }
            }
            return (state.devices[address], fired, supported)
        }
        guard supported else {
            throw I2CError(
                .unsupported, errno: 95, bus: name, address: address, operation: operation,
                detail: "the adapter does not offer this transfer type")
        }
        if let fault {
            throw I2CError(
                fault, errno: Self.errno(for: fault), bus: name, address: address, operation: operation,
                detail: "injected fault")
        }
        guard let device else {
            throw I2CError(
                .noAcknowledge(.address), errno: 6, bus: name, address: address, operation: operation,
                detail: "no device answered at this address")
        }
        do {
            return try device.respond(to: operation)
        } catch {
            var located = error
            located.bus = located.bus ?? name
            located.address = located.address ?? address
            located.operation = located.operation ?? operation
            throw located
        }
    }

    /// The errno Linux reports for a kind.
    static func errno(for kind: I2CError.Kind) -> Int32 {
        switch kind {
        case .noAcknowledge: 121
        case .bus: 5
        case .arbitrationLost: 11
        case .timeout: 110
        case .busy: 16
        case .noSuchDevice: 19
        case .permissionDenied: 13
        case .unsupported: 95
        case .invalidArgument: 22
        case .other: 5
        }
    }
}

/// A device with a 256-byte register file and auto-incrementing addresses, the layout of most
/// small I2C chips. A word read of register R returns bytes R and R+1 in that order, so a chip
/// with big-endian 16-bit registers (MAX17048: MSB at R) and one with little-endian registers
/// (BQ27441: LSB at R) are both described by where their bytes sit.
public final class RegisterFileDevice: SimulatedI2CDevice, Sendable {
    private let state: Protected<State>

    private struct State {
        var bytes = [UInt8](repeating: 0, count: 256)
        var pointer: UInt8 = 0
        var writes: [(UInt8, [UInt8])] = []
    }

    /// A register file of zeros.
    public init() {
        state = Protected(State())
    }

    /// Sets byte register `register`.
    public func setByte(_ value: UInt8, at register: UInt8) {
        state.withLock { $0.bytes[Int(register)] = value }
    }

    /// Byte register `register`.
    public func byte(at register: UInt8) -> UInt8 {
        state.withLock { $0.bytes[Int(register)] }
    }

    /// Stores a 16-bit value MSB first at `register` (MAX17048, AS5600).
    public func setWordBigEndian(_ value: UInt16, at register: UInt8) {
        state.withLock { state in
            state.bytes[Int(register)] = UInt8(value >> 8)
            state.bytes[(Int(register) + 1) & 0xFF] = UInt8(value & 0xFF)
        }
    }

    /// Stores a 16-bit value LSB first at `register` (BQ27441).
    public func setWordLittleEndian(_ value: UInt16, at register: UInt8) {
        state.withLock { state in
            state.bytes[Int(register)] = UInt8(value & 0xFF)
            state.bytes[(Int(register) + 1) & 0xFF] = UInt8(value >> 8)
        }
    }

    /// The 16-bit value stored MSB first at `register`.
    public func wordBigEndian(at register: UInt8) -> UInt16 {
        state.withLock { UInt16($0.bytes[Int(register)]) << 8 | UInt16($0.bytes[(Int(register) + 1) & 0xFF]) }
    }

    /// The 16-bit value stored LSB first at `register`.
    public func wordLittleEndian(at register: UInt8) -> UInt16 {
        state.withLock { UInt16($0.bytes[(Int(register) + 1) & 0xFF]) << 8 | UInt16($0.bytes[Int(register)]) }
    }

    /// Every write received: the first register and the bytes written.
    public var writes: [(register: UInt8, bytes: [UInt8])] {
        state.withLock { $0.writes.map { (register: $0.0, bytes: $0.1) } }
    }

    /// Reads and writes the register file with auto-increment.
    public func respond(to operation: I2COperation) throws(I2CError) -> [UInt8] {
        state.withLock { state in
            func read(_ start: UInt8, _ count: Int) -> [UInt8] {
                (0..<count).map { state.bytes[(Int(start) + $0) & 0xFF] }
            }
            func write(_ start: UInt8, _ values: [UInt8]) {
                for (i, value) in values.enumerated() { state.bytes[(Int(start) + i) & 0xFF] = value }
                state.writes.append((start, values))
            }
            switch operation {
            case .readByte:
                defer { state.pointer &+= 1 }
                return [state.bytes[Int(state.pointer)]]
            case .writeByte(let value):
                state.pointer = value
                return []
            case .readByteData(let register): return read(register, 1)
            case .writeByteData(let register, let value):
                write(register, [value])
                return []
            case .readWordData(let register): return read(register, 2)
            case .writeWordData(let register, let value):
                write(register, [UInt8(value & 0xFF), UInt8(value >> 8)])
                return []
            case .readBlockData(let register, let count): return read(register, count)
            case .writeBlockData(let register, let bytes):
                write(register, bytes)
                return []
            case .writeRead(let bytes, let count):
                guard let first = bytes.first else { return read(state.pointer, count) }
                if bytes.count > 1 { write(first, Array(bytes.dropFirst())) }
                return read(first, count)
            }
        }
    }
}
