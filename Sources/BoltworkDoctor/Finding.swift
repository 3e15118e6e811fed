/// How much a finding matters.
public enum Severity: String, Codable, Sendable, Hashable, CaseIterable, Comparable {
    /// The lock is unsafe or unusable now (no admin code, a tampered log, a dying battery).
    case critical
    /// Something to fix soon: it weakens the lock or will fail it later.
    case warning
    /// Worth knowing; nothing is wrong yet.
    case info

    private var rank: Int {
        switch self {
        case .critical: 0
        case .warning: 1
        case .info: 2
        }
    }

    /// Orders the most severe first.
    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}

/// One thing the doctor found: what, why it matters, and what to do about it. A check reports
/// at most one finding, so `id` is unique in a report and stable across releases (scripts
/// may match on it). Findings never contain a code.
public struct Finding: Codable, Sendable, Hashable, Identifiable {
    /// The check's stable identifier, e.g. `admin-code-missing`.
    public var id: String
    /// How much it matters.
    public var severity: Severity
    /// One line: what is wrong.
    public var title: String
    /// The evidence and why it matters (which users, which events, which numbers).
    public var detail: String
    /// What to do about it.
    public var fix: String

    /// Creates a finding.
    public init(id: String, severity: Severity, title: String, detail: String, fix: String) {
        self.id = id
        self.severity = severity
        self.title = title
        self.detail = detail
        self.fix = fix
    }
}
