import BoltworkDoctor
import BoltworkHAL
import Dispatch

/// Keeps the answer to "is the wall clock synchronised?" up to date for the access layer, which
/// refuses codes limited in time (schedules, date ranges, expiring codes) while the clock may be
/// wrong: a board without a battery-backed clock boots with a stale time until its time service
/// catches up.
///
/// The probe (``ClockProbe``) can take seconds when it falls back to `timedatectl`, so it runs on
/// a thread of its own, at start and then once per `interval`, never on the lock's clock. Until
/// the first answer, and while no source can tell, the clock is trusted: refusing every
/// scheduled code because the probe itself failed would lock people out for no reason
/// (`boltctl doctor` reports an unknown state instead).
public final class ClockSyncWatch: Sendable {
    private struct State {
        var synchronized = true
        var last: ClockSynchronization?
        var stopped = false
    }

    private let state = Protected(State())
    private let wake = DispatchSemaphore(value: 0)

    /// Starts watching with `probe`; `onChange` hears each new answer (for the log).
    public init(
        probe: ClockProbe = .linux, interval: Duration = .seconds(60),
        onChange: @escaping @Sendable (ClockSynchronization) -> Void = { _ in }
    ) {
        let state = state
        let wake = wake
        let seconds = Double(interval.components.seconds)
        _ = startThread {
            while true {
                let answer = probe.check()
                let changed = state.withLock { state -> Bool in
                    defer { state.last = answer }
                    if case .unsynchronized = answer {
                        state.synchronized = false
                    } else {
                        state.synchronized = true
                    }
                    return state.last != answer
                }
                if changed { onChange(answer) }
                _ = wake.wait(timeout: .now() + seconds)
                if state.withLock({ $0.stopped }) { return }
            }
        }
    }

    /// False only while a source says the clock is not synchronised.
    public var isSynchronized: Bool { state.withLock { $0.synchronized } }

    /// Stops the watching thread.
    public func stop() {
        state.withLock { $0.stopped = true }
        wake.signal()
    }
}
