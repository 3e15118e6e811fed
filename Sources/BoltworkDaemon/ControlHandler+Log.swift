import BoltworkControl
import BoltworkLock
import BoltworkStore
import Dispatch
import Foundation
import Synchronization

// The audit log: filtered reads, following new records, export, and the hash-chain check.
extension ControlHandler {
    /// Records per `export` page (a page must fit in one protocol line).
    static let exportPageSize = 1000

    static func log(_ context: ControlContext) throws(ControlFailure) -> JSONValue {
        let filter = try LogFilter(context)
        let limit = try context.optionalInt("limit") ?? 20
        guard limit >= 0 else { throw ControlContext.bad("'limit' is 0 (all) or more") }
        let follow = try context.flag("follow")
        let store = context.lock.store
        var newest: Int64?
        if follow {
            guard let session = context.session else {
                throw ControlContext.bad("following the log needs a connection that stays open")
            }
            // Subscribe first, then read: a record committed in between is either in the answer
            // or pushed after it, never lost.
            let follower = LogFollower(
                id: context.request.id, filter: filter, store: store, session: session)
            let token = context.lock.feed.subscribe { follower.poke() }
            let feed = context.lock.feed
            session.onClose { feed.unsubscribe(token) }
            let latest = try Self.store { () throws(StoreError) in
                try store.auditRecords(AuditQuery(limit: 1))
            }
            newest = latest.last?.sequence ?? 0
            follower.start(after: newest ?? 0)
        }
        var records = try filter.records(in: store)
        if let newest { records.removeAll { $0.sequence > newest } }
        if limit > 0 { records = Array(records.suffix(limit)) }
        return .object(["records": .array(records.map { encode($0) }), "following": .bool(follow)])
    }

    static func export(_ context: ControlContext) throws(ControlFailure) -> JSONValue {
        let format = try context.optionalString("format") ?? "jsonl"
        guard format == "jsonl" || format == "csv" else {
            throw ControlContext.bad("unknown export format '\(format)': give jsonl or csv")
        }
        var filter = try LogFilter(context)
        let after = try context.optionalInt("afterSequence")
        filter.afterSequence = after.map(Int64.init)
        let pageSize = min(max(try context.optionalInt("limit") ?? exportPageSize, 1), exportPageSize)
        let matching = try filter.records(in: context.lock.store)
        let page = Array(matching.prefix(pageSize))
        var text = format == "csv" ? AuditExport.csv(page) : AuditExport.jsonLines(page)
        if format == "csv", after != nil, let header = text.range(of: "\r\n") {
            text.removeSubrange(text.startIndex..<header.upperBound)
        }
        var fields: [String: JSONValue] = [
            "format": .string(format), "text": .string(text), "records": .integer(page.count),
            "more": .bool(matching.count > page.count),
        ]
        if let last = page.last?.sequence ?? after.map(Int64.init) { fields["lastSequence"] = .integer(last) }
        return .object(fields)
    }

    static func verify(_ context: ControlContext) throws(ControlFailure) -> JSONValue {
        let result = try store { () throws(StoreError) in try context.lock.store.verifyAudit() }
        switch result {
        case .intact(let count):
            return .object(["intact": .bool(true), "records": .integer(count)])
        case .broken(let sequence, let reason):
            return .object([
                "intact": .bool(false), "sequence": .integer(sequence), "reason": .string(reason),
            ])
        }
    }

    /// A record as the protocol shows it.
    static func encode(_ record: AuditRecord) -> JSONValue {
        let event = record.event
        var fields: [String: JSONValue] = [
            "sequence": .integer(record.sequence), "time": .string(AuditExport.timestamp(event.time)),
            "action": .string(event.action.rawValue), "category": .string(event.action.category.rawValue),
            "detail": .string(event.detail), "text": .string(describe(event)),
        ]
        if let source = event.source { fields["source"] = .string(source.rawValue) }
        if let id = event.userID { fields["userID"] = .integer(id.rawValue) }
        if let name = event.userName { fields["userName"] = .string(name) }
        return .object(fields)
    }
}

/// Which audit records a `log` or `export` request wants.
struct LogFilter: Sendable {
    var since: Date?
    var until: Date?
    var actions: Set<AuditAction> = []
    var userID: UserID?
    var userName: String?
    var afterSequence: Int64?

    init(_ context: ControlContext) throws(ControlFailure) {
        let now = context.lock.wallClock.now
        let zone = context.timeZone
        let sinceText = try context.optionalString("since")
        let untilText = try context.optionalString("until")
        do {
            since = try sinceText.map { text throws(ControlText.Problem) in
                try ControlText.instant(text, now: now, timeZone: zone)
            }
            until = try untilText.map { text throws(ControlText.Problem) in
                try ControlText.instant(text, now: now, timeZone: zone, endOfDay: true)
            }
        } catch {
            throw ControlContext.bad(error.description)
        }
        for kind in try context.strings("kinds") {
            if let category = AuditCategory(rawValue: kind) {
                actions.formUnion(AuditAction.allCases.filter { $0.category == category })
            } else if let action = AuditAction(rawValue: kind) {
                actions.insert(action)
            } else {
                throw ControlContext.bad(
                    "unknown kind '\(kind)': give operation, refusal, alarm, admin, system or an action "
                        + "such as invalid-code or unlocked")
            }
        }
        if let text = try context.optionalString("user") {
            let users = try ControlHandler.allUsers(context)
            if let user = ControlHandler.user(text, in: users) {
                userID = user.id
                userName = user.name
            } else if text.hasPrefix("#") || Int64(text) != nil {
                userID = UserID(rawValue: Int64(text.hasPrefix("#") ? String(text.dropFirst()) : text) ?? 0)
            } else {
                userName = text  // a removed user is still in the log by name
            }
        }
    }

    /// What the store can filter.
    var query: AuditQuery {
        AuditQuery(since: since, until: until, actions: actions, afterSequence: afterSequence)
    }

    func matches(_ record: AuditRecord) -> Bool {
        guard query.matches(record) else { return false }
        let event = record.event
        switch (userID, userName) {
        case (nil, nil): return true
        case (let id?, nil): return event.userID == id
        case (nil, let name?): return event.userName == name
        case (let id?, let name?):
            return event.userID == id || (event.userID == nil && event.userName == name)
        }
    }

    func records(in store: any LockStore) throws(ControlFailure) -> [AuditRecord] {
        let query = self.query
        let records = try ControlHandler.store { () throws(StoreError) in try store.auditRecords(query) }
        return records.filter(matches)
    }
}

/// Pushes the records committed after a point to one following client, off the committing
/// thread (a slow client holds up only its own queue).
private final class LogFollower: Sendable {
    let id: Int
    let filter: LogFilter
    let store: any LockStore
    let session: ControlSession
    private let queue = DispatchQueue(label: "boltd-log-follow")
    private let last = Mutex<Int64?>(nil)

    init(id: Int, filter: LogFilter, store: any LockStore, session: ControlSession) {
        self.id = id
        self.filter = filter
        self.store = store
        self.session = session
    }

    func start(after sequence: Int64) {
        last.withLock { $0 = sequence }
        poke()
    }

    func poke() {
        queue.async { self.drain() }
    }

    private func drain() {
        guard !session.isClosed, let after = last.withLock({ $0 }),
            let records = try? store.auditRecords(AuditQuery(afterSequence: after)), let newest = records.last
        else { return }
        last.withLock { $0 = newest.sequence }
        for record in records where filter.matches(record) {
            let event = ControlEvent(id: id, event: "audit", data: ControlHandler.encode(record))
            guard session.push(event) else { return }
        }
    }
}
