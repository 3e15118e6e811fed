/// Debounces the edge events of one requested line the way the Linux GPIO character device
/// does: every raw edge restarts a timer of `period`; when the timer expires, the line's
/// current value is read and, if it differs from the last reported value, one event is
/// reported, time-stamped when the value was accepted.
///
/// Backends use it where the kernel cannot debounce (libgpiod 1.6) and in simulation. All of
/// its callbacks run on the given clock.
package final class EdgeDebouncer: Sendable {
    private struct State {
        var stable: LineValue
        var timer: (any ScheduledWork)?
        var sequence: UInt64 = 0
    }

    private let clock: any BoltClock
    private let period: Duration
    private let edges: EdgeDetection
    private let read: @Sendable () -> LineValue?
    private let state: Protected<State>

    /// Creates a debouncer starting from the line's current value `initial`; `read` returns the
    /// line's value when the timer expires (`nil` when it cannot be read, which drops the edge).
    package init(
        clock: any BoltClock, period: Duration, edges: EdgeDetection, initial: LineValue,
        read: @escaping @Sendable () -> LineValue?
    ) {
        self.clock = clock
        self.period = period
        self.edges = edges
        self.read = read
        self.state = Protected(State(stable: initial))
    }

    /// Notes a raw edge (or any change) at the current time. `report` receives the debounced
    /// event: kind, timestamp and sequence number.
    package func rawEdge(report: @escaping @Sendable (EdgeEvent.Kind, MonotonicInstant, UInt64) -> Void) {
        let previous = state.withLock { state -> (any ScheduledWork)? in
            defer { state.timer = nil }
            return state.timer
        }
        previous?.cancel()
        let timer = clock.schedule(after: period) { [self] in
            guard let value = read() else { return }
            let event = state.withLock { state -> (EdgeEvent.Kind, UInt64)? in
                state.timer = nil
                guard value != state.stable else { return nil }
                state.stable = value
                guard edges.reports(transitionTo: value) else { return nil }
                state.sequence += 1
                return (value == .active ? .rising : .falling, state.sequence)
            }
            if let event { report(event.0, clock.now, event.1) }
        }
        state.withLock { $0.timer = timer }
    }

    /// Cancels a pending timer (on release).
    package func cancel() {
        state.withLock { state -> (any ScheduledWork)? in
            defer { state.timer = nil }
            return state.timer
        }?.cancel()
    }
}
