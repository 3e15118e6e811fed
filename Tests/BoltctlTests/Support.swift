import BoltworkBoard
import BoltworkControl
import BoltworkDaemon
import BoltworkHAL
import BoltworkLock
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The repository's root, from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A lock on the simulated board, on virtual time, with an in-memory store and cheap hashing,
/// answering control requests as a peer with this process's uid.
final class HandlerBench {
    let simulator: ScriptedSimulator
    let store = MemoryLockStore()
    let peer = ControlPeer(pid: getpid(), uid: getuid(), gid: getgid())
    let lines = Protected([String]())
    private var nextID = 1

    var lock: RunningLock { simulator.lock }

    init(config: LockConfigFile = LockConfigFile()) throws {
        let board = try BoardFile.load(
            path: repositoryRoot.appendingPathComponent("Boards/simulator.yaml").path)
        let lines = self.lines
        simulator = try ScriptedSimulator(boardFile: board, config: config, store: store) { line in
            lines.withLock { $0.append(line) }
        }
    }

    /// Sends a request that is answered without moving the bolt, on another thread: `lock` and
    /// `unlock` wait for a task, so they must not block the concurrency pool the test runs on.
    func sendOffPool(_ command: String, _ arguments: [String: JSONValue] = [:]) async -> ControlResponse {
        let request = ControlRequest(id: nextID, command: command, arguments: arguments)
        nextID += 1
        let peer = self.peer
        let lock = self.lock
        return await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: ControlHandler.handle(request, peer: peer, lock: lock)) }
                .start()
        }
    }

    /// Sends a request that does not move the bolt (not `lock` or `unlock`: see ``sendOffPool(_:_:)``).
    func send(_ command: String, _ arguments: [String: JSONValue] = [:]) -> ControlResponse {
        defer { nextID += 1 }
        return ControlHandler.handle(
            ControlRequest(id: nextID, command: command, arguments: arguments), peer: peer, lock: lock)
    }

    /// Sends a request that may move the bolt: it is handled on one thread while another
    /// advances virtual time in small steps until the answer comes (for at most a minute of wall
    /// time; nil then). The test itself awaits, leaving the concurrency pool free for the
    /// handler's task.
    func sendMoving(_ command: String, _ arguments: [String: JSONValue] = [:]) async -> ControlResponse? {
        let request = ControlRequest(id: nextID, command: command, arguments: arguments)
        nextID += 1
        let peer = self.peer
        let lock = self.lock
        let clock = simulator.clock
        let waiter = Protected<CheckedContinuation<ControlResponse?, Never>?>(nil)
        @Sendable func finish(_ response: ControlResponse?) {
            waiter.withLock { continuation in
                continuation?.resume(returning: response)
                continuation = nil
            }
        }
        return await withCheckedContinuation { continuation in
            waiter.withLock { $0 = continuation }
            Thread { finish(ControlHandler.handle(request, peer: peer, lock: lock)) }.start()
            Thread {
                let deadline = Date().addingTimeInterval(60)
                while waiter.withLock({ $0 != nil }) {
                    guard Date() < deadline else { return finish(nil) }
                    clock.advance(by: .milliseconds(5))
                    sched_yield()
                }
            }.start()
        }
    }

    /// The result of a request that must succeed.
    func result(_ command: String, _ arguments: [String: JSONValue] = [:]) throws -> JSONValue {
        let response = send(command, arguments)
        guard response.ok, let result = response.result else {
            throw BenchFailure(
                description: "\(command) failed: \(response.error?.description ?? "no result")")
        }
        return result
    }

    /// The audit records so far.
    func records() throws -> [AuditRecord] { try store.auditRecords(AuditQuery()) }

    /// Sets the first admin code (as `boltd init` does).
    func initializeAdmin(_ code: String = "246810") throws {
        try lock.controller.access.initializeAdmin(name: "admin", pin: code)
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
}

extension JSONValue {
    subscript(_ key: String) -> JSONValue? { object?[key] }
}
