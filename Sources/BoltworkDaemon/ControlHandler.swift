import BoltworkControl
import BoltworkLock
import Dispatch
import Foundation

/// Answers control requests against a running lock. Commands so far:
///
/// - `status`: `{bolt, door, battery, batteryLevel, mode, lockout, hasAdminCode}`
/// - `lock`, `unlock` (optional `code`): the result once the bolt is confirmed or refused
/// - `mode` (`mode`: normal, vacation, privacy, passage)
/// - `log` (optional `limit`): the newest audit records
/// - `verify`: the audit chain check
public enum ControlHandler {
    /// Handles one request (on the connection's thread; lock requests wait for the bolt).
    public static func handle(_ request: ControlRequest, peer: ControlPeer, lock: RunningLock)
        -> ControlResponse
    {
        let controller = lock.controller
        switch request.command {
        case "status":
            return .success(request.id, encode(controller.status()))
        case "lock", "unlock":
            let code = request.arguments["code"]?.string
            let outcome = wait {
                request.command == "lock"
                    ? await controller.lock(source: .remote)
                    : await controller.unlock(source: .remote, code: code)
            }
            guard let result = outcome else {
                return .failure(
                    request.id, ControlFailure(code: "internal", message: "the request did not complete"))
            }
            switch result {
            case .done(let state): return .success(request.id, .object(["bolt": .string("\(state)")]))
            case .refused(let reason, let detail):
                return .failure(request.id, ControlFailure(code: reason.rawValue, message: detail))
            case .failed(let state, let detail):
                return .failure(
                    request.id, ControlFailure(code: "move-failed", message: "\(detail) (bolt \(state))"))
            }
        case "mode":
            guard let text = request.arguments["mode"]?.string, let mode = OperatingMode(rawValue: text)
            else {
                return .failure(
                    request.id,
                    ControlFailure(
                        code: "bad-arguments", message: "give mode: normal, vacation, privacy or passage"))
            }
            do {
                try controller.setMode(mode, by: .installer)
                return .success(request.id, .object(["mode": .string(mode.rawValue)]))
            } catch {
                return .failure(request.id, ControlFailure(code: "refused", message: "\(error)"))
            }
        case "log":
            let limit = request.arguments["limit"]?.number.map { Int($0) } ?? 20
            let records = (try? lock.store.auditRecords(AuditQuery(limit: limit))) ?? []
            return .success(
                request.id,
                .array(
                    records.map { record in
                        .object([
                            "sequence": .number(Double(record.sequence)),
                            "time": .string(ISO8601DateFormatter().string(from: record.event.time)),
                            "action": .string(record.event.action.rawValue),
                            "text": .string(describe(record.event)),
                        ])
                    }))
        case "verify":
            switch try? lock.store.verifyAudit() {
            case .intact(let count)?:
                return .success(
                    request.id, .object(["intact": .bool(true), "records": .number(Double(count))]))
            case .broken(let sequence, let reason)?:
                return .success(
                    request.id,
                    .object([
                        "intact": .bool(false), "sequence": .number(Double(sequence)),
                        "reason": .string(reason),
                    ]))
            case nil:
                return .failure(
                    request.id,
                    ControlFailure(code: "store-unavailable", message: "the audit log cannot be read"))
            }
        case "doctor": return doctor(request, lock: lock)
        default:
            return .failure(
                request.id,
                ControlFailure(code: "unknown-command", message: "unknown command '\(request.command)'"))
        }
    }

    static func encode(_ status: LockStatus) -> JSONValue {
        var fields: [String: JSONValue] = [
            "bolt": .string("\(status.bolt)"),
            "mode": .string(status.mode.rawValue),
            "hasAdminCode": .bool(status.hasAdminCode),
            "wrongCodes": .number(Double(status.lockout.consecutiveFailures)),
            "keypadDisabled": .bool(status.lockout.keypadDisabled),
        ]
        if let door = status.door { fields["door"] = .string(door == .closed ? "closed" : "open") }
        if let battery = status.battery {
            fields["battery"] = .object([
                "percent": .number(battery.percent), "millivolts": .number(Double(battery.millivolts)),
            ])
        }
        if let level = status.batteryLevel { fields["batteryLevel"] = .string(level.rawValue) }
        if let fault = status.gaugeFault { fields["gaugeFault"] = .string(fault) }
        if let until = status.lockout.lockedUntil {
            fields["lockedOutUntil"] = .string(ISO8601DateFormatter().string(from: until))
        }
        return .object(fields)
    }

    /// Runs async work from a connection thread and waits for it.
    static func wait<T: Sendable>(_ work: @escaping @Sendable () async -> T) -> T? {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            box.set(await work())
            done.signal()
        }
        done.wait()
        return box.value
    }
}

private final class ResultBox<T: Sendable>: @unchecked Sendable {
    // Safety: written once before the semaphore is signalled, read after it is waited on.
    private(set) var value: T?
    func set(_ value: T) { self.value = value }
}
