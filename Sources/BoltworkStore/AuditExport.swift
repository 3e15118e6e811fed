import BoltworkLock
import Foundation

/// Formats audit records for people and other tools: JSON Lines (one object a line) and CSV
/// (RFC 4180). Times are UTC ISO 8601 with milliseconds.
public enum AuditExport {
    /// The CSV header row's columns, in order.
    public static let csvColumns = [
        "sequence", "time", "action", "category", "source", "user_id", "user_name", "detail",
        "previous_hash", "hash",
    ]

    /// One JSON object per record, each on its own line (newline-terminated), keys sorted.
    public static func jsonLines(_ records: [AuditRecord]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var output = ""
        for record in records {
            let line = Line(record)
            guard let data = try? encoder.encode(line) else { continue }
            output += String(decoding: data, as: UTF8.self) + "\n"
        }
        return output
    }

    /// A header row, then one row per record; lines end with CRLF and a field holding a comma,
    /// a double quote, CR or LF is quoted with its quotes doubled (RFC 4180).
    public static func csv(_ records: [AuditRecord]) -> String {
        var output = csvColumns.joined(separator: ",") + "\r\n"
        for record in records {
            let event = record.event
            let fields = [
                String(record.sequence), timestamp(event.time), event.action.rawValue,
                event.action.category.rawValue, event.source?.rawValue ?? "",
                event.userID.map { String($0.rawValue) } ?? "", event.userName ?? "", event.detail,
                record.previousHash, record.hash,
            ]
            output += fields.map(csvField).joined(separator: ",") + "\r\n"
        }
        return output
    }

    /// `value`, quoted when RFC 4180 requires it.
    public static func csvField(_ value: String) -> String {
        let needsQuotes = value.contains {
            $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n"
        }
        guard needsQuotes else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `date` as UTC ISO 8601 with milliseconds (`2027-01-15T08:00:00.000Z`).
    public static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    /// The JSON Lines shape of a record.
    private struct Line: Encodable {
        var sequence: Int64
        var time: String
        var action: String
        var category: String
        var source: String?
        var userID: Int64?
        var userName: String?
        var detail: String
        var previousHash: String
        var hash: String

        init(_ record: AuditRecord) {
            sequence = record.sequence
            time = AuditExport.timestamp(record.event.time)
            action = record.event.action.rawValue
            category = record.event.action.category.rawValue
            source = record.event.source?.rawValue
            userID = record.event.userID?.rawValue
            userName = record.event.userName
            detail = record.event.detail
            previousHash = record.previousHash
            hash = record.hash
        }
    }
}

extension LockStore {
    /// The records matching `query` as JSON Lines (see ``AuditExport/jsonLines(_:)``).
    public func exportJSONLines(_ query: AuditQuery = AuditQuery()) throws(StoreError) -> String {
        AuditExport.jsonLines(try auditRecords(query))
    }

    /// The records matching `query` as CSV with a header row (see ``AuditExport/csv(_:)``).
    public func exportCSV(_ query: AuditQuery = AuditQuery()) throws(StoreError) -> String {
        AuditExport.csv(try auditRecords(query))
    }
}
