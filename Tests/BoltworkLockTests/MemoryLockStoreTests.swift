import BoltworkLock
import Foundation
import Testing

@Suite("Memory store and audit chain")
struct MemoryLockStoreTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("commits assign user ids and chain audit records; verification finds an edit and a deletion")
    func chain() throws {
        let store = MemoryLockStore()
        let (users, records) = try store.commit(
            StoreChange(
                events: [AuditEvent(time: t0, action: .userAdded, userName: "Ada")],
                users: [User(name: "Ada", role: .admin, createdAt: t0)]))
        #expect(users.map(\.id) == [UserID(rawValue: 1)])
        #expect(records.first?.previousHash == AuditChain.genesis)
        for n in 1...3 {
            try store.commit(
                StoreChange(events: [AuditEvent(time: t0 + Double(n), action: .unlocked, source: .keypad)]))
        }
        #expect(try store.verifyAudit() == .intact(records: 4))
        store.tamper(sequence: 2) { $0.event.action = .locked }
        guard case .broken(let sequence, _) = try store.verifyAudit() else {
            Issue.record("an edited record was not detected")
            return
        }
        #expect(sequence == 2)

        let other = MemoryLockStore()
        for n in 1...3 {
            try other.commit(StoreChange(events: [AuditEvent(time: t0 + Double(n), action: .locked)]))
        }
        let all = try other.auditRecords(AuditQuery())
        #expect(
            AuditChain.verify([all[0], all[2]])
                == .broken(atSequence: 3, reason: "record 2 is missing (deleted?)"))
    }

    @Test("a change touching an unknown user stores nothing")
    func atomic() throws {
        let store = MemoryLockStore()
        #expect(throws: StoreError.self) {
            try store.commit(
                StoreChange(
                    events: [AuditEvent(time: t0, action: .userRemoved)],
                    lockout: LockoutState(consecutiveFailures: 3),
                    deletedUsers: [UserID(rawValue: 9)]))
        }
        #expect(try store.auditRecords(AuditQuery()).isEmpty)
        #expect(try store.lockout() == LockoutState())
    }

    @Test("a wall clock linked to a virtual clock advances with it")
    func linkedClock() {
        let clock = VirtualClockForTests()
        let wall = LinkedWallClock(clock: clock.clock, epoch: t0)
        clock.clock.advance(by: .seconds(90))
        #expect(wall.now == t0 + 90)
    }
}
