import BoltworkHAL

/// A ``BoltClock`` on virtual time, for tests and the simulator: nothing runs until the test
/// advances time, and then everything due runs in deadline order on the caller's thread.
///
/// Like swift-nio's `EmbeddedEventLoop`: ``advance(by:)`` moves time forward to each due
/// item's deadline in turn and runs it; work that it schedules runs too if due before the
/// target. ``runUntilIdle()`` runs what is due now. Tests never sleep.
public final class VirtualClock: BoltClock, Sendable {
    private struct State {
        var now: MonotonicInstant
        var queue = TimerQueue()
        var firedTimers: UInt64 = 0
        var timerIDs: Set<UInt64> = []
        var isRunning = false
    }

    private let state: Protected<State>

    /// Starts at `start` (zero by default).
    public init(start: MonotonicInstant = .zero) {
        state = Protected(State(now: start))
    }

    /// The current virtual time.
    public var now: MonotonicInstant { state.withLock { $0.now } }

    /// How many timers (work scheduled for a time later than when it was scheduled) have fired
    /// so far: an idle component must not make it grow.
    public var firedTimerCount: UInt64 { state.withLock { $0.firedTimers } }

    /// How many items are queued.
    public var pendingCount: Int { state.withLock { $0.queue.count } }

    /// The earliest pending deadline.
    public var nextDeadline: MonotonicInstant? { state.withLock { $0.queue.earliestDeadline } }

    /// Queues `work` to run at the current time.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        state.withLock { state in _ = state.queue.insert(deadline: state.now, work: work) }
    }

    /// Queues `work` for `deadline`.
    @discardableResult
    public func schedule(at deadline: MonotonicInstant, _ work: @escaping @Sendable () -> Void)
        -> any ScheduledWork
    {
        let id = state.withLock { state in
            let id = state.queue.insert(deadline: max(deadline, state.now), work: work)
            if deadline > state.now { state.timerIDs.insert(id) }
            return id
        }
        return VirtualScheduledWork(clock: self, id: id)
    }

    fileprivate func cancel(_ id: UInt64) {
        state.withLock { state in
            state.queue.remove(id: id)
            state.timerIDs.remove(id)
        }
    }

    /// Runs everything due at the current time (including work that work due now submits).
    public func runUntilIdle() {
        advance(to: now)
    }

    /// Moves time forward by `duration`, running due work in deadline order.
    public func advance(by duration: Duration) {
        advance(to: now + duration)
    }

    /// Moves time forward to `target`, running due work in deadline order. Re-entrant calls
    /// (from inside work) do nothing.
    public func advance(to target: MonotonicInstant) {
        let entered = state.withLock { state -> Bool in
            guard !state.isRunning else { return false }
            state.isRunning = true
            return true
        }
        guard entered else { return }
        while true {
            let item = state.withLock { state -> TimerQueue.Item? in
                guard let deadline = state.queue.earliestDeadline, deadline <= target else { return nil }
                let item = state.queue.popFirst()
                if let item {
                    if state.timerIDs.remove(item.id) != nil { state.firedTimers += 1 }
                    state.now = max(state.now, item.deadline)
                }
                return item
            }
            guard let item else { break }
            item.work()
        }
        state.withLock { state in
            state.now = max(state.now, target)
            state.isRunning = false
        }
    }

    /// Advances in steps until `condition` holds or `limit` has passed; returns whether it held.
    /// For waiting on behaviour in virtual time ("until the bolt is extended"), never on the
    /// wall clock.
    @discardableResult
    public func advance(until condition: () -> Bool, limit: Duration, step: Duration = .milliseconds(1))
        -> Bool
    {
        let end = now + limit
        runUntilIdle()
        while !condition() {
            guard now < end else { return false }
            let next = min(end, now + step)
            advance(to: next)
        }
        return true
    }
}

private struct VirtualScheduledWork: ScheduledWork {
    let clock: VirtualClock
    let id: UInt64
    func cancel() { clock.cancel(id) }
}
