import BoltworkLock
import BoltworkStore
import Foundation
import GRDB
import Testing

@Suite("SQLite store: opening, durability and atomic commits")
struct SQLiteLockStoreTests {
    func fullUser(name: String) -> User {
        User(
            name: name, role: .guest, isEnabled: false, kind: .expiring(minutes: 90),
            schedules: [
                .weekly(days: [.monday, .friday], startMinute: 480, endMinute: 1080),
                .dateRange(start: t0, end: t0 + 86_400 * 7),
            ],
            credential: PINCredential(hash: Array(0..<32), length: 6), createdAt: t0 + 0.25,
            firstUsedAt: t0 + 10, lastUsedAt: t0 + 20, useCount: 4, lastTestedAt: t0 + 30)
    }

    @Test("a new database is created with mode 0600 in a new directory, in WAL with synchronous=FULL")
    func creation() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let path = scratch.path("state/nested/lock.sqlite")
        let store = try SQLiteLockStore(path: path)
        try store.commit(StoreChange(events: [AuditEvent(time: t0, action: .started)]))

        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(stat(scratch.path("state/nested"), &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)
        #expect(stat(path + "-wal", &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        let settings = try store.durabilitySettings()
        #expect(settings.journalMode == "wal")
        #expect(settings.synchronous == 2)
        #expect(settings.foreignKeys)

        let queue = try DatabaseQueue(path: path)
        let (applicationID, version) = try queue.read { db in
            (
                try Int32.fetchOne(db, sql: "PRAGMA application_id"),
                try Int.fetchOne(db, sql: "PRAGMA user_version")
            )
        }
        try queue.close()
        #expect(applicationID == SQLiteLockStore.applicationID)
        #expect(version == SQLiteLockStore.schemaVersion)
    }

    @Test("users, lockout, settings, secret and audit survive closing and reopening")
    func reopen() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let path = scratch.path("lock.sqlite")
        let lockout = LockoutState(
            consecutiveFailures: 7, lockoutCount: 2, lockedUntil: t0 + 900.5, keypadDisabled: true)
        let first = try SQLiteLockStore(path: path)
        let secret = try first.installSecret()
        let (users, records) = try first.commit(
            StoreChange(
                events: [
                    AuditEvent(time: t0, action: .userAdded, source: .remote, userName: "Grace"),
                    AuditEvent(time: t0 + 1, action: .lockoutStarted, detail: "15 minutes"),
                ],
                lockout: lockout,
                users: [User(name: "Ada", role: .admin, createdAt: t0), fullUser(name: "Grace")],
                settings: ["mode": "vacation", "autoRelockSeconds": "30"]))
        #expect(users.map(\.id) == [UserID(rawValue: 1), UserID(rawValue: 2)])
        try first.close()

        let second = try SQLiteLockStore(path: path)
        #expect(try second.users() == users)
        #expect(
            try second.users()[1]
                == { () -> User in
                    var grace = fullUser(name: "Grace")
                    grace.id = UserID(rawValue: 2)
                    return grace
                }())
        #expect(try second.lockout() == lockout)
        #expect(try second.setting("mode") == "vacation")
        #expect(try second.setting("autoRelockSeconds") == "30")
        #expect(try second.setting("missing") == nil)
        #expect(try second.installSecret() == secret)
        #expect(try second.auditRecords(AuditQuery()) == records)
        #expect(try second.verifyAudit() == .intact(records: 2))

        // The chain continues where it stopped, with the same hashes the memory store computes.
        let (_, more) = try second.commit(StoreChange(events: [AuditEvent(time: t0 + 2, action: .locked)]))
        #expect(more.map(\.sequence) == [3])
        let memory = MemoryLockStore()
        try memory.commit(StoreChange(events: records.map(\.event) + more.map(\.event)))
        #expect(try memory.auditRecords(AuditQuery()) == second.auditRecords(AuditQuery()))
    }

    @Test("the install secret is 32 random bytes made once; the database refuses to change it")
    func installSecret() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let a = try SQLiteLockStore(path: scratch.path("a.sqlite"))
        let b = try SQLiteLockStore(path: scratch.path("b.sqlite"))
        let secret = try a.installSecret()
        #expect(secret.count == 32)
        #expect(secret != (try b.installSecret()))
        #expect(Set(secret).count > 8)
        try a.commit(StoreChange(settings: ["x": "1"]))
        #expect(try a.installSecret() == secret)
        try a.close()
        #expect(throws: (any Error).self) {
            try rawSQL(scratch.path("a.sqlite"), "UPDATE install_secret SET secret = zeroblob(32)")
        }
        #expect(throws: (any Error).self) {
            try rawSQL(scratch.path("a.sqlite"), "DELETE FROM install_secret")
        }
        #expect(try SQLiteLockStore(path: scratch.path("a.sqlite")).installSecret() == secret)
    }

    @Test("a garbage file is refused as corrupt, named, and left byte for byte unchanged")
    func garbageFile() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let path = scratch.path("lock.sqlite")
        let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) })
        try garbage.write(to: URL(fileURLWithPath: path))
        let error = storeErrorKind { _ = try SQLiteLockStore(path: path) }
        #expect(error?.kind == .corrupt)
        #expect(error?.detail.contains(path) == true)
        #expect(error?.detail.contains("move it aside") == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == garbage)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test("another program's SQLite database is refused and left unchanged")
    func foreignDatabase() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let path = scratch.path("lock.sqlite")
        try rawSQL(
            path,
            "CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO photos VALUES (1, 'x')")
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let error = storeErrorKind { _ = try SQLiteLockStore(path: path) }
        #expect(error?.kind == .corrupt)
        #expect(error?.detail.contains("not a Boltwork database") == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test("a database from a newer schema version is refused with a message saying so")
    func newerSchema() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let path = scratch.path("lock.sqlite")
        try SQLiteLockStore(path: path).close()
        try rawSQL(path, "PRAGMA user_version = \(SQLiteLockStore.schemaVersion + 1)")
        let error = storeErrorKind { _ = try SQLiteLockStore(path: path) }
        #expect(error?.kind == .unavailable)
        #expect(error?.detail.contains("newer Boltwork") == true)

        try rawSQL(path, "PRAGMA user_version = \(SQLiteLockStore.schemaVersion)")
        try rawSQL(path, "INSERT INTO grdb_migrations (identifier) VALUES ('v9-from-the-future')")
        #expect(storeErrorKind { _ = try SQLiteLockStore(path: path) }?.kind == .unavailable)
    }

    @Test("a damaged page is found by quick_check at open and reported, not repaired")
    func damagedPage() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let path = scratch.path("lock.sqlite")
        let store = try SQLiteLockStore(path: path)
        for n in 0..<200 {
            try store.commit(
                StoreChange(
                    events: [
                        AuditEvent(
                            time: t0 + Double(n), action: .unlocked,
                            detail: String(repeating: "detail \(n) ", count: 20))
                    ]))
        }
        try store.close()
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(bytes.count > 4096 * 12)
        // Scribble over the b-tree page headers of pages 4 to 11.
        for page in 3..<11 {
            for offset in 0..<64 { bytes[page * 4096 + offset] = 0xA5 }
        }
        try bytes.write(to: URL(fileURLWithPath: path))
        let error = storeErrorKind { _ = try SQLiteLockStore(path: path) }
        #expect(error?.kind == .corrupt)
        #expect(error?.detail.contains("restore") == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
    }

    @Test("a directory where the database should be is refused, not replaced")
    func directoryAtPath() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let path = scratch.path("lock.sqlite")
        try FileManager.default.createDirectory(atPath: path + "/keep", withIntermediateDirectories: true)
        let error = storeErrorKind { _ = try SQLiteLockStore(path: path) }
        #expect(error?.kind == .unavailable)
        #expect(error?.detail.contains("not a regular file") == true)
        #expect(FileManager.default.fileExists(atPath: path + "/keep"))
    }

    @Test("an empty file (a first start cut short) is initialised")
    func emptyFile() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let path = scratch.path("lock.sqlite")
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        let store = try SQLiteLockStore(path: path)
        #expect(try store.installSecret().count == 32)
        #expect(try store.verifyAudit() == .intact(records: 0))
    }

    @Test("an unknown user or a code another user has is a conflict and stores nothing")
    func conflicts() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try SQLiteLockStore(path: scratch.path("lock.sqlite"))
        let code = PINCredential(hash: [1, 2, 3], length: 4)
        let (users, _) = try store.commit(
            StoreChange(users: [User(name: "Ada", role: .admin, credential: code, createdAt: t0)]))
        let attempts = [
            StoreChange(
                events: [AuditEvent(time: t0, action: .userRemoved)],
                lockout: LockoutState(consecutiveFailures: 3),
                deletedUsers: [UserID(rawValue: 9)]),
            StoreChange(
                events: [AuditEvent(time: t0, action: .userChanged)],
                users: [User(id: UserID(rawValue: 5), name: "Nobody", role: .guest, createdAt: t0)],
                settings: ["a": "b"]),
            StoreChange(
                events: [AuditEvent(time: t0, action: .userAdded)],
                lockout: LockoutState(consecutiveFailures: 3),
                users: [User(name: "Bob", role: .resident, credential: code, createdAt: t0)]),
        ]
        for change in attempts {
            #expect(storeErrorKind { try store.commit(change) }?.kind == .conflict)
        }
        #expect(try store.users() == users)
        #expect(try store.lockout() == LockoutState())
        #expect(try store.setting("a") == nil)
        #expect(try store.auditRecords(AuditQuery()).isEmpty)
        try store.commit(StoreChange(deletedUsers: users.map(\.id)))
        #expect(try store.users().isEmpty)
        // Ids are never reused, so old audit records keep pointing at the right person.
        let (again, _) = try store.commit(StoreChange(users: [User(name: "Cy", role: .guest, createdAt: t0)]))
        #expect(again.map(\.id) == [UserID(rawValue: 2)])
    }

    @Test("a store used after close reports the file as unavailable")
    func afterClose() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try SQLiteLockStore(path: scratch.path("lock.sqlite"))
        try store.close()
        #expect(storeErrorKind { _ = try store.lockout() }?.kind == .unavailable)
        let error = storeErrorKind { try store.commit(StoreChange(settings: ["a": "b"])) }
        #expect(error?.kind == .writeFailed)
        #expect(error?.detail.contains(store.path) == true)
    }
}
