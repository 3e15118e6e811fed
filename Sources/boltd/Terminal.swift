import BoltworkHAL
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The controlling terminal in raw mode on the alternate screen, for the interactive simulator.
/// ``restore()`` puts it back as it was; it runs on every way out: a normal return, an error,
/// `exit`, SIGINT, SIGTERM, SIGHUP, and a crash signal (the handler restores, then re-raises).
final class Terminal: @unchecked Sendable {
    // Safety: `active` and `previous` are read and written only with `lock` held.
    private let original: termios
    private let lock = NSLock()
    private var active = false
    private var previous: [String] = []

    /// Nil when standard input or output is not a terminal.
    init?() {
        guard isatty(STDIN_FILENO) != 0, isatty(STDOUT_FILENO) != 0 else { return nil }
        var settings = termios()
        guard tcgetattr(STDIN_FILENO, &settings) == 0 else { return nil }
        original = settings
    }

    /// Raw input (no echo, no line editing, no signals from keys; Ctrl-C arrives as a byte),
    /// the alternate screen, the cursor hidden.
    func enter() throws {
        var raw = original
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL | BRKINT | INPCK | ISTRIP)
        raw.c_cflag |= tcflag_t(CS8)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        guard tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0 else {
            throw SimulateError("cannot put the terminal in raw mode: \(String(cString: strerror(errno)))")
        }
        TerminalRescue.arm(original)
        lock.withLock {
            active = true
            previous = []
        }
        Self.write("\u{1B}[?1049h\u{1B}[?25l\u{1B}[2J\u{1B}[H")
    }

    /// Leaves the alternate screen, shows the cursor and restores the settings (once).
    func restore() {
        let wasActive = lock.withLock {
            defer { active = false }
            return active
        }
        guard wasActive else { return }
        Self.write("\u{1B}[0m\u{1B}[?25h\u{1B}[?1049l")
        var settings = original
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &settings)
        TerminalRescue.disarm()
    }

    /// The window's size (80 × 24 when it cannot be read).
    var size: (columns: Int, rows: Int) {
        var window = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &window) == 0, window.ws_col > 0, window.ws_row > 0
        else {
            return (80, 24)
        }
        return (Int(window.ws_col), Int(window.ws_row))
    }

    /// Forgets what is on the screen, so the next ``draw(_:)`` repaints it all.
    func invalidate() {
        lock.withLock { previous = [] }
    }

    /// Writes the lines that differ from the previous frame, each cleared to its end.
    func draw(_ lines: [String], color: Bool) {
        let output = lock.withLock { () -> String in
            guard active else { return "" }
            var output = previous.isEmpty ? "\u{1B}[2J" : ""
            for (index, line) in lines.enumerated() where index >= previous.count || previous[index] != line {
                output += "\u{1B}[\(index + 1);1H" + line + (color ? "\u{1B}[0m" : "") + "\u{1B}[K"
            }
            if lines.count < previous.count { output += "\u{1B}[\(lines.count + 1);1H\u{1B}[J" }
            previous = lines
            return output
        }
        if !output.isEmpty { Self.write(output) }
    }

    /// Writes all of `text` to standard output; a terminal that has gone away (EIO after a
    /// hang-up) is ignored, so the lock still shuts down cleanly.
    static func write(_ text: String) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let written = writeOut(base + offset, buffer.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }
}

/// The last resort: a crash signal restores the terminal before the process dies, so a
/// trap never leaves the shell in raw mode on the alternate screen.
enum TerminalRescue {
    nonisolated(unsafe) private static var saved = termios()
    nonisolated(unsafe) private static var armed: sig_atomic_t = 0
    private static let leave: [UInt8] = Array("\u{1B}[0m\u{1B}[?25h\u{1B}[?1049l\r\n".utf8)
    nonisolated(unsafe) private static var installed = false

    static func arm(_ settings: termios) {
        saved = settings
        _ = leave.count
        armed = 1
        guard !installed else { return }
        installed = true
        for number in [SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE] {
            signal(number) { number in
                TerminalRescue.rescue()
                signal(number, SIG_DFL)
                raise(number)
            }
        }
        atexit { TerminalRescue.rescue() }
    }

    static func disarm() {
        armed = 0
    }

    private static func rescue() {
        guard armed != 0 else { return }
        armed = 0
        var settings = saved
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &settings)
        leave.withUnsafeBytes { bytes in
            if let base = bytes.baseAddress { _ = write(STDOUT_FILENO, base, bytes.count) }
        }
    }
}

/// A simulator failure, worded for the person at the terminal.
struct SimulateError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// write(2) on standard output (a free function, out of reach of the types' own `write`).
private func writeOut(_ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(STDOUT_FILENO, bytes, count)
}
