import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Reads codes without ever taking them from the command line: from the terminal without echo,
/// or one line from standard input.
enum CodeInput {
    /// The terminal's settings while echo is off, to restore them on Ctrl-C.
    nonisolated(unsafe) private static var saved: termios?

    /// A new code: with `fromStandardInput`, one line of standard input; otherwise asked twice
    /// on the terminal without echo, and refused when the two differ.
    static func newCode(fromStandardInput: Bool, json: Bool, who: String) throws(CLIFailure) -> String {
        if fromStandardInput { return try line(json: json) }
        let first = try ask("New code for \(who): ", json: json)
        let second = try ask("Again: ", json: json)
        guard first == second else {
            throw CLIFailure(
                status: .usage, code: "codes-differ", message: "the two codes differ; nothing was changed",
                json: json)
        }
        return first
    }

    /// A code to check: one line of standard input, or asked once on the terminal.
    static func code(fromStandardInput: Bool, json: Bool) throws(CLIFailure) -> String {
        fromStandardInput ? try line(json: json) : try ask("Code: ", json: json)
    }

    /// One line of standard input, without its line ending.
    static func line(json: Bool) throws(CLIFailure) -> String {
        guard var text = readLine(strippingNewline: true) else {
            throw CLIFailure.usage("no code on standard input", json: json)
        }
        if text.hasSuffix("\r") { text.removeLast() }
        guard !text.isEmpty else { throw CLIFailure.usage("the code on standard input is empty", json: json) }
        return text
    }

    /// Asks on the terminal with echo off.
    static func ask(_ prompt: String, json: Bool) throws(CLIFailure) -> String {
        guard isatty(STDIN_FILENO) != 0 else {
            throw CLIFailure.usage(
                "standard input is not a terminal: give the code on standard input with --stdin", json: json)
        }
        FileHandle.standardError.write(Data(prompt.utf8))
        var original = termios()
        tcgetattr(STDIN_FILENO, &original)
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO)
        saved = original
        signal(SIGINT) { _ in
            if var terminal = CodeInput.saved { tcsetattr(STDIN_FILENO, TCSANOW, &terminal) }
            _exit(130)
        }
        tcsetattr(STDIN_FILENO, TCSANOW, &silent)
        let text = readLine(strippingNewline: true)
        tcsetattr(STDIN_FILENO, TCSANOW, &original)
        signal(SIGINT, SIG_DFL)
        saved = nil
        FileHandle.standardError.write(Data("\n".utf8))
        guard let text, !text.isEmpty else { throw CLIFailure.usage("no code given", json: json) }
        return text
    }
}
