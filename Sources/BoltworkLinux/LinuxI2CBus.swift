import BoltworkHAL

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// An I2C adapter through `/dev/i2c-N` and libi2c.
///
/// Checks the adapter's functionality mask before each transfer type, selects the device with
/// `I2C_SLAVE` (never `I2C_SLAVE_FORCE` unless asked), retries `EINTR`, maps errno to
/// ``I2CError/Kind`` as the kernel's fault-codes document defines them, and retries transient
/// failures when given a policy. Transfers are serialised: one device address is selected at a
/// time.
public final class LinuxI2CBus: I2CBus, Sendable {
    /// The device path.
    public let name: String
    /// The retry policy for transient failures.
    public let retryPolicy: I2CRetryPolicy
    private let system: any I2CSystem
    private let force: Bool
    private let state: Protected<State>
    private let functionality: I2CCapabilities

    private struct State {
        var descriptor: Int32
        var selected: UInt8?
    }

    /// Opens `path` (`/dev/i2c-1`). `retry` sets how transient failures (arbitration lost,
    /// busy, timeout, bus error) are retried; `forceAddress` uses `I2C_SLAVE_FORCE`, which takes
    /// a device from a kernel driver that has claimed it: only for diagnostics.
    public convenience init(path: String, retry: I2CRetryPolicy = .none, forceAddress: Bool = false)
        throws(I2CError)
    {
        try self.init(
            path: path, retry: retry, forceAddress: forceAddress, system: LiveI2CSystem(),
            devDirectory: "/dev")
    }

    /// Opens bus number `number` (`/dev/i2c-<number>`).
    public convenience init(bus number: Int, retry: I2CRetryPolicy = .none) throws(I2CError) {
        try self.init(path: "/dev/i2c-\(number)", retry: retry)
    }

    init(path: String, retry: I2CRetryPolicy, forceAddress: Bool, system: any I2CSystem, devDirectory: String)
        throws(I2CError)
    {
        self.name = path
        self.retryPolicy = retry
        self.system = system
        self.force = forceAddress
        var fd: Int32
        repeat { fd = system.open(path) } while fd == -EINTR
        guard fd >= 0 else {
            throw Self.openError(path: path, errno: -fd, system: system, devDirectory: devDirectory)
        }
        switch retryingInterrupted({ system.functionality(fd) }) {
        case .success(let bits):
            functionality = I2CCapabilities(rawValue: bits)
        case .failure(let error):
            system.close(fd)
            throw I2CError(
                .noSuchDevice, errno: error.errno, bus: path,
                detail:
                    "this is not an I2C adapter (I2C_FUNCS failed). Check the path: I2C buses are /dev/i2c-N."
            )
        }
        state = Protected(State(descriptor: fd, selected: nil))
    }

    deinit {
        let fd = state.withLock { $0.descriptor }
        if fd >= 0 { system.close(fd) }
    }

    /// Closes the bus; later transfers fail with `noSuchDevice`.
    public func close() {
        let fd = state.withLock { state -> Int32 in
            defer { state.descriptor = -1 }
            return state.descriptor
        }
        if fd >= 0 { system.close(fd) }
    }

    /// The adapter's functionality mask, read once when the bus was opened.
    public func capabilities() throws(I2CError) -> I2CCapabilities { functionality }

    /// Performs one transfer, retrying `EINTR` always and transient kinds per the policy.
    public func perform(_ operation: I2COperation, at address: I2CAddress) throws(I2CError) -> [UInt8] {
        try validate(operation, address)
        return try retryPolicy.run { () throws(I2CError) -> [UInt8] in try attempt(operation, address) }
    }

    private func validate(_ operation: I2COperation, _ address: I2CAddress) throws(I2CError) {
        guard functionality.contains(operation.requiredCapability) else {
            throw I2CError(
                .unsupported, bus: name, address: address, operation: operation,
                detail:
                    "the adapter does not offer this transfer type (its I2C_FUNCS mask lacks it); use a transfer it supports, e.g. SMBus word reads instead of raw I2C"
            )
        }
        switch operation {
        case .readBlockData(_, let count) where !(1...32).contains(count),
            .writeRead(_, let count) where count < 0 || count > 8192:
            throw I2CError(
                .invalidArgument, bus: name, address: address, operation: operation,
                detail: "block transfers carry 1 to 32 bytes")
        case .writeBlockData(_, let bytes) where !(1...32).contains(bytes.count):
            throw I2CError(
                .invalidArgument, bus: name, address: address, operation: operation,
                detail: "block transfers carry 1 to 32 bytes")
        default:
            break
        }
    }

    private func attempt(_ operation: I2COperation, _ address: I2CAddress) throws(I2CError) -> [UInt8] {
        let result = state.withLock { state -> Result<[UInt8], SystemError> in
            guard state.descriptor >= 0 else { return .failure(SystemError(errno: EBADF)) }
            if case .writeRead = operation {
                // I2C_RDWR carries the address in each message; no I2C_SLAVE needed.
            } else if state.selected != address.rawValue {
                var rc: Int32
                repeat {
                    rc = system.setAddress(state.descriptor, address.rawValue, force: force)
                } while rc == -EINTR
                if rc < 0 { return .failure(SystemError(errno: -rc)) }
                state.selected = address.rawValue
            }
            return retryingInterrupted {
                system.transfer(state.descriptor, operation, address: address.rawValue)
            }
        }
        switch result {
        case .success(let bytes): return bytes
        case .failure(let error):
            throw Self.transferError(errno: error.errno, bus: name, address: address, operation: operation)
        }
    }

    /// The errno → kind table for transfers (Linux Documentation/i2c/fault-codes.rst). i2c-stub
    /// and some SMBus adapters report an address nobody answers as `ENODEV`.
    static func kind(forErrno code: Int32) -> I2CError.Kind {
        switch code {
        case ENXIO, EREMOTEIO, ENODEV: .noAcknowledge(.address)
        case EIO, EPROTO, EBADMSG: .bus
        case EAGAIN: .arbitrationLost
        case ETIMEDOUT: .timeout
        case EBUSY: .busy
        case ENOENT, EBADF: .noSuchDevice
        case EACCES, EPERM: .permissionDenied
        case EOPNOTSUPP, ENOSYS: .unsupported
        case EINVAL, EMSGSIZE, EOVERFLOW: .invalidArgument
        default: .other
        }
    }

    static func transferError(errno code: Int32, bus: String, address: I2CAddress, operation: I2COperation)
        -> I2CError
    {
        let kind = kind(forErrno: code)
        let detail: String
        switch kind {
        case .noAcknowledge:
            detail =
                "no device answered at this address. Check the wiring (SDA, SCL, power, ground), the address in the board file, and `i2cdetect -y \(bus.split(separator: "-").last ?? "1")`."
        case .bus:
            detail = "the transfer was disturbed: check the pull-up resistors, cable length and connections."
        case .arbitrationLost:
            detail = "another master took the bus; the transfer can be retried."
        case .timeout:
            detail =
                "the device held the clock too long or the bus is stuck; power-cycle the device if it persists."
        case .busy:
            detail = "the bus or device is busy; the transfer can be retried."
        case .noSuchDevice:
            detail = "the bus went away or was closed."
        case .permissionDenied:
            detail = "this user may not use the bus; see the udev rule udev/60-boltwork.rules."
        case .unsupported:
            detail = "the adapter refused this transfer type."
        case .invalidArgument:
            detail = "the adapter refused the transfer's parameters."
        case .other:
            detail = "the transfer failed."
        }
        return I2CError(kind, errno: code, bus: bus, address: address, operation: operation, detail: detail)
    }

    static func openError(path: String, errno code: Int32, system: any I2CSystem, devDirectory: String)
        -> I2CError
    {
        switch code {
        case ENOENT, ENODEV, ENXIO:
            let buses = system.listDevices(in: devDirectory, prefix: "i2c-").map { devDirectory + "/" + $0 }
            let listing =
                buses.isEmpty
                ? "There are no I2C buses in \(devDirectory): enable I2C (on a Raspberry Pi: `sudo raspi-config nonint do_i2c 0`, or `dtparam=i2c_arm=on` in config.txt) and load i2c-dev (`sudo modprobe i2c-dev`)."
                : "Buses on this system: \(buses.joined(separator: ", "))."
            return I2CError(
                .noSuchDevice, errno: code, bus: path, detail: "this I2C bus does not exist. \(listing)")
        case EACCES, EPERM:
            let ownership = system.ownership(of: path)
            let group = ownership?.group ?? "i2c"
            let owner =
                ownership.map { " It belongs to group '\($0.group)' with mode \(String($0.mode, radix: 8))." }
                ?? ""
            return I2CError(
                .permissionDenied, errno: code, bus: path,
                detail:
                    "this user may not open the I2C bus.\(owner) Add the user to that group (`sudo usermod -aG \(group) $USER`, then log in again), or install Boltwork's udev rule (udev/60-boltwork.rules), which gives group 'boltwork' access to /dev/i2c-*."
            )
        default:
            return I2CError(kind(forErrno: code), errno: code, bus: path, detail: "cannot open the I2C bus")
        }
    }
}
