import Foundation

/// The doctor's answer: the findings, most severe first, with the software version and the
/// time of the examination. The daemon sends it as the `doctor` command's result;
/// `boltctl doctor` prints it with ``render(width:)`` or as JSON.
public struct DoctorReport: Codable, Sendable, Hashable {
    /// The running software's version.
    public var version: String
    /// When the lock was examined (the lock's wall clock).
    public var checkedAt: Date
    /// The findings, most severe first.
    public var findings: [Finding]

    /// Creates a report; the findings are put in severity order (stable within a severity).
    public init(version: String, checkedAt: Date, findings: [Finding]) {
        self.version = version
        self.checkedAt = checkedAt
        self.findings = findings.enumerated().sorted { lhs, rhs in
            lhs.element.severity == rhs.element.severity
                ? lhs.offset < rhs.offset : lhs.element.severity < rhs.element.severity
        }.map(\.element)
    }

    /// The findings of one severity.
    public func findings(_ severity: Severity) -> [Finding] { findings.filter { $0.severity == severity } }

    /// Whether anything needs fixing: a critical or warning finding.
    public var needsAttention: Bool { findings.contains { $0.severity != .info } }

    /// The exit status `boltctl doctor` uses: 0 when there is no critical or warning finding
    /// (notes alone are fine), 1 otherwise.
    public var exitCode: Int32 { needsAttention ? 1 : 0 }

    // MARK: Text

    /// The report for a terminal: a summary line, then the findings grouped by severity, each
    /// with its detail and fix, wrapped at `width` columns.
    public func render(width: Int = 100) -> String {
        var lines: [String] = []
        let counts = Severity.allCases.map { severity in (severity, findings(severity).count) }
        let summary = counts.filter { $0.1 > 0 }.map { severity, count in
            switch severity {
            case .critical: "\(count) critical"
            case .warning: "\(count) warning\(count == 1 ? "" : "s")"
            case .info: "\(count) note\(count == 1 ? "" : "s")"
            }
        }
        lines.append(
            "Boltwork \(version) doctor: "
                + (summary.isEmpty ? "no problems found" : summary.joined(separator: ", ")))
        for (severity, count) in counts where count > 0 {
            lines.append("")
            lines.append(Self.heading(severity))
            for finding in findings(severity) {
                lines.append("  \(finding.title) [\(finding.id)]")
                lines += Self.wrap(finding.detail, indent: "      ", width: width)
                lines += Self.wrap("Fix: " + finding.fix, indent: "      ", width: width)
            }
        }
        if !needsAttention {
            lines.append("")
            lines.append("Nothing needs fixing.")
        }
        return lines.joined(separator: "\n")
    }

    private static func heading(_ severity: Severity) -> String {
        switch severity {
        case .critical: "CRITICAL"
        case .warning: "WARNINGS"
        case .info: "NOTES"
        }
    }

    /// Wraps `text` at word boundaries; explicit newlines start new lines.
    static func wrap(_ text: String, indent: String, width: Int) -> [String] {
        var lines: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = indent
            for word in paragraph.split(separator: " ") {
                if line.count > indent.count, line.count + 1 + word.count > width {
                    lines.append(line)
                    line = indent
                }
                line += (line.count > indent.count ? " " : "") + word
            }
            lines.append(line)
        }
        return lines
    }

    // MARK: JSON

    /// The report as JSON (sorted keys, ISO 8601 time), as the control protocol carries it.
    public func json(pretty: Bool = false) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting =
            pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(self)
    }

    /// Reads a report from JSON.
    public init(json data: Data) throws {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        self = try decoder.decode(DoctorReport.self, from: data)
    }
}
