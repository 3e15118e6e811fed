/// An I2C failure: a portable kind, the errno when the kernel gave one, and where it happened.
public struct I2CError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Which part of a transfer was not acknowledged.
    public enum NoAcknowledgeSource: Sendable, Hashable {
        /// Nobody answered the address: wrong address, missing pull-ups, unpowered chip.
        case address
        /// The device refused a data byte.
        case data
        /// The adapter cannot tell which.
        case unknown
    }

    /// What went wrong, independent of the backend (embedded-hal's `ErrorKind`, extended with
    /// what Linux reports).
    public enum Kind: Sendable, Hashable {
        /// No acknowledge (`ENXIO`, `EREMOTEIO`; `ENODEV` from i2c-stub and some SMBus adapters).
        case noAcknowledge(NoAcknowledgeSource)
        /// Bus error: a glitch, a missing pull-up, a stuck line (`EIO`, `EPROTO`, `EBADMSG`).
        case bus
        /// Another master won arbitration (`EAGAIN`).
        case arbitrationLost
        /// The transfer timed out, often clock stretching (`ETIMEDOUT`).
        case timeout
        /// The adapter is busy (`EBUSY`).
        case busy
        /// The bus device does not exist or went away (`ENOENT` or `ENODEV` when opening it).
        case noSuchDevice
        /// The process may not open the bus (`EACCES`, `EPERM`).
        case permissionDenied
        /// The adapter cannot do this transfer type (`EOPNOTSUPP`, or missing from its
        /// functionality mask).
        case unsupported
        /// The caller asked for something impossible (a block longer than 32 bytes).
        case invalidArgument
        /// Anything else.
        case other
    }

    /// The portable kind.
    public var kind: Kind
    /// The errno, when there was one.
    public var errno: Int32?
    /// The bus (`/dev/i2c-1`).
    public var bus: String?
    /// The device address.
    public var address: I2CAddress?
    /// The transfer that failed.
    public var operation: I2COperation?
    /// What failed and what to do about it.
    public var detail: String

    /// Creates an error.
    public init(
        _ kind: Kind, errno: Int32? = nil, bus: String? = nil, address: I2CAddress? = nil,
        operation: I2COperation? = nil, detail: String
    ) {
        self.kind = kind
        self.errno = errno
        self.bus = bus
        self.address = address
        self.operation = operation
        self.detail = detail
    }

    /// Whether retrying the same transfer may succeed (arbitration, busy, timeout, bus glitch).
    public var isTransient: Bool {
        switch kind {
        case .arbitrationLost, .busy, .timeout, .bus: true
        default: false
        }
    }

    /// `I2C no acknowledge on /dev/i2c-1 address 0x36 (read word register 0x4) (errno 121 EREMOTEIO): ...`
    public var description: String {
        var text = "I2C \(kind.label)"
        if let bus { text += " on \(bus)" }
        if let address { text += " address \(address)" }
        if let operation { text += " (\(operation))" }
        if let errno { text += " (errno \(errno) \(ErrnoName.name(errno)))" }
        return text + ": " + detail
    }
}

extension I2CError.Kind {
    /// Words for messages.
    public var label: String {
        switch self {
        case .noAcknowledge(.address): "no acknowledge for the address"
        case .noAcknowledge(.data): "no acknowledge for data"
        case .noAcknowledge(.unknown): "no acknowledge"
        case .bus: "bus error"
        case .arbitrationLost: "arbitration lost"
        case .timeout: "timeout"
        case .busy: "bus busy"
        case .noSuchDevice: "no such bus"
        case .permissionDenied: "permission denied"
        case .unsupported: "transfer not supported"
        case .invalidArgument: "invalid transfer"
        case .other: "error"
        }
    }
}

/// How often a transfer is tried again after a transient failure.
public struct I2CRetryPolicy: Sendable, Hashable {
    /// Total attempts, at least 1.
    public var attempts: Int
    /// Which kinds are retried.
    public var retryOn: Set<I2CError.Kind>

    /// Retries up to `attempts` in all on the given kinds (by default: arbitration lost, busy,
    /// timeout and bus errors).
    public init(
        attempts: Int,
        retryOn: Set<I2CError.Kind> = [.arbitrationLost, .busy, .timeout, .bus]
    ) {
        self.attempts = max(1, attempts)
        self.retryOn = retryOn
    }

    /// One attempt, no retry.
    public static let none = I2CRetryPolicy(attempts: 1, retryOn: [])

    /// Runs `body` until it succeeds, fails with a kind not in `retryOn`, or `attempts` ran out.
    /// The last error is rethrown with the number of attempts in its detail.
    public func run<T>(_ body: () throws(I2CError) -> T) throws(I2CError) -> T {
        var attempt = 1
        while true {
            do {
                return try body()
            } catch {
                guard attempt < attempts, retryOn.contains(error.kind) else {
                    if attempt > 1 {
                        var annotated = error
                        annotated.detail += " (after \(attempt) attempts)"
                        throw annotated
                    }
                    throw error
                }
                attempt += 1
            }
        }
    }
}

/// Wraps any bus so that transfers failing with a transient kind are retried.
public struct RetryingI2CBus: I2CBus {
    /// The bus underneath.
    public let base: any I2CBus
    /// The retry policy.
    public let policy: I2CRetryPolicy

    /// Wraps `base` with `policy`.
    public init(_ base: any I2CBus, policy: I2CRetryPolicy) {
        self.base = base
        self.policy = policy
    }

    /// The base bus's name.
    public var name: String { base.name }

    /// The base bus's capabilities.
    public func capabilities() throws(I2CError) -> I2CCapabilities { try base.capabilities() }

    /// Performs the transfer, retrying transient failures.
    public func perform(_ operation: I2COperation, at address: I2CAddress) throws(I2CError) -> [UInt8] {
        try policy.run { () throws(I2CError) -> [UInt8] in try base.perform(operation, at: address) }
    }
}
