import BoltworkLock
import Foundation
import Synchronization

/// Tells subscribers (control-socket clients following the log) that audit records were
/// committed. Every commit goes through the store the lock is built on, so keypad decisions,
/// bolt events, alarms and admin changes all reach the feed, whoever handles the lock's
/// notices. Subscribers are poked on the committing thread and must only hand the work off.
public final class AuditFeed: Sendable {
    private struct State {
        var next: UInt64 = 1
        var subscribers: [UInt64: @Sendable () -> Void] = [:]
    }

    private let state = Mutex(State())

    /// Creates an empty feed.
    public init() {}

    /// Calls `poke` after every commit that appends records, until ``unsubscribe(_:)``.
    public func subscribe(_ poke: @escaping @Sendable () -> Void) -> UInt64 {
        state.withLock { state in
            let token = state.next
            state.next += 1
            state.subscribers[token] = poke
            return token
        }
    }

    /// Stops poking the subscriber `token`.
    public func unsubscribe(_ token: UInt64) {
        _ = state.withLock { $0.subscribers.removeValue(forKey: token) }
    }

    /// How many subscribers there are.
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Pokes every subscriber.
    public func publish() {
        for poke in state.withLock({ Array($0.subscribers.values) }) { poke() }
    }
}

/// A store that tells an ``AuditFeed`` about each commit that appended records.
final class FeedingLockStore: LockStore, Sendable {
    let base: any LockStore
    let feed: AuditFeed

    init(_ base: any LockStore, feed: AuditFeed) {
        self.base = base
        self.feed = feed
    }

    func users() throws(StoreError) -> [User] { try base.users() }
    func lockout() throws(StoreError) -> LockoutState { try base.lockout() }
    func setting(_ key: String) throws(StoreError) -> String? { try base.setting(key) }
    func installSecret() throws(StoreError) -> [UInt8] { try base.installSecret() }

    @discardableResult
    func commit(_ change: StoreChange) throws(StoreError) -> (users: [User], records: [AuditRecord]) {
        let result = try base.commit(change)
        if !result.records.isEmpty { feed.publish() }
        return result
    }

    func auditRecords(_ query: AuditQuery) throws(StoreError) -> [AuditRecord] {
        try base.auditRecords(query)
    }
    func verifyAudit() throws(StoreError) -> AuditVerification { try base.verifyAudit() }
    func pruneAudit(before date: Date) throws(StoreError) -> Int { try base.pruneAudit(before: date) }
}
