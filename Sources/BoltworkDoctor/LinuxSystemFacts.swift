import CBoltworkClock
import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// How the clock's synchronisation is found out, step by step, each step injectable:
///
/// 1. The kernel: `adjtimex(2)` with no modes set (read only). It returns `TIME_ERROR` and
///    sets `STA_UNSYNC` while no time daemon (systemd-timesyncd, chrony, ntpd) disciplines the
///    clock. Under the systemd unit's `ProtectClock=yes` the call is refused (`EPERM`), so:
/// 2. systemd-timesyncd's flag file `/run/systemd/timesync/synchronized` (present once it
///    synchronised; its absence proves nothing, chrony and ntpd do not write it), then
/// 3. `timedatectl show -p NTPSynchronized --value` (`yes` / `no`), which asks systemd over
///    D-Bus and works for every time daemon. It is given 5 seconds.
/// 4. Otherwise unknown, with the reasons.
public struct ClockProbe: Sendable {
    /// The kernel's answer: true when synchronised; an errno when the call failed.
    public var kernel: @Sendable () -> Result<Bool, KernelError>
    /// Whether systemd-timesyncd's flag file exists.
    public var timesyncFlag: @Sendable () -> Bool
    /// `timedatectl show -p NTPSynchronized --value`'s output, nil when it cannot run.
    public var timedatectl: @Sendable () -> String?

    /// A failed `adjtimex(2)` call.
    public struct KernelError: Error, Sendable, Hashable {
        /// The errno.
        public var errno: Int32
        /// Creates an error.
        public init(errno: Int32) { self.errno = errno }
    }

    /// Creates a probe from its steps.
    public init(
        kernel: @escaping @Sendable () -> Result<Bool, KernelError>,
        timesyncFlag: @escaping @Sendable () -> Bool,
        timedatectl: @escaping @Sendable () -> String?
    ) {
        self.kernel = kernel
        self.timesyncFlag = timesyncFlag
        self.timedatectl = timedatectl
    }

    /// The Linux probe.
    public static let linux = ClockProbe(
        kernel: LinuxSystemFacts.kernelClockSynchronized,
        timesyncFlag: { FileManager.default.fileExists(atPath: "/run/systemd/timesync/synchronized") },
        timedatectl: LinuxSystemFacts.timedatectlSynchronized)

    /// Runs the steps in order (see the type's documentation).
    public func check() -> ClockSynchronization {
        var reasons: [String] = []
        switch kernel() {
        case .success(true): return .synchronized(source: "adjtimex")
        case .success(false): return .unsynchronized(source: "adjtimex (STA_UNSYNC)")
        case .failure(let error):
            reasons.append("adjtimex failed: \(String(cString: strerror(error.errno)))")
        }
        if timesyncFlag() { return .synchronized(source: "systemd-timesyncd") }
        switch timedatectl()?.trimmingCharacters(in: .whitespacesAndNewlines) {
        case "yes": return .synchronized(source: "timedatectl")
        case "no": return .unsynchronized(source: "timedatectl")
        case let other?: reasons.append("timedatectl answered '\(other)'")
        case nil: reasons.append("timedatectl could not run")
        }
        return .unknown(reason: reasons.joined(separator: "; "))
    }
}

/// The facts on a Linux board: the clock (``ClockProbe``), the `boltwork` service user and its
/// groups, this process's user, the udev rule, and every `/dev/gpiochip*` and `/dev/i2c-*`
/// node with its owner, group and mode. Every path is injectable for tests.
public struct LinuxSystemFacts: SystemFactsSource {
    /// Where the device nodes are (`/dev`).
    public var deviceDirectory: String
    /// Where the udev rule may be, in udev's order of precedence.
    public var udevRulePaths: [String]
    /// The user the systemd unit runs the daemon as.
    public var serviceUserName: String
    /// The clock probe.
    public var clock: ClockProbe
    /// The running software.
    public var software: SoftwareVersion

    /// The standard places (`/dev`, `/etc/udev/rules.d`, `/run/udev/rules.d`,
    /// `/usr/lib/udev/rules.d`, `/lib/udev/rules.d`), the `boltwork` user, the Linux clock
    /// probe and this build's version.
    public init(
        deviceDirectory: String = "/dev",
        udevRulePaths: [String] = [
            "/etc/udev/rules.d/60-boltwork.rules", "/run/udev/rules.d/60-boltwork.rules",
            "/usr/lib/udev/rules.d/60-boltwork.rules", "/lib/udev/rules.d/60-boltwork.rules",
        ],
        serviceUserName: String = "boltwork", clock: ClockProbe = .linux,
        software: SoftwareVersion = BoltworkVersion.current
    ) {
        self.deviceDirectory = deviceDirectory
        self.udevRulePaths = udevRulePaths
        self.serviceUserName = serviceUserName
        self.clock = clock
        self.software = software
    }

    /// Gathers the facts.
    public func gather(hardware: Bool) -> SystemFacts {
        SystemFacts(
            clock: clock.check(), software: software, hardware: hardware ? hardwareFacts() : nil)
    }

    /// The service user, this process's user, the udev rule and the device nodes.
    public func hardwareFacts() -> HardwareFacts {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: deviceDirectory)) ?? []
        let devices = names.filter { $0.hasPrefix("gpiochip") || $0.hasPrefix("i2c-") }
            .sorted { $0.localizedStandardCompare($1) == .orderedAscending }
            .compactMap { Self.node(at: deviceDirectory + "/" + $0) }
        return HardwareFacts(
            serviceUserName: serviceUserName, serviceUser: Self.account(named: serviceUserName),
            processUser: Self.account(uid: getuid()),
            udevRule: udevRulePaths.first { FileManager.default.fileExists(atPath: $0) },
            udevRuleSearched: udevRulePaths, devices: devices)
    }

    /// The node at `path`, nil when `stat(2)` fails.
    public static func node(at path: String) -> DeviceNode? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        var groupName: String?
        if let group = getgrgid(info.st_gid), let name = group.pointee.gr_name {
            groupName = String(cString: name)
        }
        return DeviceNode(
            path: path, ownerID: info.st_uid, groupID: info.st_gid, groupName: groupName,
            mode: UInt32(info.st_mode) & 0o7777)
    }

    /// The account named `name` with all its groups, nil when there is none.
    public static func account(named name: String) -> Account? {
        guard let entry = getpwnam(name) else { return nil }
        return account(entry.pointee)
    }

    /// The account with user id `uid`, nil when it has no entry.
    public static func account(uid: uid_t) -> Account? {
        guard let entry = getpwuid(uid) else { return nil }
        return account(entry.pointee)
    }

    private static func account(_ entry: passwd) -> Account? {
        guard let namePointer = entry.pw_name else { return nil }
        let name = String(cString: namePointer)
        var count: Int32 = 32
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(namePointer, entry.pw_gid, &groups, &count) < 0 {
            // Too small: `count` now holds the number needed.
            groups = [gid_t](repeating: 0, count: Int(max(count, 1)))
            if getgrouplist(namePointer, entry.pw_gid, &groups, &count) < 0 { count = 0 }
        }
        var ids = Array(groups.prefix(Int(max(0, count))))
        if !ids.contains(entry.pw_gid) { ids.insert(entry.pw_gid, at: 0) }
        return Account(name: name, uid: entry.pw_uid, groupIDs: ids)
    }

    /// `adjtimex(2)` with no modes (through the C shim `bw_clock_synchronized`): synchronised
    /// unless it returns `TIME_ERROR` or sets `STA_UNSYNC`.
    @Sendable public static func kernelClockSynchronized() -> Result<Bool, ClockProbe.KernelError> {
        let result = bw_clock_synchronized()
        if result < 0 { return .failure(ClockProbe.KernelError(errno: -result)) }
        return .success(result == 1)
    }

    /// Runs `timedatectl show -p NTPSynchronized --value` with a 5 s limit; nil when it cannot
    /// run, fails or takes too long.
    @Sendable public static func timedatectlSynchronized() -> String? {
        let candidates = ["/usr/bin/timedatectl", "/bin/timedatectl"]
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            return nil
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["show", "-p", "NTPSynchronized", "--value"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        do {
            try process.run()
        } catch {
            return nil
        }
        if finished.wait(timeout: .now() + 5) == .timedOut {
            process.terminate()
            return nil
        }
        guard process.terminationStatus == 0 else { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        return String(decoding: data, as: UTF8.self)
    }
}
