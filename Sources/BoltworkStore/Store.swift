import BoltworkLock
import Foundation
import GRDB

#if canImport(Glibc)
    import Glibc

    private let closeDescriptor = Glibc.close
#elseif canImport(Darwin)
    import Darwin

    private let closeDescriptor = Darwin.close
#endif

/// The lock's durable ``LockStore``: one SQLite file, in WAL mode with `synchronous=FULL`, so a
/// change is on disk when ``commit(_:)`` returns and a crash or power cut loses nothing that was
/// acknowledged.
///
/// The file holds the users, the lockout state, the settings, the install secret and the audit
/// log with its hash chain. Opening checks that the file is a Boltwork database of a schema
/// version this build knows and runs `PRAGMA quick_check`; a damaged, foreign or newer database
/// is refused with a ``StoreError`` that names the file and says what to do. Nothing is ever
/// recreated or overwritten: only a missing or empty file is initialised.
public final class SQLiteLockStore: LockStore, Sendable {
    /// The SQLite `application_id` that marks a Boltwork database ("Bolt").
    public static let applicationID: Int32 = 0x426F_6C74
    /// The schema version this build writes and the newest it can open.
    public static let schemaVersion = 1

    /// A step of ``commit(_:)``, reported to the commit hook (crash-safety tests).
    package enum CommitStep: Sendable, Hashable {
        /// A user was inserted, updated or deleted.
        case user
        /// The lockout state was written.
        case lockout
        /// A setting was written.
        case setting
        /// An audit record was appended.
        case audit
        /// The chain head was updated; the transaction is about to commit.
        case chainHead
    }

    /// The database file.
    public let path: String
    private let database: Connection
    private let commitHook: (@Sendable (CommitStep) throws -> Void)?

    /// Opens the database at `path`, creating it (mode 0600, and its directory, mode 0700) when
    /// it does not exist.
    ///
    /// - Throws: ``StoreError/Kind/corrupt`` when the file is damaged or not a Boltwork
    ///   database, ``StoreError/Kind/unavailable`` when it cannot be read or written or was
    ///   written by a newer Boltwork. The file is left untouched in both cases.
    public convenience init(path: String) throws(StoreError) {
        try self.init(path: path, commitHook: nil)
    }

    /// Opens the database, calling `commitHook` after each step inside a commit's transaction;
    /// a hook that throws makes the commit fail and roll back.
    package init(path: String, commitHook: (@Sendable (CommitStep) throws -> Void)?) throws(StoreError) {
        self.path = path
        self.commitHook = commitHook
        try Self.prepareFile(at: path)
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.label = "boltwork-store"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            database = Connection(try DatabaseQueue(path: path, configuration: configuration))
        } catch {
            throw Self.openError(error, path: path)
        }
        try validateAndMigrate()
    }

    // MARK: Opening

    /// Creates the directory and an empty file with mode 0600 when there is no file; refuses a
    /// path that is not a regular file. Never writes to an existing file.
    private static func prepareFile(at path: String) throws(StoreError) {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700])
            } catch {
                throw StoreError(
                    .unavailable,
                    "cannot create the state directory \(directory): \(error.localizedDescription); "
                        + "create it (owned by the daemon's user, mode 0700) or choose another path")
            }
        }
        var info = stat()
        if stat(path, &info) == 0 {
            guard (info.st_mode & 0o170000) == 0o100000 else {
                throw StoreError(
                    .unavailable, "\(path) is not a regular file; move it aside or choose another path")
            }
            guard access(path, R_OK | W_OK) == 0 else {
                throw StoreError(
                    .unavailable,
                    "\(path) cannot be read and written by this user; give the daemon's user the file "
                        + "(chown) and mode 0600")
            }
            let directoryPath = directory.isEmpty ? "." : directory
            guard access(directoryPath, W_OK | X_OK) == 0 else {
                throw StoreError(
                    .unavailable,
                    "the state directory \(directoryPath) is not writable by this user (SQLite keeps its "
                        + "write-ahead log beside the database); give the daemon's user the directory")
            }
            return
        }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            throw StoreError(
                .unavailable,
                "cannot create the database \(path): \(reason); check the state directory's owner and permissions"
            )
        }
        fchmod(descriptor, 0o600)
        _ = closeDescriptor(descriptor)
    }

    /// Checks the file before anything is written to it, then switches to WAL and migrates.
    private func validateAndMigrate() throws(StoreError) {
        let path = path
        let migrator = Self.migrator
        let outcome: Result<Void, StoreError>
        do {
            outcome = try database.writeWithoutTransaction { db -> Result<Void, StoreError> in
                let check = try String.fetchAll(db, sql: "PRAGMA quick_check")
                guard check == ["ok"] else {
                    return .failure(
                        StoreError(
                            .corrupt,
                            "\(path) is damaged (quick_check: \(check.prefix(3).joined(separator: "; "))); "
                                + "stop the daemon, move the file aside and restore it from a backup"))
                }
                let applicationID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
                let objectCount =
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") ?? 0
                if applicationID != Self.applicationID {
                    guard applicationID == 0, objectCount == 0 else {
                        return .failure(
                            StoreError(
                                .corrupt,
                                "\(path) is not a Boltwork database (application_id \(applicationID), "
                                    + "\(objectCount) schema objects); it was left untouched: "
                                    + "move it aside or choose another path"))
                    }
                }
                let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                if applicationID == Self.applicationID {
                    let superseded = try migrator.hasBeenSuperseded(db)
                    if version > Self.schemaVersion || superseded {
                        return .failure(
                            StoreError(
                                .unavailable,
                                "\(path) was written by a newer Boltwork (schema version \(version); "
                                    + "this build knows up to \(Self.schemaVersion)); upgrade Boltwork or "
                                    + "restore a backup made by this version"))
                    }
                }
                let mode = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
                guard mode?.lowercased() == "wal" else {
                    return .failure(
                        StoreError(
                            .unavailable,
                            "\(path) cannot use write-ahead logging (journal mode \(mode ?? "unknown")); "
                                + "put the state directory on a local file system"))
                }
                return .success(())
            }
        } catch {
            throw Self.openError(error, path: path)
        }
        try outcome.get()
        let secretSize: Int?
        do {
            try database.migrate(with: migrator)
            secretSize = try database.read { db in
                try Data.fetchOne(db, sql: "SELECT secret FROM install_secret WHERE id = 1")?.count
            }
        } catch {
            throw Self.openError(error, path: path)
        }
        guard secretSize == 32 else {
            throw StoreError(
                .corrupt, "\(path) has no install secret; move it aside and restore it from a backup")
        }
    }

    /// Maps an error met while opening to a message a maker can act on.
    private static func openError(_ error: any Error, path: String) -> StoreError {
        if let error = error as? DatabaseError {
            switch error.resultCode {
            case .SQLITE_NOTADB, .SQLITE_CORRUPT:
                return StoreError(
                    .corrupt,
                    "\(path) is not a readable SQLite database (\(error.message ?? "\(error.resultCode)")); "
                        + "it was left untouched: move it aside and restore it from a backup")
            case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_READONLY, .SQLITE_AUTH:
                return StoreError(
                    .unavailable,
                    "cannot open \(path) for reading and writing (\(error.message ?? "\(error.resultCode)")); "
                        + "check that the daemon's user owns the file and its directory")
            default:
                return StoreError(
                    .unavailable,
                    "cannot open \(path): \(error.message ?? "\(error.resultCode)"); "
                        + "check the disk and the file's permissions")
            }
        }
        return StoreError(.unavailable, "cannot open \(path): \(error)")
    }

    /// The schema's migrations. Each sets `user_version` to its schema version.
    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: "PRAGMA application_id = \(applicationID)")
            try db.execute(
                sql: """
                    CREATE TABLE user (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        name TEXT NOT NULL,
                        role TEXT NOT NULL,
                        is_enabled INTEGER NOT NULL,
                        kind TEXT NOT NULL,
                        schedules TEXT NOT NULL,
                        credential_hash BLOB,
                        credential_length INTEGER,
                        created_at REAL NOT NULL,
                        first_used_at REAL,
                        last_used_at REAL,
                        use_count INTEGER NOT NULL,
                        last_tested_at REAL
                    );
                    CREATE UNIQUE INDEX user_credential ON user(credential_hash)
                        WHERE credential_hash IS NOT NULL;
                    CREATE TABLE lockout (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        consecutive_failures INTEGER NOT NULL,
                        lockout_count INTEGER NOT NULL,
                        locked_until REAL,
                        keypad_disabled INTEGER NOT NULL
                    );
                    CREATE TABLE setting (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                    CREATE TABLE install_secret (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        secret BLOB NOT NULL CHECK (length(secret) = 32)
                    );
                    CREATE TRIGGER install_secret_fixed BEFORE UPDATE ON install_secret
                        BEGIN SELECT RAISE(ABORT, 'the install secret never changes'); END;
                    CREATE TRIGGER install_secret_kept BEFORE DELETE ON install_secret
                        BEGIN SELECT RAISE(ABORT, 'the install secret never changes'); END;
                    CREATE TABLE audit (
                        sequence INTEGER PRIMARY KEY NOT NULL,
                        time REAL NOT NULL,
                        action TEXT NOT NULL,
                        source TEXT,
                        user_id INTEGER,
                        user_name TEXT,
                        detail TEXT NOT NULL,
                        previous_hash TEXT NOT NULL,
                        hash TEXT NOT NULL
                    );
                    CREATE INDEX audit_time ON audit(time);
                    CREATE INDEX audit_user ON audit(user_id, sequence);
                    CREATE TABLE audit_head (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        last_sequence INTEGER NOT NULL,
                        last_hash TEXT NOT NULL,
                        first_sequence INTEGER NOT NULL
                    );
                    """)
            var generator = SystemRandomNumberGenerator()
            let secret = Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
            try db.execute(sql: "INSERT INTO install_secret (id, secret) VALUES (1, ?)", arguments: [secret])
            try db.execute(
                sql:
                    "INSERT INTO audit_head (id, last_sequence, last_hash, first_sequence) VALUES (1, 0, ?, 1)",
                arguments: [AuditChain.genesis])
            try db.execute(sql: "PRAGMA user_version = 1")
        }
        return migrator
    }

    /// Closes the database (checkpointing the write-ahead log into the file). Later calls on
    /// the store fail with ``StoreError/Kind/unavailable``.
    public func close() throws(StoreError) {
        do {
            try database.close()
        } catch {
            throw StoreError(.unavailable, "cannot close \(path): \(error)")
        }
    }

    // MARK: Reading

    /// Runs a read, mapping failures to ``StoreError``.
    private func read<T>(_ what: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try database.read(body)
        } catch {
            throw Self.readError(error, what: what, path: path)
        }
    }

    private static func readError(_ error: any Error, what: String, path: String) -> StoreError {
        if let error = error as? StoreError {
            let advice = error.kind == .corrupt ? "; restore the file from a backup" : ""
            return StoreError(error.kind, "\(path): \(error.detail) (\(what))" + advice)
        }
        if let error = error as? DatabaseError,
            error.resultCode == .SQLITE_CORRUPT || error.resultCode == .SQLITE_NOTADB
        {
            return StoreError(
                .corrupt,
                "\(path) is damaged (\(what): \(error.message ?? "\(error.resultCode)")); "
                    + "stop the daemon, move the file aside and restore it from a backup")
        }
        if error is RowDecodingError || error is DecodingError {
            return StoreError(
                .corrupt,
                "\(path) holds a row that cannot be read (\(what)): \(error); "
                    + "restore the file from a backup")
        }
        return StoreError(.unavailable, "cannot read \(what) from \(path): \(error)")
    }

    /// Every user, by id.
    public func users() throws(StoreError) -> [User] {
        try read("the users") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM user ORDER BY id").map(Self.user(from:))
        }
    }

    /// The lockout state (the default state when none was saved).
    public func lockout() throws(StoreError) -> LockoutState {
        try read("the lockout state") { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM lockout WHERE id = 1") else {
                return LockoutState()
            }
            return LockoutState(
                consecutiveFailures: try row.decode(forColumn: "consecutive_failures"),
                lockoutCount: try row.decode(forColumn: "lockout_count"),
                lockedUntil: try (row.decode(Double?.self, forColumn: "locked_until")).map(Self.date),
                keypadDisabled: try row.decode(forColumn: "keypad_disabled"))
        }
    }

    /// A setting.
    public func setting(_ key: String) throws(StoreError) -> String? {
        try read("setting \(key)") { db in
            try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = ?", arguments: [key])
        }
    }

    /// The install secret: 32 bytes from the system's random generator, created with the
    /// database and never changed (triggers refuse updates and deletes).
    public func installSecret() throws(StoreError) -> [UInt8] {
        let path = path
        let secret = try read("the install secret") { db in
            try Data.fetchOne(db, sql: "SELECT secret FROM install_secret WHERE id = 1")
        }
        guard let secret, secret.count == 32 else {
            throw StoreError(.corrupt, "\(path) has lost its install secret; restore it from a backup")
        }
        return [UInt8](secret)
    }

    /// The connection's journal mode, `synchronous` level (2 = FULL) and whether foreign keys are
    /// enforced, for diagnostics.
    public func durabilitySettings() throws(StoreError) -> (
        journalMode: String, synchronous: Int, foreignKeys: Bool
    ) {
        try read("the connection settings") { db in
            (
                try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "",
                try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1,
                try Bool.fetchOne(db, sql: "PRAGMA foreign_keys") ?? false
            )
        }
    }

    // MARK: Writing

    /// Applies `change` in one write transaction and returns after it committed (and, with
    /// `synchronous=FULL`, reached the disk). New users get ids; events are appended to the
    /// hash chain.
    ///
    /// - Throws: ``StoreError/Kind/conflict`` for an unknown user or a code another user has,
    ///   ``StoreError/Kind/writeFailed`` for any other failure. Either way nothing was stored.
    @discardableResult
    public func commit(_ change: StoreChange) throws(StoreError) -> (users: [User], records: [AuditRecord]) {
        let hook = commitHook
        do {
            return try database.write { db -> (users: [User], records: [AuditRecord]) in
                var stored: [User] = []
                for user in change.users {
                    stored.append(try Self.save(user, in: db))
                    try hook?(.user)
                }
                for id in change.deletedUsers {
                    try db.execute(sql: "DELETE FROM user WHERE id = ?", arguments: [id.rawValue])
                    guard db.changesCount == 1 else { throw StoreError(.conflict, "no user \(id)") }
                    try hook?(.user)
                }
                if let lockout = change.lockout {
                    try db.execute(
                        sql: """
                            INSERT OR REPLACE INTO lockout
                                (id, consecutive_failures, lockout_count, locked_until, keypad_disabled)
                            VALUES (1, ?, ?, ?, ?)
                            """,
                        arguments: [
                            lockout.consecutiveFailures, lockout.lockoutCount,
                            lockout.lockedUntil?.timeIntervalSince1970, lockout.keypadDisabled,
                        ])
                    try hook?(.lockout)
                }
                for (key, value) in change.settings.sorted(by: { $0.key < $1.key }) {
                    try db.execute(
                        sql: "INSERT OR REPLACE INTO setting (key, value) VALUES (?, ?)",
                        arguments: [key, value])
                    try hook?(.setting)
                }
                var records: [AuditRecord] = []
                if !change.events.isEmpty {
                    guard
                        let head = try Row.fetchOne(
                            db, sql: "SELECT last_sequence, last_hash FROM audit_head WHERE id = 1")
                    else { throw StoreError(.corrupt, "the audit chain's head is missing") }
                    var sequence: Int64 = try head.decode(forColumn: "last_sequence")
                    var previous: String = try head.decode(forColumn: "last_hash")
                    for event in change.events {
                        sequence += 1
                        let hash = AuditChain.hash(previous: previous, sequence: sequence, event: event)
                        try db.execute(
                            sql: """
                                INSERT INTO audit
                                    (sequence, time, action, source, user_id, user_name, detail, previous_hash, hash)
                                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                                """,
                            arguments: [
                                sequence, event.time.timeIntervalSince1970, event.action.rawValue,
                                event.source?.rawValue, event.userID?.rawValue, event.userName, event.detail,
                                previous, hash,
                            ])
                        records.append(
                            AuditRecord(sequence: sequence, event: event, previousHash: previous, hash: hash))
                        previous = hash
                        try hook?(.audit)
                    }
                    try db.execute(
                        sql: "UPDATE audit_head SET last_sequence = ?, last_hash = ? WHERE id = 1",
                        arguments: [sequence, previous])
                    try hook?(.chainHead)
                }
                return (stored, records)
            }
        } catch {
            throw commitError(error)
        }
    }

    /// Maps a failed commit to ``StoreError/Kind/conflict`` (a broken rule) or
    /// ``StoreError/Kind/writeFailed``.
    private func commitError(_ error: any Error) -> StoreError {
        if let error = error as? StoreError, error.kind == .conflict { return error }
        if let error = error as? DatabaseError, error.resultCode == .SQLITE_CONSTRAINT {
            return StoreError(
                .conflict,
                "the change breaks a rule of \(path) (\(error.message ?? "constraint")); "
                    + "another user may already have this code")
        }
        let reason = (error as? StoreError)?.detail ?? "\(error)"
        return StoreError(
            .writeFailed,
            "the change was not stored in \(path) (\(reason)); nothing of it was kept: "
                + "check the disk (space, errors) and the file's permissions")
    }

    /// Inserts or updates one user.
    private static func save(_ user: User, in db: Database) throws -> User {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let kind = String(decoding: try encoder.encode(user.kind), as: UTF8.self)
        let schedules = String(decoding: try encoder.encode(user.schedules), as: UTF8.self)
        let values: [(any DatabaseValueConvertible)?] = [
            user.name, user.role.rawValue, user.isEnabled, kind, schedules,
            user.credential.map { Data($0.hash) }, user.credential?.length,
            user.createdAt.timeIntervalSince1970, user.firstUsedAt?.timeIntervalSince1970,
            user.lastUsedAt?.timeIntervalSince1970, user.useCount, user.lastTestedAt?.timeIntervalSince1970,
        ]
        var stored = user
        if user.id == .unsaved {
            try db.execute(
                sql: """
                    INSERT INTO user (name, role, is_enabled, kind, schedules, credential_hash,
                        credential_length, created_at, first_used_at, last_used_at, use_count, last_tested_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: StatementArguments(values))
            stored.id = UserID(rawValue: db.lastInsertedRowID)
        } else {
            try db.execute(
                sql: """
                    UPDATE user SET name = ?, role = ?, is_enabled = ?, kind = ?, schedules = ?,
                        credential_hash = ?, credential_length = ?, created_at = ?, first_used_at = ?,
                        last_used_at = ?, use_count = ?, last_tested_at = ?
                    WHERE id = ?
                    """,
                arguments: StatementArguments(values + [user.id.rawValue]))
            guard db.changesCount == 1 else { throw StoreError(.conflict, "no user \(user.id)") }
        }
        return stored
    }

    private static func user(from row: Row) throws -> User {
        let decoder = JSONDecoder()
        let roleName: String = try row.decode(forColumn: "role")
        guard let role = UserRole(rawValue: roleName) else {
            throw StoreError(.corrupt, "unknown role \(roleName)")
        }
        let kind = try decoder.decode(
            UserKind.self, from: Data((try row.decode(String.self, forColumn: "kind")).utf8))
        let schedules = try decoder.decode(
            [AccessSchedule].self, from: Data((try row.decode(String.self, forColumn: "schedules")).utf8))
        var credential: PINCredential?
        if let hash = try row.decode(Data?.self, forColumn: "credential_hash") {
            credential = PINCredential(
                hash: [UInt8](hash), length: try row.decode(forColumn: "credential_length"))
        }
        return User(
            id: UserID(rawValue: try row.decode(forColumn: "id")), name: try row.decode(forColumn: "name"),
            role: role, isEnabled: try row.decode(forColumn: "is_enabled"), kind: kind, schedules: schedules,
            credential: credential, createdAt: date(try row.decode(forColumn: "created_at")),
            firstUsedAt: try row.decode(Double?.self, forColumn: "first_used_at").map(date),
            lastUsedAt: try row.decode(Double?.self, forColumn: "last_used_at").map(date),
            useCount: try row.decode(forColumn: "use_count"),
            lastTestedAt: try row.decode(Double?.self, forColumn: "last_tested_at").map(date))
    }

    private static func date(_ seconds: Double) -> Date { Date(timeIntervalSince1970: seconds) }

    // MARK: Audit

    /// Decodes an audit row; a value no build knows (an edited action) is a ``StoreError``.
    private static func record(from row: Row) throws -> AuditRecord {
        let sequence: Int64 = try row.decode(forColumn: "sequence")
        let actionName: String = try row.decode(forColumn: "action")
        guard let action = AuditAction(rawValue: actionName) else {
            throw StoreError(.corrupt, "audit record \(sequence) has an unknown action \(actionName)")
        }
        var source: OperationSource?
        if let sourceName = try row.decode(String?.self, forColumn: "source") {
            guard let known = OperationSource(rawValue: sourceName) else {
                throw StoreError(.corrupt, "audit record \(sequence) has an unknown source \(sourceName)")
            }
            source = known
        }
        let event = AuditEvent(
            time: date(try row.decode(forColumn: "time")), action: action, source: source,
            userID: try row.decode(Int64?.self, forColumn: "user_id").map(UserID.init(rawValue:)),
            userName: try row.decode(forColumn: "user_name"), detail: try row.decode(forColumn: "detail"))
        return AuditRecord(
            sequence: sequence, event: event, previousHash: try row.decode(forColumn: "previous_hash"),
            hash: try row.decode(forColumn: "hash"))
    }

    /// Audit records matching `query`, oldest first; the filters and the limit run in SQL.
    public func auditRecords(_ query: AuditQuery) throws(StoreError) -> [AuditRecord] {
        var conditions: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        if let since = query.since {
            conditions.append("time >= ?")
            arguments.append(since.timeIntervalSince1970)
        }
        if let until = query.until {
            conditions.append("time < ?")
            arguments.append(until.timeIntervalSince1970)
        }
        if let userID = query.userID {
            conditions.append("user_id = ?")
            arguments.append(userID.rawValue)
        }
        if !query.actions.isEmpty {
            let actions = query.actions.map(\.rawValue).sorted()
            conditions.append("action IN (\(actions.map { _ in "?" }.joined(separator: ", ")))")
            for action in actions { arguments.append(action) }
        }
        if let after = query.afterSequence {
            conditions.append("sequence > ?")
            arguments.append(after)
        }
        var sql = "SELECT * FROM audit"
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        if let limit = query.limit {
            sql = "SELECT * FROM (\(sql) ORDER BY sequence DESC LIMIT ?) ORDER BY sequence"
            arguments.append(max(0, limit))
        } else {
            sql += " ORDER BY sequence"
        }
        return try read("the audit log") { db in
            try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map(Self.record(from:))
        }
    }

    /// Checks the hash chain over every record, a page at a time: an edited, deleted or
    /// reordered record, records missing at the start (beyond what pruning removed) or at the
    /// end (after the chain's recorded head) are reported at the first wrong sequence number.
    public func verifyAudit() throws(StoreError) -> AuditVerification {
        let pageSize = 512
        return try read("the audit log") { db -> AuditVerification in
            guard let head = try Row.fetchOne(db, sql: "SELECT * FROM audit_head WHERE id = 1") else {
                return .broken(atSequence: 0, reason: "the chain's head record is missing")
            }
            let lastSequence: Int64 = try head.decode(forColumn: "last_sequence")
            let lastHash: String = try head.decode(forColumn: "last_hash")
            let firstSequence: Int64 = try head.decode(forColumn: "first_sequence")
            var previous: AuditRecord?
            var count = 0
            while true {
                let rows = try Row.fetchAll(
                    db, sql: "SELECT * FROM audit WHERE sequence > ? ORDER BY sequence LIMIT ?",
                    arguments: [previous?.sequence ?? Int64.min, pageSize])
                if rows.isEmpty { break }
                var page: [AuditRecord] = previous.map { [$0] } ?? []
                for row in rows {
                    let sequence: Int64 = try row.decode(forColumn: "sequence")
                    do {
                        page.append(try Self.record(from: row))
                    } catch {
                        return .broken(atSequence: sequence, reason: "it cannot be read (\(error))")
                    }
                }
                if previous == nil, let first = page.first, first.sequence != firstSequence {
                    return .broken(
                        atSequence: first.sequence,
                        reason: first.sequence < firstSequence
                            ? "record \(first.sequence) should have been pruned"
                            : first.sequence - 1 == firstSequence
                                ? "record \(firstSequence) is missing (deleted?)"
                                : "records \(firstSequence) to \(first.sequence - 1) are missing (deleted?)")
                }
                if case .broken(let sequence, let reason) = AuditChain.verify(page) {
                    return .broken(atSequence: sequence, reason: reason)
                }
                count += rows.count
                previous = page.last
            }
            if let previous {
                guard previous.sequence == lastSequence, previous.hash == lastHash else {
                    return .broken(
                        atSequence: previous.sequence,
                        reason: "the chain ends here but its head is record \(lastSequence) "
                            + "(newer records deleted?)")
                }
            } else if lastSequence >= firstSequence {
                return .broken(
                    atSequence: firstSequence,
                    reason: "records \(firstSequence) to \(lastSequence) are missing (deleted?)")
            }
            return .intact(records: count)
        }
    }

    /// Deletes the records older than `date` in one transaction. Only the oldest run of records
    /// is deleted: the first record at or after `date` and everything after it are kept (even
    /// an older-dated one written after a clock step back), so the chain stays verifiable from
    /// the first kept record. Returns how many were deleted.
    public func pruneAudit(before date: Date) throws(StoreError) -> Int {
        do {
            return try database.write { db -> Int in
                let cutoff = date.timeIntervalSince1970
                let firstKept = try Int64.fetchOne(
                    db, sql: "SELECT min(sequence) FROM audit WHERE time >= ?", arguments: [cutoff])
                let end: Int64
                if let firstKept {
                    end = firstKept
                } else {
                    end = (try Int64.fetchOne(db, sql: "SELECT last_sequence FROM audit_head") ?? 0) + 1
                }
                try db.execute(sql: "DELETE FROM audit WHERE sequence < ?", arguments: [end])
                let deleted = db.changesCount
                try db.execute(
                    sql: "UPDATE audit_head SET first_sequence = max(first_sequence, ?) WHERE id = 1",
                    arguments: [end])
                return deleted
            }
        } catch {
            throw StoreError(
                .writeFailed, "pruning the audit log in \(path) failed (\(error)); nothing was deleted")
        }
    }
}

/// The open database, or nothing once closed: GRDB must not be used after `close()`, so every
/// use goes through this lock and a closed store throws instead.
private final class Connection: @unchecked Sendable {
    private let lock = NSLock()
    private var queue: DatabaseQueue?

    init(_ queue: DatabaseQueue) { self.queue = queue }

    private func withQueue<T>(_ body: (DatabaseQueue) throws -> T) throws -> T {
        try lock.withLock {
            guard let queue else { throw StoreError(.unavailable, "the store was closed") }
            return try body(queue)
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T { try withQueue { try $0.read(body) } }

    func write<T>(_ body: (Database) throws -> T) throws -> T { try withQueue { try $0.write(body) } }

    func writeWithoutTransaction<T>(_ body: (Database) throws -> T) throws -> T {
        try withQueue { try $0.writeWithoutTransaction(body) }
    }

    func migrate(with migrator: DatabaseMigrator) throws { try withQueue { try migrator.migrate($0) } }

    func close() throws {
        try lock.withLock {
            try queue?.close()
            queue = nil
        }
    }
}
