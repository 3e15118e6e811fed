/// A GPIO failure: a portable kind, the errno when the kernel gave one, and where it happened.
///
/// Its description reads as one message for a maker at a terminal: what failed, on which chip
/// and line, the errno, and what to do about it.
public struct GPIOError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, independent of the backend.
    public enum Kind: Sendable, Hashable {
        /// The chip does not exist (wrong path or label, or it disappeared).
        case noSuchChip
        /// The chip has no such line name or offset.
        case noSuchLine
        /// Another consumer holds the line.
        case lineBusy
        /// The process may not open the chip.
        case permissionDenied
        /// The kernel or library cannot apply a setting (bias on an old kernel, reconfiguring
        /// edge lines with libgpiod 1.6, ...).
        case unsupportedSetting
        /// The caller asked for something impossible (empty request, a line twice, writing an
        /// input).
        case invalidArgument
        /// The request was already released.
        case released
        /// Any other input/output failure.
        case io
    }

    /// The portable kind.
    public var kind: Kind
    /// The errno reported by the kernel or libgpiod, when there was one.
    public var errno: Int32?
    /// The chip (path or label).
    public var chip: String?
    /// The line (name and/or offset).
    public var line: String?
    /// What failed and what to do about it.
    public var detail: String

    /// Creates an error.
    public init(_ kind: Kind, errno: Int32? = nil, chip: String? = nil, line: String? = nil, detail: String) {
        self.kind = kind
        self.errno = errno
        self.chip = chip
        self.line = line
        self.detail = detail
    }

    /// A one-paragraph message: `GPIO <kind> on <chip> line <line> (errno N ENAME): <detail>`.
    public var description: String {
        var text = "GPIO \(kind.label)"
        if let chip { text += " on \(chip)" }
        if let line { text += " line \(line)" }
        if let errno { text += " (errno \(errno) \(ErrnoName.name(errno)))" }
        return text + ": " + detail
    }
}

extension GPIOError.Kind {
    /// Words for messages.
    public var label: String {
        switch self {
        case .noSuchChip: "chip not found"
        case .noSuchLine: "line not found"
        case .lineBusy: "line busy"
        case .permissionDenied: "permission denied"
        case .unsupportedSetting: "setting not supported"
        case .invalidArgument: "invalid request"
        case .released: "request already released"
        case .io: "I/O error"
        }
    }
}

/// Symbolic names of the errno values hardware code meets, for messages.
public enum ErrnoName {
    /// `EACCES`, `EBUSY`, ... or `E?` for values not in the table. Linux numbering.
    public static func name(_ errno: Int32) -> String {
        switch errno {
        case 1: "EPERM"
        case 2: "ENOENT"
        case 4: "EINTR"
        case 5: "EIO"
        case 6: "ENXIO"
        case 9: "EBADF"
        case 11: "EAGAIN"
        case 12: "ENOMEM"
        case 13: "EACCES"
        case 16: "EBUSY"
        case 19: "ENODEV"
        case 22: "EINVAL"
        case 25: "ENOTTY"
        case 71: "EPROTO"
        case 74: "EBADMSG"
        case 90: "EMSGSIZE"
        case 95: "EOPNOTSUPP"
        case 110: "ETIMEDOUT"
        case 121: "EREMOTEIO"
        default: "E?"
        }
    }
}
