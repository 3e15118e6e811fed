#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The real-time ``BoltClock``: `CLOCK_MONOTONIC` time and one dedicated thread that runs
/// submitted and scheduled work in deadline order.
///
/// The thread blocks on a condition variable until the earliest deadline or new work, so a
/// clock with nothing scheduled costs no CPU and no periodic wake-ups. Call ``shutdown()`` to
/// stop the thread; work still scheduled then is dropped.
public final class SystemClock: BoltClock, @unchecked Sendable {
    // Safety: every mutable field below is read and written only with `mutex` held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var queue = TimerQueue()
    private var running = true
    private var thread: pthread_t?
    private var wakeups: UInt64 = 0

    /// Starts the clock's thread.
    public init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
        if let handle = startThread({ [self] in run() }) {
            thread = handle
        } else {
            running = false
        }
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Reads `CLOCK_MONOTONIC`.
    public var now: MonotonicInstant { Self.monotonicNow() }

    /// Reads `CLOCK_MONOTONIC` without a clock instance.
    public static func monotonicNow() -> MonotonicInstant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return MonotonicInstant(nanoseconds: Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec))
    }

    /// How many times the clock's thread woke up to run work: the figure an idle-cost benchmark
    /// watches.
    public var wakeupCount: UInt64 {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return wakeups
    }

    /// Runs `work` on the clock's thread as soon as possible.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        _ = enqueue(at: .zero, work)
    }

    /// Runs `work` on the clock's thread once `deadline` is reached.
    @discardableResult
    public func schedule(at deadline: MonotonicInstant, _ work: @escaping @Sendable () -> Void)
        -> any ScheduledWork
    {
        enqueue(at: deadline, work)
    }

    /// Stops the clock's thread after the work item in progress, if any, and waits for it.
    /// Pending work is dropped. Calling it from work running on the clock does not wait.
    public func shutdown() {
        pthread_mutex_lock(mutex)
        let wasRunning = running
        running = false
        queue.removeAll()
        pthread_cond_signal(condition)
        let handle = thread
        thread = nil
        pthread_mutex_unlock(mutex)
        if wasRunning, let handle {
            if pthread_equal(handle, pthread_self()) != 0 {
                pthread_detach(handle)
            } else {
                pthread_join(handle, nil)
            }
        }
    }

    private func enqueue(at deadline: MonotonicInstant, _ work: @escaping @Sendable () -> Void)
        -> any ScheduledWork
    {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard running else { return CancelledWork() }
        let id = queue.insert(deadline: deadline, work: work)
        pthread_cond_signal(condition)
        return SystemScheduledWork(clock: self, id: id)
    }

    fileprivate func cancel(_ id: UInt64) {
        pthread_mutex_lock(mutex)
        queue.remove(id: id)
        pthread_mutex_unlock(mutex)
    }

    private func run() {
        pthread_mutex_lock(mutex)
        while running {
            guard let next = queue.earliestDeadline else {
                pthread_cond_wait(condition, mutex)
                continue
            }
            let current = Self.monotonicNow()
            if next > current {
                var ts = timespec(
                    tv_sec: Int(next.nanoseconds / 1_000_000_000),
                    tv_nsec: Int(next.nanoseconds % 1_000_000_000))
                pthread_cond_timedwait(condition, mutex, &ts)
                continue
            }
            guard let item = queue.popFirst() else { continue }
            wakeups &+= 1
            pthread_mutex_unlock(mutex)
            item.work()
            pthread_mutex_lock(mutex)
        }
        pthread_mutex_unlock(mutex)
    }
}

private struct SystemScheduledWork: ScheduledWork {
    let clock: SystemClock
    let id: UInt64
    func cancel() { clock.cancel(id) }
}

private struct CancelledWork: ScheduledWork {
    func cancel() {}
}

/// Starts a joinable POSIX thread running `body`; nil when the system refuses one.
package func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t? {
    final class Body: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }
    let box = Unmanaged.passRetained(Body(body))
    var handle = pthread_t()
    let rc = pthread_create(
        &handle, nil,
        { raw in
            guard let raw else { return nil }
            Unmanaged<Body>.fromOpaque(raw).takeRetainedValue().run()
            return nil
        }, box.toOpaque())
    guard rc == 0 else {
        box.release()
        return nil
    }
    return handle
}
