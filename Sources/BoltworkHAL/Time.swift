/// A point on the monotonic clock, in nanoseconds since an arbitrary origin (boot, for the
/// system clock; zero, for a virtual clock).
///
/// Kernel GPIO edge timestamps are `CLOCK_MONOTONIC` nanoseconds, so edge events, timers and
/// `BoltClock.now` share one time line on Linux.
public struct MonotonicInstant: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Nanoseconds since the clock's origin.
    public var nanoseconds: Int64

    /// Creates an instant `nanoseconds` after the clock's origin.
    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    /// The origin of the clock.
    public static let zero = MonotonicInstant(nanoseconds: 0)

    /// Orders instants from earliest to latest.
    public static func < (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    /// The instant `duration` after `instant`.
    public static func + (instant: MonotonicInstant, duration: Duration) -> MonotonicInstant {
        MonotonicInstant(nanoseconds: instant.nanoseconds &+ duration.totalNanoseconds)
    }

    /// The instant `duration` before `instant`.
    public static func - (instant: MonotonicInstant, duration: Duration) -> MonotonicInstant {
        MonotonicInstant(nanoseconds: instant.nanoseconds &- duration.totalNanoseconds)
    }

    /// The time from `rhs` to `lhs`.
    public static func - (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Duration {
        .nanoseconds(lhs.nanoseconds &- rhs.nanoseconds)
    }

    /// Seconds since the origin with millisecond precision, e.g. `12.345s`.
    public var description: String {
        let ms = nanoseconds / 1_000_000
        let sign = ms < 0 ? "-" : ""
        let magnitude = ms.magnitude
        let fraction = String(magnitude % 1000)
        let padded = String(repeating: "0", count: 3 - fraction.count) + fraction
        return "\(sign)\(magnitude / 1000).\(padded)s"
    }
}

extension Duration {
    /// The duration in whole nanoseconds, saturating at `Int64` bounds.
    public var totalNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (secondsPart, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? Int64.min : Int64.max }
        return secondsPart &+ attoseconds / 1_000_000_000
    }

    /// The duration in whole milliseconds, rounded toward zero.
    public var totalMilliseconds: Int64 { totalNanoseconds / 1_000_000 }

    /// The duration in whole microseconds, rounded toward zero.
    public var totalMicroseconds: Int64 { totalNanoseconds / 1000 }
}

/// A handle on work scheduled with ``BoltClock/schedule(at:_:)``.
public protocol ScheduledWork: Sendable {
    /// Cancels the work if it has not started yet. Cancelling twice, or after it ran, does
    /// nothing.
    func cancel()
}

/// The clock and serial work queue that every timing-sensitive part of Boltwork uses:
/// debounce, scan intervals, motor timeouts, lockout, auto-relock.
///
/// Work submitted with ``execute(_:)`` or ``schedule(at:_:)`` runs one item at a time, in
/// deadline order, never concurrently with other work on the same clock. Drivers and the lock
/// controller rely on that: a callback can read and change its component's state without
/// racing another callback. ``SystemClock`` runs work on a dedicated thread in real time;
/// `VirtualClock` (in BoltworkSimulation) runs it when a test advances virtual time, so tests
/// never sleep.
public protocol BoltClock: AnyObject, Sendable {
    /// The current time.
    var now: MonotonicInstant { get }

    /// Runs `work` as soon as possible, after work already due.
    func execute(_ work: @escaping @Sendable () -> Void)

    /// Runs `work` once `deadline` has been reached. A deadline in the past means "as soon as
    /// possible". Returns a handle that can cancel the work.
    @discardableResult
    func schedule(at deadline: MonotonicInstant, _ work: @escaping @Sendable () -> Void)
        -> any ScheduledWork
}

extension BoltClock {
    /// Runs `work` once `delay` has passed.
    @discardableResult
    public func schedule(after delay: Duration, _ work: @escaping @Sendable () -> Void)
        -> any ScheduledWork
    {
        schedule(at: now + delay, work)
    }

    /// Suspends the calling task until `deadline`, on this clock's time line. Throws
    /// `CancellationError` when the task is cancelled first.
    public func sleep(until deadline: MonotonicInstant) async throws {
        let state = SleepState()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation {
                (continuation: CheckedContinuation<Void, any Error>) in
                if !state.install(continuation) { return }
                let work = schedule(at: deadline) { state.resume(with: .success(())) }
                state.attach(work)
            }
        } onCancel: {
            state.resume(with: .failure(CancellationError()))
        }
    }

    /// Suspends the calling task for `duration` on this clock's time line.
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: now + duration)
    }
}

/// Coordinates a sleeping task's continuation between its timer and task cancellation.
private final class SleepState: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Void, any Error>?
        var work: (any ScheduledWork)?
        var finished: Result<Void, any Error>?
    }
    private let state = Protected(State())

    /// Stores the continuation; returns false when cancellation already happened (and resumed it).
    func install(_ continuation: CheckedContinuation<Void, any Error>) -> Bool {
        let early: Result<Void, any Error>? = state.withLock { state in
            if let finished = state.finished { return finished }
            state.continuation = continuation
            return nil
        }
        if let early {
            continuation.resume(with: early)
            return false
        }
        return true
    }

    func attach(_ work: any ScheduledWork) {
        let cancelNow = state.withLock { state -> Bool in
            state.work = work
            return state.finished != nil
        }
        if cancelNow { work.cancel() }
    }

    func resume(with result: Result<Void, any Error>) {
        let (continuation, work) = state.withLock {
            state -> (CheckedContinuation<Void, any Error>?, (any ScheduledWork)?) in
            guard state.finished == nil else { return (nil, nil) }
            state.finished = result
            defer { state.continuation = nil }
            return (state.continuation, state.work)
        }
        if case .failure = result { work?.cancel() }
        continuation?.resume(with: result)
    }
}
