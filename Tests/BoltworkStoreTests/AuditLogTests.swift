import BoltworkLock
import BoltworkStore
import Foundation
import GRDB
import Testing

@Suite("SQLite store: audit queries, verification, pruning and export")
struct AuditLogTests {
    /// A store with `count` single-event commits, one a minute, cycling through users and actions.
    func filledStore(_ scratch: ScratchDirectory, count: Int) throws -> SQLiteLockStore {
        let store = try SQLiteLockStore(path: scratch.path("lock.sqlite"))
        let actions: [AuditAction] = [.unlocked, .locked, .invalidCode, .userAdded]
        for n in 0..<count {
            try store.commit(
                StoreChange(
                    events: [
                        AuditEvent(
                            time: t0 + Double(n * 60), action: actions[n % actions.count], source: .keypad,
                            userID: n % 3 == 0 ? nil : UserID(rawValue: Int64(n % 3)),
                            userName: n % 3 == 0 ? nil : "user \(n % 3)", detail: "event \(n)")
                    ]))
        }
        return store
    }

    @Test("filters and limits run in SQL and agree with AuditQuery.matches")
    func queries() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try filledStore(scratch, count: 40)
        let all = try store.auditRecords(AuditQuery())
        #expect(all.map(\.sequence) == Array(1...40))
        let queries = [
            AuditQuery(since: t0 + 600, until: t0 + 1200),
            AuditQuery(userID: UserID(rawValue: 2)),
            AuditQuery(actions: [.invalidCode, .userAdded]),
            AuditQuery(afterSequence: 33),
            AuditQuery(
                since: t0 + 300, userID: UserID(rawValue: 1), actions: [.unlocked, .locked], limit: 3),
            AuditQuery(limit: 5),
            AuditQuery(limit: 0),
            AuditQuery(since: t0 + 100_000),
        ]
        for query in queries {
            var expected = all.filter(query.matches)
            if let limit = query.limit { expected = Array(expected.suffix(limit)) }
            #expect(try store.auditRecords(query) == expected, "\(query)")
        }
        #expect(
            try store.auditRecords(AuditQuery(since: t0 + 600, until: t0 + 1200)).map(\.sequence)
                == Array(11...20))
        #expect(try store.auditRecords(AuditQuery(limit: 5)).map(\.sequence) == Array(36...40))
        let following = try store.auditRecords(AuditQuery(afterSequence: 38))
        #expect(following.map(\.event.detail) == ["event 38", "event 39"])
    }

    @Test("an edited row is reported at its sequence number")
    func editedRow() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try filledStore(scratch, count: 10)
        #expect(try store.verifyAudit() == .intact(records: 10))
        try rawSQL(store.path, "UPDATE audit SET detail = 'nothing happened' WHERE sequence = 4")
        guard case .broken(let sequence, let reason) = try store.verifyAudit() else {
            Issue.record("an edited detail was not detected")
            return
        }
        #expect(sequence == 4)
        #expect(reason.contains("edited"))
    }

    @Test("an edited action no build knows is reported, not thrown")
    func unreadableRow() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try filledStore(scratch, count: 6)
        try rawSQL(store.path, "UPDATE audit SET action = 'teleported' WHERE sequence = 5")
        guard case .broken(let sequence, _) = try store.verifyAudit() else {
            Issue.record("an unreadable record was not detected")
            return
        }
        #expect(sequence == 5)
        #expect(storeErrorKind { _ = try store.auditRecords(AuditQuery()) }?.kind == .corrupt)
    }

    @Test("a deleted middle row, a reordered pair and a deleted tail are reported at the right sequence")
    func deletedAndReordered() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try filledStore(scratch, count: 10)
        try rawSQL(store.path, "DELETE FROM audit WHERE sequence = 6")
        #expect(try store.verifyAudit() == .broken(atSequence: 7, reason: "record 6 is missing (deleted?)"))

        let other = try ScratchDirectory()
        defer { other.cleanUp() }
        let swapped = try filledStore(other, count: 10)
        try rawSQL(
            swapped.path,
            """
            UPDATE audit SET sequence = -3 WHERE sequence = 3;
            UPDATE audit SET sequence = 3 WHERE sequence = 4;
            UPDATE audit SET sequence = 4 WHERE sequence = -3;
            """)
        guard case .broken(let sequence, _) = try swapped.verifyAudit() else {
            Issue.record("a reordered pair was not detected")
            return
        }
        #expect(sequence == 3)

        let third = try ScratchDirectory()
        defer { third.cleanUp() }
        let truncated = try filledStore(third, count: 10)
        try rawSQL(truncated.path, "DELETE FROM audit WHERE sequence >= 9")
        guard case .broken(let end, let reason) = try truncated.verifyAudit() else {
            Issue.record("deleted newest records were not detected")
            return
        }
        #expect(end == 8)
        #expect(reason.contains("head is record 10"))
    }

    @Test("verification walks a long chain page by page")
    func longChain() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try SQLiteLockStore(path: scratch.path("lock.sqlite"))
        let events = (0..<1300).map { AuditEvent(time: t0 + Double($0), action: .locked, detail: "\($0)") }
        try store.commit(StoreChange(events: events))
        #expect(try store.verifyAudit() == .intact(records: 1300))
        try rawSQL(store.path, "UPDATE audit SET time = time + 1 WHERE sequence = 1100")
        #expect(
            try store.verifyAudit()
                == .broken(atSequence: 1100, reason: "its content does not match its hash (edited?)"))
    }

    @Test("pruning deletes the oldest records in one go; the rest still verifies and the chain goes on")
    func prune() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try filledStore(scratch, count: 10)
        #expect(try store.pruneAudit(before: t0 + 5 * 60) == 5)
        #expect(try store.auditRecords(AuditQuery()).map(\.sequence) == Array(6...10))
        #expect(try store.verifyAudit() == .intact(records: 5))
        #expect(try store.pruneAudit(before: t0) == 0)

        // Deleting the first kept record by hand is not pruning: it is reported.
        try rawSQL(store.path, "DELETE FROM audit WHERE sequence = 6")
        #expect(
            try store.verifyAudit() == .broken(atSequence: 7, reason: "record 6 is missing (deleted?)"))

        #expect(try store.pruneAudit(before: t0 + 100_000) == 4)
        #expect(try store.verifyAudit() == .intact(records: 0))
        let (_, records) = try store.commit(
            StoreChange(events: [AuditEvent(time: t0 + 200_000, action: .started)]))
        #expect(records.map(\.sequence) == [11])
        #expect(try store.verifyAudit() == .intact(records: 1))
    }

    @Test("CSV export has a header and quotes commas, quotes and newlines as RFC 4180 says")
    func csv() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try SQLiteLockStore(path: scratch.path("lock.sqlite"))
        try store.commit(
            StoreChange(events: [
                AuditEvent(
                    time: t0 + 0.25, action: .userChanged, source: .remote, userID: UserID(rawValue: 3),
                    userName: "O'Brien, \"Bo\"", detail: "line one\nline two"),
                AuditEvent(time: t0 + 1, action: .locked, detail: "plain"),
            ]))
        let records = try store.auditRecords(AuditQuery())
        let csv = try store.exportCSV()
        let lines = csv.components(separatedBy: "\r\n")
        #expect(
            lines[0] == "sequence,time,action,category,source,user_id,user_name,detail,previous_hash,hash")
        #expect(
            lines[1]
                == "1,2027-01-15T08:00:00.250Z,user-changed,admin,remote,3,\"O'Brien, \"\"Bo\"\"\",\"line one\nline two\","
                + "\(AuditChain.genesis),\(records[0].hash)")
        #expect(
            lines[2]
                == "2,2027-01-15T08:00:01.000Z,locked,operation,,,,plain,\(records[0].hash),\(records[1].hash)"
        )
        #expect(lines.count == 4 && lines[3].isEmpty)
        #expect(AuditExport.csvField("a\r\nb") == "\"a\r\nb\"")
        #expect(try store.exportCSV(AuditQuery(afterSequence: 5)) == lines[0] + "\r\n")
    }

    @Test("JSON Lines export has one object a line that reads back as the record")
    func jsonLines() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try filledStore(scratch, count: 5)
        let text = try store.exportJSONLines(AuditQuery(afterSequence: 2))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 4 && lines[3].isEmpty)
        let records = try store.auditRecords(AuditQuery(afterSequence: 2))
        for (line, record) in zip(lines, records) {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["sequence"] as? Int == Int(record.sequence))
            #expect(object?["action"] as? String == record.event.action.rawValue)
            #expect(object?["detail"] as? String == record.event.detail)
            #expect(object?["hash"] as? String == record.hash)
            #expect(object?["previousHash"] as? String == record.previousHash)
            #expect(object?["userID"] as? Int == record.event.userID.map { Int($0.rawValue) })
            #expect(object?["time"] as? String == AuditExport.timestamp(record.event.time))
        }
    }
}
