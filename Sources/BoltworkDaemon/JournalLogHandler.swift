import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A swift-log handler for a daemon's standard error, journald-friendly: one line per message
/// (line breaks in a message become spaces), metadata appended as `key=value`.
///
/// Under systemd (`JOURNAL_STREAM` names the standard error's device and inode) each line
/// starts with its sd-daemon priority, `<6>` for info, which journald strips and stores as the
/// priority; elsewhere lines read `info: message`. The lock never passes a code to a logger.
public struct JournalLogHandler: LogHandler {
    /// How lines are prefixed.
    public enum Format: Sendable, Hashable {
        /// `<6>message`: the sd-daemon priority prefix journald understands.
        case journal
        /// `info: message`.
        case plain
    }

    /// The threshold: messages below it are dropped by the logger.
    public var logLevel: Logger.Level
    /// Metadata added to every message.
    public var metadata: Logger.Metadata = [:]
    /// The line format.
    public let format: Format
    private let write: @Sendable (String) -> Void

    /// A handler writing lines to `write` (standard error by default) in `format` (journal
    /// under systemd, plain otherwise, by default).
    public init(
        level: Logger.Level = .info, format: Format? = nil,
        write: @escaping @Sendable (String) -> Void = JournalLogHandler.standardError
    ) {
        self.logLevel = level
        self.format = format ?? (Self.standardErrorIsJournal() ? .journal : .plain)
        self.write = write
    }

    /// Metadata by key.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one line.
    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        write(Self.line(level: event.level, message: "\(event.message)", metadata: merged, format: format))
    }

    /// The line for a message: prefix, message on one line, sorted `key=value` metadata.
    public static func line(
        level: Logger.Level, message: String, metadata: Logger.Metadata = [:], format: Format
    ) -> String {
        var text = message.split(whereSeparator: \.isNewline).joined(separator: " ")
        for key in metadata.keys.sorted() {
            let value = "\(metadata[key].map { "\($0)" } ?? "")"
            text += " \(key)=" + (value.contains(" ") ? "\"\(value)\"" : value)
        }
        switch format {
        case .journal: return "<\(priority(of: level))>" + text
        case .plain: return "\(level.rawValue): " + text
        }
    }

    /// The sd-daemon priority (syslog severity) of a level: trace and debug 7, info 6,
    /// notice 5, warning 4, error 3, critical 2.
    public static func priority(of level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// Whether standard error is the journal's stream: `JOURNAL_STREAM` is set and names the
    /// device and inode of file descriptor 2 (so a shell started from a service that redirects
    /// its output elsewhere gets plain lines).
    public static func standardErrorIsJournal(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Bool {
        guard let stream = environment["JOURNAL_STREAM"] else { return false }
        let parts = stream.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else {
            return false
        }
        var info = stat()
        guard fstat(STDERR_FILENO, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }

    /// Writes a line and a newline to standard error in one call.
    public static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
