import BoltworkControl
import BoltworkHAL
import BoltworkLock
import Dispatch
import Foundation

/// Answers control requests against a running lock (the commands and their fields are
/// documented in BoltworkControl's ControlProtocol.swift). Each area lives in its own file:
/// status, moves, mode, lockout and battery in ControlHandler+Lock.swift; users, codes and
/// schedules in ControlHandler+Users.swift; the log, export and verify in ControlHandler+Log.swift.
///
/// Whoever the socket admits may administer the lock (its mode and group are the access
/// control); admin changes are recorded in the audit log under the peer's account name and uid
/// (``AdminActor/account(name:uid:)``). Codes arrive only in `code` arguments and are never
/// logged or echoed.
public enum ControlHandler {
    /// The commands this daemon answers, for `hello`.
    public static let commands = [
        "hello", "status", "lock", "unlock", "mode", "users.list", "users.show", "users.add", "users.enable",
        "users.disable", "users.remove", "code.set", "code.clear", "schedule.add", "schedule.clear",
        "lockout.status", "lockout.reset", "log", "export", "verify", "battery", "doctor",
    ]

    /// Handles one request (on the connection's thread; lock requests wait for the bolt). With a
    /// `session`, `log` can follow the log (event lines pushed on the session).
    public static func handle(
        _ request: ControlRequest, peer: ControlPeer, lock: RunningLock, session: ControlSession? = nil
    ) -> ControlResponse {
        let context = ControlContext(request: request, peer: peer, lock: lock, session: session)
        do throws(ControlFailure) {
            let result: JSONValue
            switch request.command {
            case "hello": result = hello()
            case "status": result = try status(context)
            case "lock", "unlock": result = try move(context)
            case "mode": result = try mode(context)
            case "users.list": result = try listUsers(context)
            case "users.show": result = try showUser(context)
            case "users.add": result = try addUser(context)
            case "users.enable", "users.disable": result = try enableUser(context)
            case "users.remove": result = try removeUser(context)
            case "code.set", "code.clear": result = try setCode(context)
            case "schedule.add", "schedule.clear": result = try changeSchedule(context)
            case "lockout.status": result = try lockoutStatus(context)
            case "lockout.reset": result = try resetLockout(context)
            case "log": result = try log(context)
            case "export": result = try export(context)
            case "verify": result = try verify(context)
            case "battery": result = battery(context)
            case "doctor": result = try doctor(context)
            default:
                throw ControlFailure(
                    code: "unknown-command",
                    message:
                        "unknown command '\(request.command)' (this boltd speaks protocol \(ControlProtocol.version))"
                )
            }
            return .success(request.id, result)
        } catch {
            return .failure(request.id, error)
        }
    }

    /// The control server for `lock` at `path`: every connection's requests go to
    /// ``handle(_:peer:lock:session:)`` with its session.
    public static func server(path: String, group: String?, lock: RunningLock) throws(ControlSocketError)
        -> ControlServer
    {
        try ControlServer.withSessions(path: path, group: group) { request, session in
            handle(request, peer: session.peer, lock: lock, session: session)
        }
    }

    static func hello() -> JSONValue {
        .object([
            "protocol": .integer(ControlProtocol.version), "daemon": .string("boltd"),
            "commands": .array(commands.map { .string($0) }),
        ])
    }

    /// Maps an access-layer error to a failure with a stable code.
    static func failure(_ error: AccessError) -> ControlFailure {
        let code: String
        switch error.kind {
        case .invalidPIN: code = "invalid-code-format"
        case .duplicatePIN: code = "duplicate-code"
        case .unknownUser: code = "unknown-user"
        case .notPermitted: code = "not-permitted"
        case .alreadyInitialized: code = "already-initialized"
        case .invalidSetting: code = "invalid-setting"
        case .hashingFailed: code = "internal"
        case .store: code = "store-unavailable"
        }
        return ControlFailure(code: code, message: error.detail)
    }

    /// Runs an access-layer call, mapping its error.
    static func access<T>(_ body: () throws(AccessError) -> T) throws(ControlFailure) -> T {
        do { return try body() } catch { throw failure(error) }
    }

    /// Runs a store call, mapping its error.
    static func store<T>(_ body: () throws(StoreError) -> T) throws(ControlFailure) -> T {
        do {
            return try body()
        } catch {
            throw ControlFailure(code: "store-unavailable", message: "the lock's store failed: \(error)")
        }
    }

    /// Starts a lock request with `start` and waits on the connection's thread for its result
    /// (nil if none came within `limit`). The controller's callback API keeps Swift concurrency,
    /// and the worker pool it would start, out of the daemon: a blocked connection thread is an
    /// ordinary thread, not one of the pool's.
    static func wait(
        limit: Duration = .seconds(600),
        _ start: (@escaping @Sendable (LockResult) -> Void) -> Void
    ) -> LockResult? {
        let box = Protected<LockResult?>(nil)
        let done = DispatchSemaphore(value: 0)
        start { result in
            box.withLock { $0 = result }
            done.signal()
        }
        guard done.wait(timeout: .now() + .seconds(Int(limit.components.seconds))) == .success else {
            return nil
        }
        return box.withLock { $0 }
    }
}

/// One request with what its handler needs: the arguments, who sent it, the lock and the
/// connection.
public struct ControlContext: Sendable {
    /// The request.
    public var request: ControlRequest
    /// Who sent it.
    public var peer: ControlPeer
    /// The lock.
    public var lock: RunningLock
    /// The connection, for subscriptions.
    public var session: ControlSession?

    /// The peer as the access layer's actor: its account, by name and uid.
    public var actor: AdminActor { .account(name: peer.accountName, uid: peer.uid) }

    /// The lock's time zone for schedules and dates.
    public var timeZone: TimeZone { lock.controller.access.configuration.timeZone }

    /// A string argument, or nil when absent.
    public func optionalString(_ key: String) throws(ControlFailure) -> String? {
        guard let value = request.arguments[key], value != .null else { return nil }
        guard let text = value.string else { throw Self.bad("'\(key)' must be a string") }
        return text
    }

    /// A required string argument.
    public func string(_ key: String) throws(ControlFailure) -> String {
        guard let text = try optionalString(key), !text.isEmpty else { throw Self.bad("give '\(key)'") }
        return text
    }

    /// An integer argument, or nil when absent.
    public func optionalInt(_ key: String) throws(ControlFailure) -> Int? {
        guard let value = request.arguments[key], value != .null else { return nil }
        guard let number = value.int else { throw Self.bad("'\(key)' must be a whole number") }
        return number
    }

    /// A Boolean argument (false when absent).
    public func flag(_ key: String) throws(ControlFailure) -> Bool {
        guard let value = request.arguments[key], value != .null else { return false }
        guard let flag = value.bool else { throw Self.bad("'\(key)' must be true or false") }
        return flag
    }

    /// A list of strings (a single string counts as a list of one), empty when absent.
    public func strings(_ key: String) throws(ControlFailure) -> [String] {
        guard let value = request.arguments[key], value != .null else { return [] }
        if let text = value.string { return [text] }
        guard let items = value.array else { throw Self.bad("'\(key)' must be a list of strings") }
        var texts: [String] = []
        for item in items {
            guard let text = item.string else { throw Self.bad("'\(key)' must be a list of strings") }
            texts.append(text)
        }
        return texts
    }

    /// A `bad-arguments` failure.
    public static func bad(_ message: String) -> ControlFailure {
        ControlFailure(code: "bad-arguments", message: message)
    }
}
