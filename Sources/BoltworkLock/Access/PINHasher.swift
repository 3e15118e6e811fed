import BoltworkDrivers
import Crypto
import CryptoExtras
import Foundation

/// Turns a PIN into the slow hash that is stored in its place, and compares hashes in constant
/// time.
///
/// The construction is `scrypt(HMAC-SHA256(installSecret, digits), salt, N, r, p)` with a
/// 32-byte output, where `salt = HMAC-SHA256(installSecret, "boltwork/pin-salt/v1")`.
///
/// - The HMAC with the install secret (a pepper) means a copy of the database alone is not
///   enough to search the code space: the secret lives beside it and is never exported.
/// - scrypt makes every guess cost tens of milliseconds and megabytes of memory on the lock's
///   own hardware, so an offline search of a stolen database (secret included) is slow too.
/// - The salt is per install, not per user. That is deliberate: codes are unique across the
///   users of one lock, so the unlock path derives ONE slow hash per attempt and compares it
///   with every user's stored hash, instead of one slow hash per user (which would make a
///   lock with 50 users take 50 times as long to open). What a per-user salt would add is
///   protection against precomputing one table for many users; with a per-install salt and
///   pepper, a table only works for one lock, which is what a thief of that lock's database
///   has anyway. Uniqueness of codes is checked by equal hashes.
///
/// The digits are never logged, stored or returned: only ``PINCredential`` (hash and length)
/// leaves this type.
public struct PINHasher: Sendable {
    /// scrypt's cost parameters.
    public struct Parameters: Sendable, Hashable, Codable {
        /// N, the CPU/memory cost: a power of two. Memory used is `128 * N * r` bytes.
        public var rounds: Int
        /// r, the block size.
        public var blockSize: Int
        /// p, the parallelism.
        public var parallelism: Int

        /// Creates parameters.
        public init(rounds: Int, blockSize: Int, parallelism: Int) {
            self.rounds = rounds
            self.blockSize = blockSize
            self.parallelism = parallelism
        }

        /// The default for a lock: N = 2^13, r = 8, p = 1 (8 MiB). Roughly 30 to 60 ms on a
        /// Raspberry Pi 4 and 100 to 200 ms on a Pi Zero 2 W: slow enough to make every offline
        /// guess expensive, fast enough not to delay the door. Measure on your board with
        /// `boltd doctor` and raise `rounds` on faster hardware.
        public static let standard = Parameters(rounds: 1 << 13, blockSize: 8, parallelism: 1)

        /// Deliberately cheap parameters for tests (N = 16, r = 1, p = 1). Never use on a lock.
        public static let testing = Parameters(rounds: 16, blockSize: 1, parallelism: 1)

        /// Memory scrypt needs, in bytes.
        public var memoryBytes: Int { 128 * rounds * blockSize * parallelism }

        /// Checks the parameters are ones scrypt accepts.
        public func validate() throws(AccessError) {
            guard rounds >= 2, rounds & (rounds - 1) == 0 else {
                throw AccessError(
                    .invalidSetting, "scrypt rounds (N) must be a power of two ≥ 2, not \(rounds)")
            }
            guard blockSize >= 1, parallelism >= 1 else {
                throw AccessError(.invalidSetting, "scrypt block size (r) and parallelism (p) must be ≥ 1")
            }
            guard memoryBytes <= 1 << 30 else {
                throw AccessError(
                    .invalidSetting, "scrypt parameters need \(memoryBytes >> 20) MiB; keep it under 1 GiB")
            }
        }
    }

    /// Allowed code lengths.
    public struct LengthBounds: Sendable, Hashable, Codable {
        /// Fewest digits.
        public var minimum: Int
        /// Most digits.
        public var maximum: Int

        /// Creates bounds; the default is 6 to 10 digits.
        public init(minimum: Int = 6, maximum: Int = 10) {
            self.minimum = minimum
            self.maximum = maximum
        }

        /// Whether `count` digits are allowed.
        public func contains(_ count: Int) -> Bool { count >= minimum && count <= maximum }
    }

    /// The hash's length in bytes.
    public static let hashByteCount = 32

    private let pepper: SymmetricKey
    private let salt: [UInt8]
    /// The cost parameters.
    public let parameters: Parameters
    /// The allowed lengths.
    public let bounds: LengthBounds

    /// A hasher for one install, keyed by its secret.
    public init(
        installSecret: [UInt8], parameters: Parameters = .standard, bounds: LengthBounds = LengthBounds()
    )
        throws(AccessError)
    {
        guard installSecret.count >= 16 else {
            throw AccessError(
                .invalidSetting, "the install secret is \(installSecret.count) bytes; it needs at least 16")
        }
        guard bounds.minimum >= 1, bounds.maximum >= bounds.minimum else {
            throw AccessError(
                .invalidSetting, "code length bounds \(bounds.minimum)...\(bounds.maximum) are empty")
        }
        try parameters.validate()
        pepper = SymmetricKey(data: installSecret)
        salt = Array(HMAC<SHA256>.authenticationCode(for: Data("boltwork/pin-salt/v1".utf8), using: pepper))
        self.parameters = parameters
        self.bounds = bounds
    }

    /// Checks that `digits` is ASCII digits only, within the length bounds. The error says what
    /// is wrong without repeating the digits.
    public func validate(_ digits: String) throws(AccessError) {
        let bytes = Array(digits.utf8)
        guard bytes.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw AccessError(.invalidPIN, "a code may contain only the digits 0 to 9")
        }
        guard bounds.contains(bytes.count) else {
            throw AccessError(
                .invalidPIN,
                "a code must have \(bounds.minimum) to \(bounds.maximum) digits, not \(bytes.count)")
        }
    }

    /// The stored form of `digits` (validated first).
    public func credential(for digits: String) throws(AccessError) -> PINCredential {
        try validate(digits)
        return PINCredential(hash: try hash(validated: digits), length: digits.utf8.count)
    }

    /// The stored form of a keypad entry.
    public func credential(for entry: PINEntry) throws(AccessError) -> PINCredential {
        try credential(for: entry.revealedDigits)
    }

    /// The slow hash of digits already validated.
    func hash(validated digits: String) throws(AccessError) -> [UInt8] {
        let peppered = Array(HMAC<SHA256>.authenticationCode(for: Data(digits.utf8), using: pepper))
        do {
            let key = try KDF.Scrypt.deriveKey(
                from: peppered, salt: salt, outputByteCount: Self.hashByteCount, rounds: parameters.rounds,
                blockSize: parameters.blockSize, parallelism: parameters.parallelism)
            return key.withUnsafeBytes { Array($0) }
        } catch {
            throw AccessError(
                .hashingFailed,
                "scrypt failed with N=\(parameters.rounds) r=\(parameters.blockSize) p=\(parameters.parallelism) "
                    + "(\(parameters.memoryBytes >> 20) MiB): lower the parameters or free memory")
        }
    }

    /// Compares two byte strings in time that depends only on their lengths, never on where
    /// they differ.
    public static func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }
}
