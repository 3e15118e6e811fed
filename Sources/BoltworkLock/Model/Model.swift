import Foundation

// The lock's data model, shared by the access logic, the bolt controller, the stores and the
// daemon. Nothing here holds or prints a PIN: credentials are stored as hashes only.

/// A user's stable identifier (the store assigns it; 0 means "not stored yet").
public struct UserID: RawRepresentable, Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    /// The number.
    public var rawValue: Int64
    /// Wraps a number.
    public init(rawValue: Int64) { self.rawValue = rawValue }
    /// Not stored yet.
    public static let unsaved = UserID(rawValue: 0)
    /// Orders by number.
    public static func < (lhs: UserID, rhs: UserID) -> Bool { lhs.rawValue < rhs.rawValue }
    /// `#12`.
    public var description: String { "#\(rawValue)" }
}

/// What a user may administer.
public enum UserRole: String, Codable, Sendable, CaseIterable {
    /// Manages users, codes, modes and lockout.
    case admin
    /// Lives there.
    case resident
    /// Visits; usually restricted in time.
    case guest
    /// Cleaners, trades; usually restricted in time.
    case service
}

/// How a user's code behaves (Matter user types).
public enum UserKind: Codable, Sendable, Hashable {
    /// Valid until disabled or removed.
    case permanent
    /// Valid for one successful use, then revoked.
    case disposable
    /// Valid for `minutes` after its first use.
    case expiring(minutes: Int)
    /// Opens like a normal code and raises a silent duress alarm.
    case duress
    /// The emergency or backup code: valid in every mode but privacy, tested now and then.
    case emergency
}

/// A day of the week, ISO numbering (Monday = 1).
public enum Weekday: Int, Codable, Sendable, CaseIterable, Comparable {
    /// Monday.
    case monday = 1
    /// Tuesday.
    case tuesday
    /// Wednesday.
    case wednesday
    /// Thursday.
    case thursday
    /// Friday.
    case friday
    /// Saturday.
    case saturday
    /// Sunday.
    case sunday

    /// Orders Monday first.
    public static func < (lhs: Weekday, rhs: Weekday) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// When a user's code works. A user with no schedules is unrestricted; with weekly windows the
/// time must fall in one of them; with date ranges it must fall in one of them; with both, in
/// one of each.
public enum AccessSchedule: Codable, Sendable, Hashable {
    /// Days of the week, from `startMinute` to `endMinute` (minutes after local midnight,
    /// end exclusive; an end before the start crosses midnight).
    case weekly(days: Set<Weekday>, startMinute: Int, endMinute: Int)
    /// From `start` (inclusive) until `end` (exclusive).
    case dateRange(start: Date, end: Date)
}

/// A stored PIN: a slow hash, never the digits.
public struct PINCredential: Codable, Sendable, Hashable {
    /// The hash (see the access module for its construction).
    public var hash: [UInt8]
    /// How many digits the code has (so `doctor` can flag short codes without knowing them).
    public var length: Int

    /// Wraps a hash.
    public init(hash: [UInt8], length: Int) {
        self.hash = hash
        self.length = length
    }
}

/// A person (or a service) who may open the lock.
public struct User: Codable, Sendable, Hashable, Identifiable {
    /// Identifier; ``UserID/unsaved`` until stored.
    public var id: UserID
    /// Name shown in the log (one person per user: shared users cannot be revoked cleanly).
    public var name: String
    /// Role.
    public var role: UserRole
    /// Disabled users are refused at once.
    public var isEnabled: Bool
    /// How the code behaves.
    public var kind: UserKind
    /// When the code works (empty: always).
    public var schedules: [AccessSchedule]
    /// The code's hash, nil until a code is set.
    public var credential: PINCredential?
    /// When the user was created.
    public var createdAt: Date
    /// First successful use (starts an expiring code's validity).
    public var firstUsedAt: Date?
    /// Latest successful use.
    public var lastUsedAt: Date?
    /// Successful uses.
    public var useCount: Int
    /// Latest successful use of an emergency code ("last tested").
    public var lastTestedAt: Date?

    /// Creates a user with no code.
    public init(
        id: UserID = .unsaved, name: String, role: UserRole, isEnabled: Bool = true,
        kind: UserKind = .permanent,
        schedules: [AccessSchedule] = [], credential: PINCredential? = nil, createdAt: Date,
        firstUsedAt: Date? = nil, lastUsedAt: Date? = nil, useCount: Int = 0, lastTestedAt: Date? = nil
    ) {
        self.id = id
        self.name = name
        self.role = role
        self.isEnabled = isEnabled
        self.kind = kind
        self.schedules = schedules
        self.credential = credential
        self.createdAt = createdAt
        self.firstUsedAt = firstUsedAt
        self.lastUsedAt = lastUsedAt
        self.useCount = useCount
        self.lastTestedAt = lastTestedAt
    }
}

/// Wrong-code lockout state; it must survive restarts and power loss.
public struct LockoutState: Codable, Sendable, Hashable {
    /// Wrong codes in a row (through any channel) since the last success or reset.
    public var consecutiveFailures: Int
    /// How many timed lockouts have happened in this run of failures (the doubling exponent).
    public var lockoutCount: Int
    /// End of the current timed lockout (wall time), if any.
    public var lockedUntil: Date?
    /// The keypad refuses every code until an admin resets it.
    public var keypadDisabled: Bool

    /// Creates a state; the default is "no failures".
    public init(
        consecutiveFailures: Int = 0, lockoutCount: Int = 0, lockedUntil: Date? = nil,
        keypadDisabled: Bool = false
    ) {
        self.consecutiveFailures = consecutiveFailures
        self.lockoutCount = lockoutCount
        self.lockedUntil = lockedUntil
        self.keypadDisabled = keypadDisabled
    }
}

/// The lock's operating mode.
public enum OperatingMode: String, Codable, Sendable, CaseIterable {
    /// Every valid code works.
    case normal
    /// Regular users' codes are refused (admins and emergency codes still work).
    case vacation
    /// All entry from outside is refused (set from inside).
    case privacy
    /// The lock stays unlocked; auto-relock is off.
    case passage
}

/// Where an operation came from (Matter OperationSource).
public enum OperationSource: String, Codable, Sendable, CaseIterable {
    /// A code on the keypad.
    case keypad
    /// The control socket (boltctl, an integration).
    case remote
    /// A key or thumb-turn, seen by the bolt sensor with no command in progress.
    case manual
    /// Auto-relock or lock-on-door-close.
    case auto
    /// A schedule.
    case schedule
    /// A button on the inside.
    case button
}

/// What an audit entry records.
public enum AuditAction: String, Codable, Sendable, CaseIterable {
    // Operations.
    /// The bolt reached full extension.
    case locked
    /// The bolt reached full retraction.
    case unlocked
    // Refusals (with the reason).
    /// No user has this code.
    case invalidCode = "invalid-code"
    /// The user is disabled.
    case userDisabled = "user-disabled"
    /// Outside the user's schedule or validity.
    case outsideSchedule = "outside-schedule"
    /// The operating mode refuses it.
    case refusedByMode = "refused-by-mode"
    /// Wrong-code lockout in force.
    case lockedOut = "locked-out"
    /// The battery cannot finish the move.
    case insufficientBattery = "insufficient-battery"
    /// The door is open; the bolt is not thrown into an open frame.
    case doorOpen = "door-open"
    /// Keypad entry is disabled because no admin code is set.
    case noAdminCode = "no-admin-code"
    // Alarms.
    /// The bolt did not reach its end in time.
    case jammed
    /// The bolt stopped part way out.
    case notFullyLocked = "not-fully-locked"
    /// A timed lockout started.
    case lockoutStarted = "lockout-started"
    /// The keypad was disabled after too many wrong codes.
    case keypadDisabled = "keypad-disabled"
    /// A duress code was used (silent alarm).
    case duress
    /// The door has been open too long.
    case doorAjar = "door-ajar"
    /// Battery below the low threshold.
    case batteryLow = "battery-low"
    /// Battery below the critical threshold.
    case batteryCritical = "battery-critical"
    /// The fuel gauge failed or read implausibly.
    case gaugeFault = "gauge-fault"
    /// A bolt or door sensor contradicts itself.
    case sensorFault = "sensor-fault"
    // Administration.
    /// A user was added.
    case userAdded = "user-added"
    /// A user was changed (name, role, kind, schedule, enabled).
    case userChanged = "user-changed"
    /// A user was removed.
    case userRemoved = "user-removed"
    /// A user's code was set or changed.
    case codeSet = "code-set"
    /// An admin reset the wrong-code lockout.
    case lockoutReset = "lockout-reset"
    /// The operating mode changed.
    case modeChanged = "mode-changed"
    /// A setting changed.
    case settingsChanged = "settings-changed"
    // System.
    /// The daemon started (with the state found).
    case started
    /// The daemon stopped.
    case stopped

    /// The category the action belongs to.
    public var category: AuditCategory {
        switch self {
        case .locked, .unlocked: .operation
        case .invalidCode, .userDisabled, .outsideSchedule, .refusedByMode, .lockedOut, .insufficientBattery,
            .doorOpen,
            .noAdminCode:
            .refusal
        case .jammed, .notFullyLocked, .lockoutStarted, .keypadDisabled, .duress, .doorAjar, .batteryLow,
            .batteryCritical, .gaugeFault, .sensorFault:
            .alarm
        case .userAdded, .userChanged, .userRemoved, .codeSet, .lockoutReset, .modeChanged, .settingsChanged:
            .admin
        case .started, .stopped: .system
        }
    }
}

/// Groups of audit actions, for filtering.
public enum AuditCategory: String, Codable, Sendable, CaseIterable {
    /// Lock and unlock.
    case operation
    /// Refused requests.
    case refusal
    /// Alarms.
    case alarm
    /// Administrative changes.
    case admin
    /// Daemon start and stop.
    case system
}

/// One thing worth recording: what, when, through which channel, by whom. Never a code.
public struct AuditEvent: Codable, Sendable, Hashable {
    /// Wall time.
    public var time: Date
    /// What happened.
    public var action: AuditAction
    /// Through which channel, when it applies.
    public var source: OperationSource?
    /// The user, when known.
    public var userID: UserID?
    /// The user's name at the time, when known.
    public var userName: String?
    /// Free text for people (where the bolt stopped, the new mode). Never a code.
    public var detail: String

    /// Creates an event.
    public init(
        time: Date, action: AuditAction, source: OperationSource? = nil, userID: UserID? = nil,
        userName: String? = nil,
        detail: String = ""
    ) {
        self.time = time
        self.action = action
        self.source = source
        self.userID = userID
        self.userName = userName
        self.detail = detail
    }
}

/// A stored audit entry: its sequence number and its link in the hash chain.
public struct AuditRecord: Codable, Sendable, Hashable {
    /// 1, 2, 3... in append order.
    public var sequence: Int64
    /// The event.
    public var event: AuditEvent
    /// The previous record's hash (hex; 64 zeros for the first record).
    public var previousHash: String
    /// This record's hash (hex): see ``AuditChain``.
    public var hash: String

    /// Creates a record.
    public init(sequence: Int64, event: AuditEvent, previousHash: String, hash: String) {
        self.sequence = sequence
        self.event = event
        self.previousHash = previousHash
        self.hash = hash
    }
}
