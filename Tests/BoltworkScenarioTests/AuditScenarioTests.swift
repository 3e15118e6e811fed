import BoltworkBoard
import BoltworkLock
import BoltworkSimulation
import BoltworkStore
import Foundation
import GRDB
import Testing

/// The lock's own audit log in its SQLite database, tampered with by someone who has the file.
@Suite("Audit scenarios on the simulated board")
struct AuditScenarioTests {
    enum Tampering: String, CaseIterable, Sendable {
        /// Bob's unlock is rewritten as Ada's.
        case edited
        /// Bob's unlock is removed.
        case deleted
    }

    @Test(
        "the audit chain of a lock in use reveals an edited and a deleted row", arguments: Tampering.allCases)
    func tampering(_ tampering: Tampering) throws {
        let directory = try ScenarioDirectory()
        defer { directory.cleanUp() }
        let bench = try LockBench(store: try SQLiteLockStore(path: directory.database))
        try bench.startLocked()
        _ = try bench.controller.access.initializeAdmin(name: "Ada", pin: adminCode)
        let bob = try bench.controller.access.addUser(
            name: "Bob", role: .resident, pin: "135790", by: .installer)
        bench.type("111111#")
        bench.type("135790#")
        bench.clock.advance(by: .seconds(35))
        bench.type(adminCode + "#")
        bench.clock.advance(by: .seconds(35))
        bench.shutdown()
        let records = try bench.store.auditRecords(AuditQuery())
        #expect(try bench.store.verifyAudit() == .intact(records: records.count))
        let target = try #require(records.first { $0.event.action == .unlocked && $0.event.userID == bob.id })
        try #require(target.sequence < records.count, "not the last record")
        try (bench.store as? SQLiteLockStore)?.close()

        let database = try DatabaseQueue(path: directory.database)
        try database.writeWithoutTransaction { db in
            switch tampering {
            case .edited:
                try db.execute(
                    sql: "UPDATE audit SET user_name = 'Ada', user_id = 1 WHERE sequence = ?",
                    arguments: [target.sequence])
            case .deleted:
                try db.execute(sql: "DELETE FROM audit WHERE sequence = ?", arguments: [target.sequence])
            }
        }
        try database.close()

        let reopened = try SQLiteLockStore(path: directory.database)
        defer { try? reopened.close() }
        switch tampering {
        case .edited:
            guard case .broken(let sequence, let reason) = try reopened.verifyAudit() else {
                Issue.record("an edited unlock was not detected")
                return
            }
            #expect(sequence == target.sequence)
            #expect(reason.contains("edited"))
        case .deleted:
            #expect(
                try reopened.verifyAudit()
                    == .broken(
                        atSequence: target.sequence + 1,
                        reason: "record \(target.sequence) is missing (deleted?)"))
        }
        // The lock goes on recording on top; the damage stays visible.
        let again = try LockBench(store: reopened, world: bench.world)
        again.controller.start()
        again.shutdown()
        guard case .broken = try reopened.verifyAudit() else {
            Issue.record("new records hid the damage")
            return
        }
    }
}
