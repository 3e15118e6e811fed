import BoltworkHAL
import BoltworkSimulation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A ``VirtualClock`` paced by the real clock, for the interactive simulator: one loop thread
/// (``run(tick:afterStep:)``) advances virtual time to keep up with `CLOCK_MONOTONIC`, running
/// every item at its exact virtual deadline, and sleeps in the kernel until the next deadline,
/// the caller's tick or new work.
///
/// The simulated hardware models and the drivers were built and tested on virtual time; pacing
/// keeps those semantics (work runs one item at a time, in deadline order, and `now` inside a
/// work item is that item's deadline) while a person watches in real time. Between steps the
/// loop thread owns the whole simulation, so what it renders is a consistent picture.
///
/// Work submitted from other threads (the keyboard, the control socket) is scheduled at the
/// real time it was submitted, mapped onto virtual time, and wakes the loop; work submitted by
/// work running on the loop keeps virtual-clock order.
public final class PacedVirtualClock: BoltClock, @unchecked Sendable {
    // Safety: `running`, `woken` and `loopThread` are read and written only with `mutex` held.
    /// The virtual clock being paced.
    public let virtual: VirtualClock
    private let realOrigin: MonotonicInstant
    private let virtualOrigin: MonotonicInstant
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var running = true
    private var woken = false
    private var loopThread: pthread_t?

    /// Paces `virtual` from now on: its current time corresponds to the real time now.
    public init(virtual: VirtualClock = VirtualClock()) {
        self.virtual = virtual
        realOrigin = SystemClock.monotonicNow()
        virtualOrigin = virtual.now
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// The virtual time (the deadline of the item running, inside work).
    public var now: MonotonicInstant { virtual.now }

    /// The real time now, on the virtual time line.
    public var realNow: MonotonicInstant { virtualOrigin + (SystemClock.monotonicNow() - realOrigin) }

    /// Runs `work` after the work already due: at once inside work on the loop, at the real
    /// time of the call from any other thread.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        if isLoopThread {
            virtual.execute(work)
        } else {
            virtual.schedule(at: max(virtual.now, realNow), work)
            wake()
        }
    }

    /// Runs `work` at the virtual `deadline`.
    @discardableResult
    public func schedule(at deadline: MonotonicInstant, _ work: @escaping @Sendable () -> Void)
        -> any ScheduledWork
    {
        let scheduled = virtual.schedule(at: deadline, work)
        if !isLoopThread { wake() }
        return scheduled
    }

    /// Wakes the loop to step and call its `afterStep` again (after a key press, a resize).
    public func wake() {
        pthread_mutex_lock(mutex)
        woken = true
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Ends ``run(tick:afterStep:)`` after its current step.
    public func stop() {
        pthread_mutex_lock(mutex)
        running = false
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Whether ``stop()`` has not been called.
    public var isRunning: Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return running
    }

    /// Runs the loop on the calling thread until ``stop()``: advances virtual time to the real
    /// time, calls `afterStep` (render what changed), then sleeps until the next deadline, until
    /// `tick()` has passed (nil: no tick) or until woken.
    public func run(tick: () -> Duration?, afterStep: () -> Void) {
        pthread_mutex_lock(mutex)
        loopThread = pthread_self()
        pthread_mutex_unlock(mutex)
        defer {
            pthread_mutex_lock(mutex)
            loopThread = nil
            pthread_mutex_unlock(mutex)
        }
        while isRunning {
            virtual.advance(to: realNow)
            afterStep()
            var wakeAt = virtual.nextDeadline
            if let interval = tick() {
                let tickAt = virtual.now + interval
                wakeAt = wakeAt.map { min($0, tickAt) } ?? tickAt
            }
            pthread_mutex_lock(mutex)
            while running && !woken {
                guard let wakeAt else {
                    pthread_cond_wait(condition, mutex)
                    continue
                }
                let real = realOrigin + (wakeAt - virtualOrigin)
                guard real > SystemClock.monotonicNow() else { break }
                var deadline = timespec(
                    tv_sec: Int(real.nanoseconds / 1_000_000_000),
                    tv_nsec: Int(real.nanoseconds % 1_000_000_000))
                pthread_cond_timedwait(condition, mutex, &deadline)
            }
            woken = false
            pthread_mutex_unlock(mutex)
        }
    }

    private var isLoopThread: Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard let loopThread else { return false }
        return pthread_equal(loopThread, pthread_self()) != 0
    }
}
