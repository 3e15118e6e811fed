import BoltworkHAL

/// A mismatch between what a scripted mock expected and what happened.
public struct ScriptMismatch: Error, Sendable, CustomStringConvertible {
    /// One line per problem.
    public var problems: [String]
    /// The problems, one per line.
    public var description: String { problems.joined(separator: "\n") }
}

/// An I2C bus that expects an exact sequence of transfers, for byte-exact driver tests
/// (embedded-hal-mock's shape): each expectation names the address and transfer and carries the
/// bytes to return or the error to throw. ``verify()`` checks that nothing unexpected happened
/// and nothing expected is left.
public final class ScriptedI2CBus: I2CBus, Sendable {
    /// One expected transfer.
    public struct Expectation: Sendable {
        /// The device address.
        public var address: I2CAddress
        /// The transfer.
        public var operation: I2COperation
        /// What it returns or throws.
        public var result: Result<[UInt8], I2CError>

        /// Expects `operation` at `address`, answering with `response`.
        public static func transfer(
            _ operation: I2COperation, at address: I2CAddress, returning response: [UInt8] = []
        )
            -> Expectation
        {
            Expectation(address: address, operation: operation, result: .success(response))
        }

        /// Expects `operation` at `address`, failing with `kind`.
        public static func transfer(
            _ operation: I2COperation, at address: I2CAddress, failingWith kind: I2CError.Kind
        )
            -> Expectation
        {
            Expectation(
                address: address, operation: operation,
                result: .failure(
                    I2CError(kind, address: address, operation: operation, detail: "scripted failure")))
        }
    }

    /// The bus's name.
    public let name: String
    private let adapterCapabilities: I2CCapabilities
    private let state: Protected<(queue: [Expectation], problems: [String])>

    /// A bus expecting `expectations` in order.
    public init(
        name: String = "scripted-i2c", capabilities: I2CCapabilities = .all, _ expectations: [Expectation]
    ) {
        self.name = name
        self.adapterCapabilities = capabilities
        self.state = Protected((expectations, []))
    }

    /// Appends more expectations.
    public func expect(_ expectations: [Expectation]) {
        state.withLock { $0.queue.append(contentsOf: expectations) }
    }

    /// The capabilities given at creation.
    public func capabilities() throws(I2CError) -> I2CCapabilities { adapterCapabilities }

    /// Checks the transfer against the next expectation and answers with its result.
    public func perform(_ operation: I2COperation, at address: I2CAddress) throws(I2CError) -> [UInt8] {
        let result = state.withLock { state -> Result<[UInt8], I2CError> in
            guard !state.queue.isEmpty else {
                state.problems.append("unexpected \(operation) at \(address): nothing more was expected")
                return .failure(
                    I2CError(
                        .other, bus: name, address: address, operation: operation,
                        detail: "unexpected transfer"))
            }
            let next = state.queue.removeFirst()
            guard next.address == address, next.operation == operation else {
                state.problems.append(
                    "expected \(next.operation) at \(next.address), got \(operation) at \(address)")
                return .failure(
                    I2CError(
                        .other, bus: name, address: address, operation: operation,
                        detail: "unexpected transfer"))
            }
            return next.result
        }
        return try result.get()
    }

    /// Throws when a transfer did not match or expectations are left.
    public func verify() throws(ScriptMismatch) {
        let problems = state.withLock { state in
            state.problems
                + state.queue.map { "expected \($0.operation) at \($0.address), but it never happened" }
        }
        if !problems.isEmpty { throw ScriptMismatch(problems: problems) }
    }
}

/// A line request that expects an exact sequence of pin operations, for driver tests that pin
/// down truth tables and safe-state sequences.
public final class ScriptedLineRequest: GPIOLineRequest, Sendable {
    /// One expected operation.
    public enum Operation: Sendable, Hashable, CustomStringConvertible {
        /// `values()`, answered with these values.
        case read([LineValue])
        /// `setValues(_:at:)` with these values at these indices.
        case write([LineValue], at: [Int])
        /// `reconfigure(_:)` with these settings.
        case reconfigure([LineSettings])
        /// `release()`.
        case release

        /// A readable form.
        public var description: String {
            switch self {
            case .read(let values): "read -> \(values)"
            case .write(let values, let indices): "write \(values) at \(indices)"
            case .reconfigure(let settings): "reconfigure \(settings)"
            case .release: "release"
            }
        }
    }

    /// The chip the lines pretend to belong to.
    public let chip: GPIOChipInfo
    /// The lines' offsets.
    public let offsets: [UInt32]
    private let state: Protected<State>

    private struct State {
        var queue: [(Operation, GPIOError?)]
        var problems: [String] = []
        var handler: (@Sendable (EdgeEvent) -> Void)?
        var released = false
    }

    /// A request of `offsets` expecting `operations` in order; an operation paired with an
    /// error throws it.
    public init(
        offsets: [UInt32],
        chip: GPIOChipInfo = GPIOChipInfo(
            path: "/dev/gpiochip0", name: "gpiochip0", label: "scripted", lineCount: 64),
        _ operations: [(Operation, GPIOError?)]
    ) {
        self.offsets = offsets
        self.chip = chip
        self.state = Protected(State(queue: operations))
    }

    /// Appends expectations.
    public func expect(_ operation: Operation, throwing error: GPIOError? = nil) {
        state.withLock { $0.queue.append((operation, error)) }
    }

    private func next(_ actual: Operation, matches: (Operation) -> Bool) throws(GPIOError) -> Operation {
        let result = state.withLock { state -> Result<Operation, GPIOError> in
            guard !state.queue.isEmpty else {
                state.problems.append("unexpected \(actual): nothing more was expected")
                return .failure(GPIOError(.io, chip: chip.path, detail: "unexpected \(actual)"))
            }
            let (expected, error) = state.queue.removeFirst()
            guard matches(expected) else {
                state.problems.append("expected \(expected), got \(actual)")
                return .failure(GPIOError(.io, chip: chip.path, detail: "unexpected \(actual)"))
            }
            if let error { return .failure(error) }
            return .success(expected)
        }
        return try result.get()
    }

    /// Answers with the next expected `.read`.
    public func values() throws(GPIOError) -> [LineValue] {
        let expected = try next(.read([])) { if case .read = $0 { true } else { false } }
        if case .read(let values) = expected { return values }
        return []
    }

    /// Checks against the next expected `.write`.
    public func setValues(_ values: [LineValue], at indices: [Int]) throws(GPIOError) {
        _ = try next(.write(values, at: indices)) { $0 == .write(values, at: indices) }
    }

    /// Checks against the next expected `.reconfigure`.
    public func reconfigure(_ settings: [LineSettings]) throws(GPIOError) {
        _ = try next(.reconfigure(settings)) { $0 == .reconfigure(settings) }
    }

    /// Stores the handler; ``emit(_:)`` calls it.
    public func setEdgeHandler(_ handler: (@Sendable (EdgeEvent) -> Void)?) {
        state.withLock { $0.handler = handler }
    }

    /// Checks against the next expected `.release` (a second release is ignored).
    public func release() {
        let first = state.withLock { state -> Bool in
            defer { state.released = true }
            return !state.released
        }
        if first { _ = try? next(.release) { $0 == .release } }
    }

    /// Delivers an edge event to the installed handler, as the backend would.
    public func emit(_ event: EdgeEvent) {
        state.withLock { $0.handler }?(event)
    }

    /// Throws when an operation did not match or expectations are left.
    public func verify() throws(ScriptMismatch) {
        let problems = state.withLock { state in
            state.problems + state.queue.map { "expected \($0.0), but it never happened" }
        }
        if !problems.isEmpty { throw ScriptMismatch(problems: problems) }
    }
}
