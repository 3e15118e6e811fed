import BoltworkHAL
import Crypto
import Foundation

/// A failure of the lock's durable store.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Hashable {
        /// The database cannot be opened or read (permissions, disk).
        case unavailable
        /// The database is damaged or not a Boltwork database; nothing is recreated.
        case corrupt
        /// The change breaks a rule (a PIN another user has, an unknown user).
        case conflict
        /// A write did not commit; nothing of the change was stored.
        case writeFailed
    }

    /// The kind.
    public var kind: Kind
    /// What failed and what to do about it (names the file where there is one).
    public var detail: String

    /// Creates an error.
    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    /// The detail.
    public var description: String { detail }
}

/// One atomic change: events to append, lockout state and users to save, users to delete.
/// A store applies all of it durably or nothing, and only then returns: an event is
/// acknowledged only after it is committed.
public struct StoreChange: Sendable {
    /// Events to append to the audit log, in order.
    public var events: [AuditEvent]
    /// The new lockout state, if it changed.
    public var lockout: LockoutState?
    /// Users to insert (id ``UserID/unsaved``) or update.
    public var users: [User]
    /// Users to delete.
    public var deletedUsers: [UserID]
    /// Settings to set (key → value).
    public var settings: [String: String]

    /// Creates a change.
    public init(
        events: [AuditEvent] = [], lockout: LockoutState? = nil, users: [User] = [],
        deletedUsers: [UserID] = [],
        settings: [String: String] = [:]
    ) {
        self.events = events
        self.lockout = lockout
        self.users = users
        self.deletedUsers = deletedUsers
        self.settings = settings
    }
}

/// Which audit records to return.
public struct AuditQuery: Sendable, Hashable {
    /// Records at or after this time.
    public var since: Date?
    /// Records before this time.
    public var until: Date?
    /// Only this user's records.
    public var userID: UserID?
    /// Only these actions (empty: all).
    public var actions: Set<AuditAction>
    /// Records after this sequence number (for following the log).
    public var afterSequence: Int64?
    /// At most this many of the newest matching records (nil: all), returned oldest first.
    public var limit: Int?

    /// Creates a query; the default matches everything.
    public init(
        since: Date? = nil, until: Date? = nil, userID: UserID? = nil, actions: Set<AuditAction> = [],
        afterSequence: Int64? = nil, limit: Int? = nil
    ) {
        self.since = since
        self.until = until
        self.userID = userID
        self.actions = actions
        self.afterSequence = afterSequence
        self.limit = limit
    }

    /// Whether `record` matches (apart from `limit`).
    public func matches(_ record: AuditRecord) -> Bool {
        if let since, record.event.time < since { return false }
        if let until, record.event.time >= until { return false }
        if let userID, record.event.userID != userID { return false }
        if !actions.isEmpty, !actions.contains(record.event.action) { return false }
        if let afterSequence, record.sequence <= afterSequence { return false }
        return true
    }
}

/// The result of checking the audit hash chain.
public enum AuditVerification: Sendable, Hashable {
    /// Every record links to the one before and its hash matches its content.
    case intact(records: Int)
    /// The first record whose content, link or sequence is wrong, and why.
    case broken(atSequence: Int64, reason: String)
}

/// The lock's durable state: users with their credential hashes, the lockout state, settings,
/// the install secret and the audit log. Implementations: ``MemoryLockStore`` (tests) and the
/// SQLite store in BoltworkStore.
public protocol LockStore: AnyObject, Sendable {
    /// Every user, by id.
    func users() throws(StoreError) -> [User]
    /// The lockout state (the default state when none was saved).
    func lockout() throws(StoreError) -> LockoutState
    /// A setting.
    func setting(_ key: String) throws(StoreError) -> String?
    /// The per-install secret (32 random bytes, created with the store and never changed).
    func installSecret() throws(StoreError) -> [UInt8]
    /// Applies `change` atomically and durably; returns the stored users (with ids assigned) and
    /// the appended audit records.
    @discardableResult
    func commit(_ change: StoreChange) throws(StoreError) -> (users: [User], records: [AuditRecord])
    /// Audit records matching `query`, oldest first.
    func auditRecords(_ query: AuditQuery) throws(StoreError) -> [AuditRecord]
    /// Checks the hash chain over every record.
    func verifyAudit() throws(StoreError) -> AuditVerification
    /// Deletes records older than `date` (retention); the chain stays verifiable from the first
    /// kept record. Returns how many were deleted.
    func pruneAudit(before date: Date) throws(StoreError) -> Int
}

/// The audit hash chain: each record's hash covers its sequence number, its event and the
/// previous record's hash, so editing or deleting a record breaks every later link.
public enum AuditChain {
    /// The `previousHash` of the first record ever.
    public static let genesis = String(repeating: "0", count: 64)

    /// SHA-256 over `previousHash`, the sequence number and the event's canonical JSON.
    public static func hash(previous: String, sequence: Int64, event: AuditEvent) -> String {
        var hasher = SHA256()
        hasher.update(data: Data(previous.utf8))
        hasher.update(data: Data("|\(sequence)|".utf8))
        hasher.update(data: canonicalJSON(event))
        return hasher.finalize().map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
    }

    /// The event as JSON with sorted keys and times in whole milliseconds since 1970.
    public static func canonicalJSON(_ event: AuditEvent) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Int64((date.timeIntervalSince1970 * 1000).rounded()))
        }
        return (try? encoder.encode(event)) ?? Data()
    }

    /// Checks `records` (oldest first, possibly pruned at the front).
    public static func verify(_ records: [AuditRecord]) -> AuditVerification {
        var previous: AuditRecord?
        for record in records {
            if let previous {
                guard record.sequence == previous.sequence + 1 else {
                    return .broken(
                        atSequence: record.sequence,
                        reason: "record \(previous.sequence + 1) is missing (deleted?)")
                }
                guard record.previousHash == previous.hash else {
                    return .broken(
                        atSequence: record.sequence, reason: "does not link to record \(previous.sequence)")
                }
            } else if record.sequence == 1, record.previousHash != genesis {
                return .broken(atSequence: 1, reason: "the first record does not start the chain")
            }
            guard
                hash(previous: record.previousHash, sequence: record.sequence, event: record.event)
                    == record.hash
            else {
                return .broken(
                    atSequence: record.sequence, reason: "its content does not match its hash (edited?)")
            }
            previous = record
        }
        return .intact(records: records.count)
    }
}

/// An in-memory ``LockStore`` for tests and the simulator's throw-away mode.
public final class MemoryLockStore: LockStore, Sendable {
    private struct State {
        var users: [UserID: User] = [:]
        var nextUserID: Int64 = 1
        var lockout = LockoutState()
        var settings: [String: String] = [:]
        var records: [AuditRecord] = []
        var lastHash = AuditChain.genesis
        var lastSequence: Int64 = 0
    }

    private let state = Protected(State())
    private let secret: [UInt8]

    /// An empty store with a random install secret (or the given one).
    public init(secret: [UInt8]? = nil) {
        self.secret = secret ?? (0..<32).map { _ in UInt8.random(in: 0...255) }
    }

    /// Every user.
    public func users() throws(StoreError) -> [User] {
        state.withLock { $0.users.values.sorted { $0.id < $1.id } }
    }

    /// The lockout state.
    public func lockout() throws(StoreError) -> LockoutState { state.withLock { $0.lockout } }

    /// A setting.
    public func setting(_ key: String) throws(StoreError) -> String? { state.withLock { $0.settings[key] } }

    /// The install secret.
    public func installSecret() throws(StoreError) -> [UInt8] { secret }

    /// Applies the change (atomically: it cannot fail half way in memory).
    @discardableResult
    public func commit(_ change: StoreChange) throws(StoreError) -> (users: [User], records: [AuditRecord]) {
        let result = state.withLock { state -> Result<(users: [User], records: [AuditRecord]), StoreError> in
            for id in change.deletedUsers where state.users[id] == nil {
                return .failure(StoreError(.conflict, "no user \(id)"))
            }
            var next = state
            var stored: [User] = []
            for var user in change.users {
                if user.id == .unsaved {
                    user.id = UserID(rawValue: next.nextUserID)
                    next.nextUserID += 1
                } else if next.users[user.id] == nil {
                    return .failure(StoreError(.conflict, "no user \(user.id)"))
                }
                next.users[user.id] = user
                stored.append(user)
            }
            for id in change.deletedUsers { next.users.removeValue(forKey: id) }
            if let lockout = change.lockout { next.lockout = lockout }
            next.settings.merge(change.settings) { _, new in new }
            var appended: [AuditRecord] = []
            for event in change.events {
                let sequence = next.lastSequence + 1
                let hash = AuditChain.hash(previous: next.lastHash, sequence: sequence, event: event)
                let record = AuditRecord(
                    sequence: sequence, event: event, previousHash: next.lastHash, hash: hash)
                next.records.append(record)
                next.lastHash = hash
                next.lastSequence = sequence
                appended.append(record)
            }
            state = next
            return .success((stored, appended))
        }
        return try result.get()
    }

    /// Matching records, oldest first.
    public func auditRecords(_ query: AuditQuery) throws(StoreError) -> [AuditRecord] {
        let matching = state.withLock { $0.records.filter(query.matches) }
        guard let limit = query.limit else { return matching }
        return Array(matching.suffix(limit))
    }

    /// Checks the chain.
    public func verifyAudit() throws(StoreError) -> AuditVerification {
        AuditChain.verify(state.withLock { $0.records })
    }

    /// Drops records older than `date`.
    public func pruneAudit(before date: Date) throws(StoreError) -> Int {
        state.withLock { state in
            let before = state.records.count
            state.records.removeAll { $0.event.time < date }
            return before - state.records.count
        }
    }

    /// Replaces a stored record (for tamper-detection tests).
    public func tamper(sequence: Int64, _ edit: (inout AuditRecord) -> Void) {
        state.withLock { state in
            guard let index = state.records.firstIndex(where: { $0.sequence == sequence }) else { return }
            edit(&state.records[index])
        }
    }
}

/// Calendar time for schedules, lockout ends and the audit log.
public protocol WallClock: Sendable {
    /// The current date.
    var now: Date { get }
}

/// The system's real-time clock.
public struct SystemWallClock: WallClock {
    /// Creates the clock.
    public init() {}
    /// `Date()`.
    public var now: Date { Date() }
}

/// Wall time that follows a ``BoltClock``: `epoch` plus the clock's time since `origin`. On a
/// virtual clock, schedules and lockout ends advance with virtual time.
public struct LinkedWallClock: WallClock {
    /// The monotonic clock followed.
    public let clock: any BoltClock
    /// The wall time at `origin`.
    public let epoch: Date
    /// The monotonic instant that corresponds to `epoch`.
    public let origin: MonotonicInstant

    /// Follows `clock`, reading `epoch` now.
    public init(clock: any BoltClock, epoch: Date) {
        self.clock = clock
        self.epoch = epoch
        self.origin = clock.now
    }

    /// `epoch` plus the time elapsed on `clock`.
    public var now: Date {
        epoch.addingTimeInterval(Double((clock.now - origin).totalNanoseconds) / 1e9)
    }
}
