import BoltworkHAL

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A battery whose gauge a Linux kernel driver owns (max17040_battery, bq27xxx_battery, an
/// ACPI battery), read from the power_supply class in sysfs:
/// `/sys/class/power_supply/NAME/capacity` (%), `voltage_now` (uV), `status`, and, when the
/// driver offers them, `current_now` (uA), `charge_now` and `charge_full` (uAh).
///
/// When a kernel driver has bound the chip, userspace I2C access to it fails with `EBUSY`:
/// use this gauge instead of ``MAX17048`` or ``BQ27441`` there. The root directory is
/// injectable so tests use a temporary directory.
public final class PowerSupplyGauge: BatteryGauge, Sendable {
    /// The sysfs directory of the power_supply class.
    public static let defaultRoot = "/sys/class/power_supply"

    /// The supply's directory name (`battery`, `max1704x-battery`, `bq27441-0`).
    public let supply: String
    /// The directory holding the supplies.
    public let root: String
    /// Cells in series, for the voltage plausibility check (5 V per cell at most).
    public let cells: Int
    /// The clock timestamps come from.
    public let clock: any BoltClock
    /// The name errors use (`gauge`).
    public let device: String

    /// A gauge for `supply` under `root`. Nothing is read until ``read()``.
    public init(
        supply: String, root: String = PowerSupplyGauge.defaultRoot, cells: Int = 1, clock: any BoltClock,
        device: String = "gauge"
    ) {
        self.supply = supply
        self.root = root
        self.cells = max(1, cells)
        self.clock = clock
        self.device = device
    }

    /// `power_supply battery (/sys/class/power_supply/battery)`.
    public var name: String { "power_supply \(supply) (\(directory))" }

    private var directory: String { root + "/" + supply }

    /// The supplies under `root`, sorted by name.
    public static func supplies(root: String = PowerSupplyGauge.defaultRoot) -> [String] {
        PowerSupplyFiles.entries(of: root).sorted()
    }

    /// Reads `capacity`, `voltage_now` and `status`, then `current_now`, `charge_now` and
    /// `charge_full` when present. A missing supply or a supply without `capacity` or
    /// `voltage_now` (a charger, not a battery) throws `.configuration` naming the supplies that
    /// exist; a capacity above 100 % or a voltage of 0 or above 5 V per cell throws
    /// `.implausible`. Some drivers report a discharge current as positive: when `status` says
    /// `Discharging`, the current is made negative, the sign ``BatteryReading`` uses.
    public func read() throws(DeviceError) -> BatteryReading {
        guard PowerSupplyFiles.isDirectory(directory) else {
            let others = Self.supplies(root: root)
            let list =
                others.isEmpty
                ? "there are none: is the gauge's kernel driver loaded (max17040_battery, bq27xxx_battery) "
                    + "and its device-tree overlay enabled"
                : "the supplies there are: " + others.joined(separator: ", ")
            throw DeviceError(
                .configuration, device: device, detail: "no power supply '\(supply)' in \(root); \(list)")
        }
        guard let capacity = try integer("capacity") else { throw notABattery("capacity") }
        guard let microvolts = try integer("voltage_now") else { throw notABattery("voltage_now") }
        let status = try text("status")
        var microamps = try integer("current_now")
        let chargeNow = try integer("charge_now")
        let chargeFull = try integer("charge_full")

        guard (0...100).contains(capacity) else {
            throw implausible("capacity reads \(capacity) %, outside 0-100 %")
        }
        let millivolts = Int((Double(microvolts) / 1000).rounded())
        guard millivolts > 0 else {
            throw implausible("voltage_now reads \(microvolts) uV, which no connected battery produces")
        }
        guard millivolts <= 5000 * cells else {
            throw implausible(
                "voltage_now reads \(millivolts) mV, above the \(5000 * cells) mV of \(cells) Li-ion cell(s)")
        }
        var flags: [String] = []
        if let status, status != "Unknown" { flags.append(status.lowercased()) }
        if status == "Discharging", let current = microamps, current > 0 { microamps = -current }
        return BatteryReading(
            millivolts: millivolts, percent: Double(capacity),
            averageMilliamps: microamps.map { Int((Double($0) / 1000).rounded()) },
            remainingMilliampHours: chargeNow.map { $0 / 1000 },
            fullMilliampHours: chargeFull.map { $0 / 1000 },
            flags: flags, timestamp: clock.now)
    }

    private func text(_ file: String) throws(DeviceError) -> String? {
        do {
            return try PowerSupplyFiles.read(directory + "/" + file)
        } catch {
            throw DeviceError(
                .hardware, device: device, detail: "cannot read \(file) of \(name)", underlying: error)
        }
    }

    private func integer(_ file: String) throws(DeviceError) -> Int? {
        guard let text = try text(file) else { return nil }
        guard let value = Int(text) else {
            throw implausible("\(file) reads '\(text)', not a number")
        }
        return value
    }

    private func notABattery(_ file: String) -> DeviceError {
        let type = (try? PowerSupplyFiles.read(directory + "/type")) ?? nil
        let kind = type.map { " (its type is \($0))" } ?? ""
        let others = Self.supplies(root: root).filter { $0 != supply }
        let hint = others.isEmpty ? "" : "; other supplies: " + others.joined(separator: ", ")
        return DeviceError(
            .configuration, device: device,
            detail: "\(name) has no \(file), so it is not a battery gauge\(kind)\(hint)")
    }

    private func implausible(_ what: String) -> DeviceError {
        DeviceError(
            .implausible, device: device,
            detail: "\(name): \(what); this is not a battery level: check the gauge's wiring and the "
                + "address in its device-tree overlay")
    }
}

/// A failed read of a sysfs file.
public struct PowerSupplyFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file.
    public var path: String
    /// The errno.
    public var errno: Int32

    /// Creates an error.
    public init(path: String, errno: Int32) {
        self.path = path
        self.errno = errno
    }

    /// `cannot read /sys/...: errno 61`.
    public var description: String { "cannot read \(path): errno \(errno)" }
}

/// The few file operations the power_supply gauge needs, on plain libc.
enum PowerSupplyFiles {
    /// The file's text without trailing whitespace, or nil when it does not exist (or the
    /// driver has no data for it: `ENODATA`, `ENODEV`).
    static func read(_ path: String) throws(PowerSupplyFileError) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            if code == ENOENT { return nil }
            throw PowerSupplyFileError(path: path, errno: code)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
            let count = buffer.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                if code == ENODATA || code == ENODEV { return nil }
                throw PowerSupplyFileError(path: path, errno: code)
            }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
        }
        while let last = bytes.last, last == 0x0A || last == 0x20 || last == 0x09 || last == 0x0D {
            bytes.removeLast()
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `path` is a directory (following symbolic links, as sysfs uses them).
    static func isDirectory(_ path: String) -> Bool {
        guard let dir = opendir(path) else { return false }
        closedir(dir)
        return true
    }

    /// The names in a directory, without `.` and `..`; empty when it cannot be read.
    static func entries(of path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

/// libc `read(2)`, named apart from the methods called `read`.
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}
