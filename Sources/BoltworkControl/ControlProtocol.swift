import Foundation

// The control protocol between `boltd` and its clients (`boltctl`, integrations), over the
// daemon's Unix socket (default /run/boltwork/control.sock, mode 0660, group `boltwork`; the
// daemon reads each client's uid with SO_PEERCRED and records admin changes under that account's
// name). Protocol version 2 (`ControlProtocol.version`); version 1 had status, lock, unlock,
// mode, log (newest records only) and verify, and no event lines.
//
// Framing: one JSON object per line (UTF-8, '\n'-terminated, at most 1 MiB), in both directions.
// A client sends requests; the daemon answers each with exactly one response carrying the
// request's id, in order. Requests:
//
//     {"id": 1, "command": "status"}
//     {"id": 2, "command": "unlock", "arguments": {"code": "..."}}
//
// Responses:
//
//     {"id": 1, "ok": true, "result": {"bolt": "locked", ...}}
//     {"id": 2, "ok": false, "error": {"code": "locked-out", "message": "..."}}
//
// A subscription (`log` with `"follow": true`) keeps the connection open after its response; the
// daemon then pushes event lines carrying the subscription's request id until the client closes
// the connection or the daemon stops:
//
//     {"id": 3, "event": "audit", "data": {"sequence": 42, "action": "unlocked", ...}}
//
// Commands, their arguments (→ result fields). A user argument is a name or an id (`7`, `#7`).
//
//     hello                               → protocol, daemon, commands
//     status                              → bolt, door, mode, hasAdminCode, wrongCodes,
//                                           keypadDisabled, lockedOutUntil, battery {percent,
//                                           millivolts}, batteryLevel, gaugeFault, recent [record]
//     lock                                → bolt
//     unlock       code?                  → bolt (without a code, the socket's permission suffices)
//     mode         mode?                  → mode (sets it when given: normal, vacation, privacy,
//                                           passage)
//     users.list                          → users [user]
//     users.show   user                   → user
//     users.add    name, role?, kind?, expiresAfter? (span, for kind expiring), schedules? [text],
//                  code?                  → user
//     users.enable | users.disable | users.remove   user   → user (remove: removed)
//     code.set     user, code             → user      code.clear  user  → user
//     schedule.add user, schedules [text] → user      schedule.clear  user  → user
//     lockout.status                      → wrongCodes, lockoutCount, lockedOut, lockedOutUntil,
//                                           retryAfterSeconds, keypadDisabled, threshold,
//                                           keypadDisableThreshold
//     lockout.reset                       → the same, after the reset
//     log          since?, until?, user?, kinds? [category or action], limit? (20; 0: all),
//                  follow?                → records [record], following; with follow, then events
//     export       format (jsonl | csv), afterSequence?, limit? (at most 1000 a page), and log's
//                  filters                → format, text, records, lastSequence, more (ask again
//                                           with afterSequence = lastSequence while more)
//     verify                              → intact, records, sequence?, reason?
//     battery                             → present, percent, millivolts, level, gaugeFault,
//                                           thresholds {low, critical, reserve, reserveMillivolts}
//
// A user is {id, name, role, kind, expiresAfterMinutes?, expiresAt?, enabled, hasCode,
// schedules [{text, type: weekly, days, startMinute, endMinute | type: dates, from, until}],
// createdAt, firstUsedAt?, lastUsedAt?, useCount, lastTestedAt?}.
// A record is {sequence, time, action, category, source?, userID?, userName?, detail, text}.
// Times are ISO 8601. `since`/`until` take an ISO 8601 date or time (in the lock's time zone
// when it has none) or a span back from now (`90s`, `30m`, `24h`, `7d`). Schedule texts:
// `mon-fri 08:00-17:00`, `sat,sun 10:00-14:00`, `daily 22:00-06:00`, `2026-12-01..2026-12-24`
// (whole days, in the lock's time zone), `2026-12-01T14:00..2026-12-03T11:00`.
//
// Error codes: unknown-command, bad-arguments, bad-request, unknown-user, ambiguous-user,
// duplicate-user, not-permitted, duplicate-code, invalid-code-format, invalid-setting,
// already-initialized, store-unavailable,
// internal, move-failed, and the lock's refusals (invalid-code, locked-out, refused-by-mode,
// door-open, insufficient-battery, user-disabled, outside-schedule, no-admin-code).
//
// Codes (PINs) travel only in a request's arguments, only for the commands that set or check
// one, and are never echoed in a response or written to a log.

/// A JSON value, for command arguments and results.
public enum JSONValue: Codable, Sendable, Hashable, CustomStringConvertible {
    /// `null`.
    case null
    /// `true` / `false`.
    case bool(Bool)
    /// A number.
    case number(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object.
    case object([String: JSONValue])

    /// Decodes any JSON value.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Encodes the value.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// The string, if this is one.
    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The number, if this is one.
    public var number: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// The Boolean, if this is one.
    public var bool: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The fields, if this is an object.
    public var object: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// Compact JSON text.
    public var description: String {
        guard let data = try? ControlCoding.encoder.encode(self) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A request from a client.
public struct ControlRequest: Codable, Sendable, Hashable {
    /// Chosen by the client; echoed in the response.
    public var id: Int
    /// The command (`status`, `lock`, `unlock`, `users.list`, ...).
    public var command: String
    /// The command's arguments.
    public var arguments: [String: JSONValue]

    /// Creates a request.
    public init(id: Int, command: String, arguments: [String: JSONValue] = [:]) {
        self.id = id
        self.command = command
        self.arguments = arguments
    }

    private enum CodingKeys: String, CodingKey {
        case id, command, arguments
    }

    /// Decodes a request; `arguments` may be missing.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(Int.self, forKey: .id)
        command = try container.decode(String.self, forKey: .command)
        arguments = try container.decodeIfPresent([String: JSONValue].self, forKey: .arguments) ?? [:]
    }
}

/// Why a request failed, for scripts (`code`) and people (`message`).
public struct ControlFailure: Codable, Sendable, Hashable, Error, CustomStringConvertible {
    /// A stable, hyphenated code (`unknown-command`, `bad-arguments`, `permission-denied`,
    /// `locked-out`, `jammed`, ...).
    public var code: String
    /// A sentence for a person at a terminal.
    public var message: String

    /// Creates a failure.
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

/// The daemon's answer to one request.
public struct ControlResponse: Codable, Sendable, Hashable {
    /// The request's id.
    public var id: Int
    /// Whether it succeeded.
    public var ok: Bool
    /// The result, when it succeeded.
    public var result: JSONValue?
    /// The failure, when it did not.
    public var error: ControlFailure?

    /// A success.
    public static func success(_ id: Int, _ result: JSONValue = .object([:])) -> ControlResponse {
        ControlResponse(id: id, ok: true, result: result, error: nil)
    }

    /// A failure.
    public static func failure(_ id: Int, _ failure: ControlFailure) -> ControlResponse {
        ControlResponse(id: id, ok: false, result: nil, error: failure)
    }
}

/// Who is on the other end of a control connection (from `SO_PEERCRED`).
public struct ControlPeer: Sendable, Hashable {
    /// Process id.
    public var pid: Int32
    /// User id.
    public var uid: UInt32
    /// Group id.
    public var gid: UInt32

    /// Creates a peer.
    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}

/// The JSON coders both ends use.
public enum ControlCoding {
    /// Compact JSON with sorted keys, ISO 8601 dates.
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    /// ISO 8601 dates.
    public static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    /// One line of JSON for `value`, with its newline.
    public static func line(_ value: some Encodable) throws -> Data {
        var data = try encoder.encode(value)
        data.append(0x0A)
        return data
    }
}

/// Protocol constants shared by the daemon and its clients.
public enum ControlProtocol {
    /// The protocol version this build speaks (see the file's documentation for the changes).
    public static let version = 2
    /// The daemon's default socket path.
    public static let defaultSocketPath = "/run/boltwork/control.sock"
    /// The environment variable clients read for another socket path.
    public static let socketEnvironmentVariable = "BOLTWORK_SOCKET"
    /// The group the packaged socket belongs to.
    public static let defaultGroup = "boltwork"
}

/// A line the daemon pushes on a subscription after the subscription's response.
public struct ControlEvent: Codable, Sendable, Hashable {
    /// The subscribing request's id.
    public var id: Int
    /// What kind of event (`audit`).
    public var event: String
    /// The event's fields.
    public var data: JSONValue

    /// Creates an event.
    public init(id: Int, event: String, data: JSONValue) {
        self.id = id
        self.event = event
        self.data = data
    }
}

extension JSONValue {
    /// The number as an integer, if this is a whole number.
    public var int: Int? {
        guard case .number(let value) = self, value.rounded() == value, abs(value) < 9e15 else { return nil }
        return Int(value)
    }

    /// A number from an integer.
    public static func integer(_ value: some BinaryInteger) -> JSONValue { .number(Double(value)) }

    /// The elements, if this is an array.
    public var array: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }
}
