/// A 7-bit I2C device address (0x00-0x7F).
public struct I2CAddress: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The address, 0x00-0x7F.
    public let rawValue: UInt8

    /// Creates an address; `nil` when `rawValue` does not fit in 7 bits.
    public init?(_ rawValue: Int) {
        guard (0...0x7F).contains(rawValue) else { return nil }
        self.rawValue = UInt8(rawValue)
    }

    /// Creates an address from a literal that is known to fit (device constants such as
    /// `0x36`); values above 0x7F keep their low 7 bits.
    public init(constant rawValue: UInt8) {
        self.rawValue = rawValue & 0x7F
    }

    /// Orders addresses numerically.
    public static func < (lhs: I2CAddress, rhs: I2CAddress) -> Bool { lhs.rawValue < rhs.rawValue }

    /// `0x36`.
    public var description: String {
        let hex = String(rawValue, radix: 16)
        return "0x" + (hex.count < 2 ? "0" + hex : hex)
    }
}

/// One I2C or SMBus transfer. Word values are as SMBus carries them: low byte first on the
/// wire. Chips with big-endian registers (MAX17048, AS5600) swap after a word read; see
/// ``I2CBus/readWordBigEndian(from:register:)``.
public enum I2COperation: Sendable, Hashable, CustomStringConvertible {
    /// SMBus receive byte.
    case readByte
    /// SMBus send byte.
    case writeByte(UInt8)
    /// SMBus read byte data.
    case readByteData(register: UInt8)
    /// SMBus write byte data.
    case writeByteData(register: UInt8, value: UInt8)
    /// SMBus read word data.
    case readWordData(register: UInt8)
    /// SMBus write word data.
    case writeWordData(register: UInt8, value: UInt16)
    /// I2C block read of `count` (1-32) bytes from `register`.
    case readBlockData(register: UInt8, count: Int)
    /// I2C block write (1-32 bytes) to `register`.
    case writeBlockData(register: UInt8, bytes: [UInt8])
    /// Raw I2C: write `bytes`, repeated start, read `readCount` bytes (either may be empty).
    case writeRead(bytes: [UInt8], readCount: Int)

    /// The adapter capability this operation needs.
    public var requiredCapability: I2CCapabilities {
        switch self {
        case .readByte: .smbusReadByte
        case .writeByte: .smbusWriteByte
        case .readByteData: .smbusReadByteData
        case .writeByteData: .smbusWriteByteData
        case .readWordData: .smbusReadWordData
        case .writeWordData: .smbusWriteWordData
        case .readBlockData: .smbusReadI2CBlock
        case .writeBlockData: .smbusWriteI2CBlock
        case .writeRead: .i2c
        }
    }

    /// How many bytes a successful transfer returns.
    public var responseLength: Int {
        switch self {
        case .readByte, .readByteData: 1
        case .readWordData: 2
        case .readBlockData(_, let count): count
        case .writeRead(_, let count): count
        default: 0
        }
    }

    /// `read word 0x04` and the like, in hex.
    public var description: String {
        func hex(_ value: some BinaryInteger) -> String { "0x" + String(value, radix: 16) }
        switch self {
        case .readByte: return "read byte"
        case .writeByte(let value): return "write byte \(hex(value))"
        case .readByteData(let register): return "read byte register \(hex(register))"
        case .writeByteData(let register, let value):
            return "write byte \(hex(value)) to register \(hex(register))"
        case .readWordData(let register): return "read word register \(hex(register))"
        case .writeWordData(let register, let value):
            return "write word \(hex(value)) to register \(hex(register))"
        case .readBlockData(let register, let count):
            return "read \(count) bytes from register \(hex(register))"
        case .writeBlockData(let register, let bytes):
            return "write \(bytes.count) bytes to register \(hex(register))"
        case .writeRead(let bytes, let count): return "write \(bytes.count) bytes then read \(count)"
        }
    }
}

/// What an adapter can do: the kernel's `I2C_FUNC_*` bits.
public struct I2CCapabilities: OptionSet, Sendable, Hashable {
    /// The raw `I2C_FUNCS` mask.
    public let rawValue: UInt64
    /// Wraps a raw mask.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Plain I2C transfers (`I2C_RDWR`).
    public static let i2c = I2CCapabilities(rawValue: 0x0000_0001)
    /// SMBus receive byte.
    public static let smbusReadByte = I2CCapabilities(rawValue: 0x0002_0000)
    /// SMBus send byte.
    public static let smbusWriteByte = I2CCapabilities(rawValue: 0x0004_0000)
    /// SMBus read byte data.
    public static let smbusReadByteData = I2CCapabilities(rawValue: 0x0008_0000)
    /// SMBus write byte data.
    public static let smbusWriteByteData = I2CCapabilities(rawValue: 0x0010_0000)
    /// SMBus read word data.
    public static let smbusReadWordData = I2CCapabilities(rawValue: 0x0020_0000)
    /// SMBus write word data.
    public static let smbusWriteWordData = I2CCapabilities(rawValue: 0x0040_0000)
    /// I2C block reads through SMBus.
    public static let smbusReadI2CBlock = I2CCapabilities(rawValue: 0x0400_0000)
    /// I2C block writes through SMBus.
    public static let smbusWriteI2CBlock = I2CCapabilities(rawValue: 0x0800_0000)

    /// Every transfer type Boltwork uses.
    public static let all: I2CCapabilities = [
        .i2c, .smbusReadByte, .smbusWriteByte, .smbusReadByteData, .smbusWriteByteData,
        .smbusReadWordData, .smbusWriteWordData, .smbusReadI2CBlock, .smbusWriteI2CBlock,
    ]

    /// What i2c-stub and most SMBus-only adapters offer: everything but raw I2C.
    public static let smbus: I2CCapabilities = all.subtracting(.i2c)
}

/// An I2C bus (an adapter, `/dev/i2c-1` on Linux) carrying transfers to 7-bit addresses.
///
/// One required transfer method; the typed helpers below are built on it, so a mock or a
/// simulated bus implements just ``perform(_:at:)``.
public protocol I2CBus: Sendable {
    /// The bus's name for messages (`/dev/i2c-1`).
    var name: String { get }
    /// What the adapter supports.
    func capabilities() throws(I2CError) -> I2CCapabilities
    /// Performs one transfer with the device at `address` and returns the bytes read (empty for
    /// writes; two bytes, low first, for a word read).
    func perform(_ operation: I2COperation, at address: I2CAddress) throws(I2CError) -> [UInt8]
}

extension I2CBus {
    /// SMBus receive byte.
    public func readByte(from address: I2CAddress) throws(I2CError) -> UInt8 {
        try single(.readByte, address)
    }

    /// SMBus send byte.
    public func writeByte(_ value: UInt8, to address: I2CAddress) throws(I2CError) {
        _ = try perform(.writeByte(value), at: address)
    }

    /// SMBus read byte data.
    public func readByte(from address: I2CAddress, register: UInt8) throws(I2CError) -> UInt8 {
        try single(.readByteData(register: register), address)
    }

    /// SMBus write byte data.
    public func writeByte(_ value: UInt8, to address: I2CAddress, register: UInt8) throws(I2CError) {
        _ = try perform(.writeByteData(register: register, value: value), at: address)
    }

    /// SMBus read word data, little-endian as SMBus defines it.
    public func readWord(from address: I2CAddress, register: UInt8) throws(I2CError) -> UInt16 {
        let bytes = try checked(.readWordData(register: register), address)
        return UInt16(bytes[0]) | UInt16(bytes[1]) << 8
    }

    /// SMBus read word data from a chip whose registers are big-endian (first byte is the MSB).
    public func readWordBigEndian(from address: I2CAddress, register: UInt8) throws(I2CError) -> UInt16 {
        try readWord(from: address, register: register).byteSwapped
    }

    /// SMBus write word data, little-endian.
    public func writeWord(_ value: UInt16, to address: I2CAddress, register: UInt8) throws(I2CError) {
        _ = try perform(.writeWordData(register: register, value: value), at: address)
    }

    /// SMBus write word data to a big-endian register (the MSB travels first).
    public func writeWordBigEndian(_ value: UInt16, to address: I2CAddress, register: UInt8) throws(I2CError)
    {
        try writeWord(value.byteSwapped, to: address, register: register)
    }

    /// I2C block read of `count` bytes starting at `register`.
    public func readBlock(from address: I2CAddress, register: UInt8, count: Int) throws(I2CError) -> [UInt8] {
        try checked(.readBlockData(register: register, count: count), address)
    }

    /// I2C block write starting at `register`.
    public func writeBlock(_ bytes: [UInt8], to address: I2CAddress, register: UInt8) throws(I2CError) {
        _ = try perform(.writeBlockData(register: register, bytes: bytes), at: address)
    }

    /// Raw write-then-read with a repeated start.
    public func writeRead(_ bytes: [UInt8], readCount: Int, at address: I2CAddress) throws(I2CError)
        -> [UInt8]
    {
        try checked(.writeRead(bytes: bytes, readCount: readCount), address)
    }

    private func single(_ operation: I2COperation, _ address: I2CAddress) throws(I2CError) -> UInt8 {
        try checked(operation, address)[0]
    }

    /// Performs `operation` and checks the response length, so a misbehaving bus cannot make a
    /// caller index out of range.
    private func checked(_ operation: I2COperation, _ address: I2CAddress) throws(I2CError) -> [UInt8] {
        let bytes = try perform(operation, at: address)
        guard bytes.count == operation.responseLength else {
            throw I2CError(
                .bus, bus: name, address: address, operation: operation,
                detail: "expected \(operation.responseLength) bytes, got \(bytes.count)")
        }
        return bytes
    }
}
