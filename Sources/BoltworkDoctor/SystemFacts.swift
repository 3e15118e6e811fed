import Foundation

/// Whether the wall clock is synchronised (schedules, date ranges and the audit log's times
/// depend on it), and how that was found out.
public enum ClockSynchronization: Sendable, Hashable {
    /// Synchronised, according to `source` (e.g. `adjtimex`).
    case synchronized(source: String)
    /// Not synchronised, according to `source`.
    case unsynchronized(source: String)
    /// No source could tell, and why.
    case unknown(reason: String)
}

/// A Unix account: its name, user id and every group it is in.
public struct Account: Sendable, Hashable {
    /// The login name.
    public var name: String
    /// The user id.
    public var uid: UInt32
    /// The primary and supplementary group ids.
    public var groupIDs: [UInt32]

    /// Creates an account.
    public init(name: String, uid: UInt32, groupIDs: [UInt32]) {
        self.name = name
        self.uid = uid
        self.groupIDs = groupIDs
    }
}

/// A device node's ownership and permission bits, as `stat(2)` reports them.
public struct DeviceNode: Sendable, Hashable {
    /// `/dev/gpiochip0`, `/dev/i2c-1`.
    public var path: String
    /// The owner's user id.
    public var ownerID: UInt32
    /// The owning group's id.
    public var groupID: UInt32
    /// The owning group's name, when it has one.
    public var groupName: String?
    /// The permission bits (`0o660`).
    public var mode: UInt32

    /// Creates a node.
    public init(path: String, ownerID: UInt32, groupID: UInt32, groupName: String?, mode: UInt32) {
        self.path = path
        self.ownerID = ownerID
        self.groupID = groupID
        self.groupName = groupName
        self.mode = mode
    }

    /// Whether `account` may open the node for reading and writing, by the owner, group and
    /// other permission bits (root always may).
    public func grantsReadWrite(to account: Account) -> Bool {
        if account.uid == 0 { return true }
        if account.uid == ownerID { return mode & 0o600 == 0o600 }
        if account.groupIDs.contains(groupID) { return mode & 0o060 == 0o060 }
        return mode & 0o006 == 0o006
    }

    /// `crw-rw---- root:boltwork`-like description: the mode in octal and the group.
    public var permissions: String {
        "mode \(String(mode, radix: 8)), group \(groupName ?? String(groupID))"
    }
}

/// What the doctor knows about the daemon's place on the board: who it runs as, the service
/// user the unit runs it as, the udev rule, and the GPIO and I2C device nodes.
public struct HardwareFacts: Sendable, Hashable {
    /// The user the systemd unit runs the daemon as (`boltwork`).
    public var serviceUserName: String
    /// That user, nil when it does not exist.
    public var serviceUser: Account?
    /// The user this process runs as, when known.
    public var processUser: Account?
    /// Where the udev rule was found, nil when it was not.
    public var udevRule: String?
    /// Where it was looked for.
    public var udevRuleSearched: [String]
    /// Every `/dev/gpiochip*` and `/dev/i2c-*` node.
    public var devices: [DeviceNode]

    /// Creates the facts.
    public init(
        serviceUserName: String = "boltwork", serviceUser: Account?, processUser: Account?, udevRule: String?,
        udevRuleSearched: [String], devices: [DeviceNode]
    ) {
        self.serviceUserName = serviceUserName
        self.serviceUser = serviceUser
        self.processUser = processUser
        self.udevRule = udevRule
        self.udevRuleSearched = udevRuleSearched
        self.devices = devices
    }
}

/// The running software's version and release date.
public struct SoftwareVersion: Sendable, Hashable {
    /// `0.1.0`.
    public var version: String
    /// The day it was released.
    public var releaseDate: Date

    /// Creates a version.
    public init(version: String, releaseDate: Date) {
        self.version = version
        self.releaseDate = releaseDate
    }
}

/// Facts about the system around the lock, gathered by a ``SystemFactsSource`` (the Linux one
/// on a board, a fixed one in tests).
public struct SystemFacts: Sendable, Hashable {
    /// Whether the wall clock is synchronised.
    public var clock: ClockSynchronization
    /// The running software.
    public var software: SoftwareVersion
    /// The service user, udev rule and device nodes; nil when not checked (the simulated
    /// board has no device nodes).
    public var hardware: HardwareFacts?

    /// Creates the facts.
    public init(clock: ClockSynchronization, software: SoftwareVersion, hardware: HardwareFacts?) {
        self.clock = clock
        self.software = software
        self.hardware = hardware
    }
}

/// Gathers ``SystemFacts``.
public protocol SystemFactsSource: Sendable {
    /// The facts now; `hardware` false skips the service user, udev rule and device nodes.
    func gather(hardware: Bool) -> SystemFacts
}

/// The software's own version. Bump both constants with every release: `boltctl doctor`
/// warns when the running version is older than `doctor.software-max-age-days` (lock config
/// file, 365 days by default), since a lock is exactly the device people forget to update.
public enum BoltworkVersion {
    /// The version.
    public static let version = "0.1.0"
    /// The release date, 2026-11-21 00:00 UTC.
    public static let releaseDate = Date(timeIntervalSince1970: 1_795_219_200)

    /// Both, as ``SoftwareVersion``.
    public static var current: SoftwareVersion {
        SoftwareVersion(version: version, releaseDate: releaseDate)
    }
}
