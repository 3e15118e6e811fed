import Foundation

// The control protocol between `boltd` and its clients (`boltctl`, integrations), over the
// daemon's Unix socket (default /run/boltwork/control.sock, mode 0660, group `boltwork`).
//
// Framing: one JSON object per line (UTF-8, '\n'-terminated), in both directions. A client
// sends requests; the daemon answers each with exactly one response carrying the request's id,
// in order. Requests:
//
//     {"id": 1, "command": "status"}
//     {"id": 2, "command": "unlock", "arguments": {"reason": "delivery"}}
//
// Responses:
//
//     {"id": 1, "ok": true, "result": {"state": "locked", ...}}
//     {"id": 2, "ok": false, "error": {"code": "locked-out", "message": "..."}}
//
// Arguments and results are JSON objects whose fields each command documents. Codes (PINs)
// travel only in a request's arguments, only for the commands that set or check one, and are
// never echoed in a response or written to a log.

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
