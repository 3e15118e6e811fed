import BoltworkLock
import BoltworkSimulation
import Foundation
import Synchronization

/// An access controller on a memory store, with wall time following a virtual clock.
final class AccessBench: Sendable {
    let clock = VirtualClock()
    let store: MemoryLockStore
    let wall: LinkedWallClock
    let configuration: AccessConfiguration
    let trust = ClockTrust()
    let access: AccessController

    static let utc = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0) ?? .current

    /// Monday 5 January 2026, 12:00 UTC.
    static let monday = date(2026, 1, 5, 12, 0)

    static func date(
        _ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, in zone: TimeZone = utc
    )
        -> Date
    {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute)
        return calendar.date(from: components) ?? Date(timeIntervalSince1970: 0)
    }

    static func testing(
        lockoutThreshold: Int = 5, keypadDisableThreshold: Int = 100, timeZone: TimeZone = utc
    ) -> AccessConfiguration {
        AccessConfiguration(
            hashing: .testing, lockoutThreshold: lockoutThreshold,
            keypadDisableThreshold: keypadDisableThreshold,
            timeZone: timeZone)
    }

    init(
        epoch: Date = AccessBench.monday, store: MemoryLockStore = MemoryLockStore(),
        configuration: AccessConfiguration = AccessBench.testing()
    ) throws {
        self.store = store
        self.configuration = configuration
        wall = LinkedWallClock(clock: clock, epoch: epoch)
        let flag = trust
        access = try AccessController(
            store: store, wallClock: wall, configuration: configuration,
            clockIsSynchronized: { flag.isSynchronized })
    }

    /// A second controller on the same store and clock, as after a restart.
    func restarted() throws -> AccessController {
        let flag = trust
        return try AccessController(
            store: store, wallClock: wall, configuration: configuration,
            clockIsSynchronized: { flag.isSynchronized })
    }

    /// Sets up the first admin (code 24681357) and returns it.
    @discardableResult
    func withAdmin() throws -> User {
        try access.initializeAdmin(name: "Ada", pin: AccessBench.adminPIN)
    }

    static let adminPIN = "24681357"

    func advance(minutes: Int) { clock.advance(by: .seconds(minutes * 60)) }

    func events() throws -> [AuditEvent] { try store.auditRecords(AuditQuery()).map(\.event) }

    func actions() throws -> [AuditAction] { try events().map(\.action) }
}

/// The injected "wall clock is synchronised" flag.
final class ClockTrust: Sendable {
    private let flag = Atomic<Bool>(true)

    var isSynchronized: Bool { flag.load(ordering: .relaxed) }

    func set(_ synchronized: Bool) { flag.store(synchronized, ordering: .relaxed) }
}

/// A store that passes everything to a memory store, except that commits fail while
/// `failing` is set (a full disk, a read-only file system).
final class FailingStore: LockStore, Sendable {
    let inner: MemoryLockStore
    private let failing = Atomic<Bool>(false)

    init(_ inner: MemoryLockStore) { self.inner = inner }

    func fail(_ on: Bool) { failing.store(on, ordering: .relaxed) }

    func users() throws(StoreError) -> [User] { try inner.users() }
    func lockout() throws(StoreError) -> LockoutState { try inner.lockout() }
    func setting(_ key: String) throws(StoreError) -> String? { try inner.setting(key) }
    func installSecret() throws(StoreError) -> [UInt8] { try inner.installSecret() }
    func commit(_ change: StoreChange) throws(StoreError) -> (users: [User], records: [AuditRecord]) {
        if failing.load(ordering: .relaxed) { throw StoreError(.writeFailed, "disk full") }
        return try inner.commit(change)
    }
    func auditRecords(_ query: AuditQuery) throws(StoreError) -> [AuditRecord] {
        try inner.auditRecords(query)
    }
    func verifyAudit() throws(StoreError) -> AuditVerification { try inner.verifyAudit() }
    func pruneAudit(before date: Date) throws(StoreError) -> Int { try inner.pruneAudit(before: date) }
}
