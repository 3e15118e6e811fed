import BoltworkControl
import Foundation

/// Human output: aligned tables and key-value blocks, local times.
enum Output {
    /// Columns padded to their widest cell, two spaces apart; the last column is not padded.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        var widths = [Int](repeating: 0, count: header.count)
        for row in all {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1
                    ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// `key  value` lines with the keys aligned; pairs with an empty value are left out.
    static func block(_ pairs: [(String, String)]) -> String {
        let shown = pairs.filter { !$0.1.isEmpty }
        let width = shown.map(\.0.count).max() ?? 0
        return shown.map { key, value in
            key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value
        }.joined(separator: "\n")
    }

    /// An ISO 8601 time from boltd as local `2026-12-01 14:00:05`; the text itself if it is not one.
    static func time(_ text: String?) -> String {
        guard let text else { return "" }
        let parser = ISO8601DateFormatter()
        parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        guard let date = parser.date(from: text) ?? plain.date(from: text) else { return text }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: date)
    }

    /// One audit record as a table row: sequence, time, action, source, user, detail.
    static func recordRow(_ record: JSONValue) -> [String] {
        let fields = record.object ?? [:]
        return [
            "#" + (fields["sequence"]?.int.map(String.init) ?? "?"), time(fields["time"]?.string),
            fields["action"]?.string ?? "", fields["source"]?.string ?? "-",
            fields["userName"]?.string ?? "-",
            fields["detail"]?.string ?? "",
        ]
    }

    /// One audit record as a line with fixed column widths (for a followed log, whose widths
    /// cannot be known in advance).
    static func streamRow(_ record: JSONValue) -> String {
        let widths = [6, 19, 18, 8, 12]
        let cells = recordRow(record)
        return zip(cells, widths + [0]).map { cell, width in
            width == 0 || cell.count >= width
                ? cell : cell.padding(toLength: width, withPad: " ", startingAt: 0)
        }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }

    /// The header of ``recordRow(_:)``.
    static let recordHeader = ["SEQ", "TIME", "ACTION", "SOURCE", "USER", "DETAIL"]

    /// `yes` / `no`.
    static func yesNo(_ value: Bool?) -> String { value == true ? "yes" : "no" }

    /// A number without a needless `.0`.
    static func number(_ value: Double?) -> String {
        guard let raw = value else { return "" }
        let value = (raw * 10).rounded() / 10
        return value.rounded() == value ? String(Int(value)) : String(format: "%.1f", value)
    }
}

extension JSONValue {
    /// A field of an object.
    subscript(_ key: String) -> JSONValue? { object?[key] }
}
