import Synchronization

/// A value guarded by a mutex, shareable between threads. Used inside the package for the
/// small pieces of state that hardware callbacks and callers both touch.
package final class Protected<Value>: Sendable {
    private let mutex: Mutex<Value>

    /// Wraps `value`.
    package init(_ value: sending Value) {
        mutex = Mutex(value)
    }

    /// Runs `body` with exclusive access to the value.
    package func withLock<Result>(_ body: (inout sending Value) throws -> sending Result) rethrows
        -> sending Result
    {
        try mutex.withLock(body)
    }
}
