import ArgumentParser
import BoltworkControl
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `boltctl`: the admin CLI, talking to a running `boltd` over its control socket.
struct Boltctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "boltctl",
        abstract: "Administer a Boltwork lock: talks to a running boltd over its control socket.",
        discussion: """
            Codes are never taken on the command line: they are read from the terminal without echo \
            (twice, to confirm) or from standard input with --stdin.

            --json prints each result as one line of JSON with stable field names (see \
            Sources/BoltworkControl/ControlProtocol.swift); failures print \
            {"ok":false,"error":{"code":...,"message":...}}.

            EXIT STATUS
              0  done
              1  refused or failed by the lock (the reason code is printed)
              2  usage: a bad option or argument
              3  boltd is not running (no socket, or nothing listening on it)
              4  permission denied on the socket: sudo usermod -aG boltwork $USER
              5  protocol or internal error
            """,
        subcommands: [
            Status.self, Lock.self, Unlock.self, Users.self, Code.self, Guest.self, Schedule.self, Mode.self,
            Lockout.self, Log.self, Battery.self, Doctor.self,
        ])

    /// Also accepted before the subcommand (`boltctl --json status`).
    @OptionGroup var global: GlobalOptions
}

/// The process's exit statuses (documented in `boltctl --help` and the README).
enum ExitStatus: Int32 {
    /// Done.
    case ok = 0
    /// The lock refused or failed.
    case refused = 1
    /// A bad option or argument.
    case usage = 2
    /// boltd is not running.
    case daemonDown = 3
    /// Permission denied on the socket.
    case permissionDenied = 4
    /// Protocol or internal error.
    case internalError = 5
}

/// A failure that ends boltctl with an exit status, after its message is shown.
struct CLIFailure: Error {
    var status: ExitStatus
    var code: String
    var message: String
    var json: Bool

    /// A usage failure (exit 2).
    static func usage(_ message: String, json: Bool) -> CLIFailure {
        CLIFailure(status: .usage, code: "bad-arguments", message: message, json: json)
    }

    func report() {
        if json {
            let failure = JSONValue.object([
                "ok": .bool(false),
                "error": .object(["code": .string(code), "message": .string(message)]),
            ])
            print(failure.description)
        }
        let suffix = status == .refused || status == .usage ? " (\(code))" : ""
        FileHandle.standardError.write(Data("boltctl: \(message)\(suffix)\n".utf8))
    }
}

/// The options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The control socket (default: $\(ControlProtocol.socketEnvironmentVariable), else \(ControlProtocol.defaultSocketPath)).",
            valueName: "path"))
    var socket: String?

    @Flag(help: "Print results as JSON (one line, stable field names) for scripts.")
    var json = false

    /// The socket path in force.
    var socketPath: String {
        if let socket { return socket }
        if let path = ProcessInfo.processInfo.environment[ControlProtocol.socketEnvironmentVariable],
            !path.isEmpty
        {
            return path
        }
        return ControlProtocol.defaultSocketPath
    }

    /// Connects to boltd.
    func connect() throws(CLIFailure) -> Connection {
        try Connection(path: socketPath, json: json)
    }

    /// A usage failure in this output mode.
    func usage(_ message: String) -> CLIFailure { .usage(message, json: json) }
}

/// A connection to boltd, mapping every failure to an exit status.
final class Connection {
    let client: ControlClient
    let json: Bool

    init(path: String, json: Bool) throws(CLIFailure) {
        self.json = json
        do {
            client = try ControlClient(path: path)
        } catch {
            throw Self.failure(error, json: json)
        }
    }

    static func failure(_ error: ControlSocketError, json: Bool) -> CLIFailure {
        switch error.errno {
        case ENOENT?, ECONNREFUSED?:
            return CLIFailure(
                status: .daemonDown, code: "daemon-not-running", message: error.description, json: json)
        case EACCES?, EPERM?:
            return CLIFailure(
                status: .permissionDenied, code: "permission-denied", message: error.description, json: json)
        default:
            return CLIFailure(
                status: .internalError, code: "protocol", message: error.description, json: json)
        }
    }

    /// Sends `command` and returns its result, or throws its failure with the exit status for it.
    func call(_ command: String, _ arguments: [String: JSONValue] = [:]) throws(CLIFailure) -> JSONValue {
        let response: ControlResponse
        do {
            response = try client.send(command, arguments)
        } catch {
            throw Self.failure(error, json: json)
        }
        if response.ok { return response.result ?? .object([:]) }
        let failure =
            response.error ?? ControlFailure(code: "internal", message: "boltd refused without saying why")
        let status: ExitStatus
        switch failure.code {
        case "bad-arguments": status = .usage
        case "unknown-command", "bad-request", "internal": status = .internalError
        default: status = .refused
        }
        var message = failure.message
        if failure.code == "unknown-command" {
            message += "; boltctl speaks protocol \(ControlProtocol.version): update boltd"
        }
        throw CLIFailure(status: status, code: failure.code, message: message, json: json)
    }

    /// The next event of a subscription, nil when boltd closed the connection.
    func nextEvent() throws(CLIFailure) -> ControlEvent? {
        do { return try client.nextEvent() } catch { throw Self.failure(error, json: json) }
    }
}

/// A subcommand that runs against boltd: its `execute` gets a connection and the options.
protocol ControlCommand: ParsableCommand {
    /// The global options.
    var global: GlobalOptions { get }
    /// Does the work; prints its output.
    func execute(_ connection: Connection) throws(CLIFailure)
}

extension ControlCommand {
    func run() throws {
        let connection = try global.connect()
        try execute(connection)
    }

    /// Prints `result` as JSON when asked, else `human()`.
    func show(_ result: JSONValue, _ human: () -> String) {
        print(global.json ? result.description : human())
    }
}

/// `message` with any digits-only argument it quotes replaced, and a hint: a code typed on the
/// command line is not echoed back (it is already in the shell's history; say so once).
func redactingCodes(_ message: String) -> String {
    var redacted = ""
    var found = false
    let parts = message.split(separator: "'", omittingEmptySubsequences: false)
    for (index, part) in parts.enumerated() {
        let quoted = index % 2 == 1 && index < parts.count - 1
        if quoted, !part.isEmpty, part.allSatisfy(\.isNumber) {
            redacted += "'…'"
            found = true
        } else {
            redacted += quoted ? "'\(part)'" : String(part)
        }
    }
    guard found else { return message }
    return redacted
        + "\nCodes are never given on the command line: let boltctl ask for them (no echo) or use --stdin."
}

@main
enum BoltctlMain {
    static func main() {
        // A mask inherited from the parent (some service managers and thread pools block
        // signals) must not keep Ctrl-C or SIGTERM from stopping `log --follow`.
        var stops = sigset_t()
        sigemptyset(&stops)
        for number in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&stops, number) }
        sigprocmask(SIG_UNBLOCK, &stops, nil)
        do {
            var command = try Boltctl.parseAsRoot()
            try command.run()
        } catch let failure as CLIFailure {
            failure.report()
            exit(failure.status.rawValue)
        } catch {
            let code = Boltctl.exitCode(for: error)
            if code == .validationFailure {
                let message = redactingCodes(Boltctl.fullMessage(for: error))
                if CommandLine.arguments.contains("--json") {
                    let summary = message.split(separator: "\n").first.map(String.init) ?? message
                    print(
                        JSONValue.object([
                            "ok": .bool(false),
                            "error": .object(["code": .string("bad-arguments"), "message": .string(summary)]),
                        ]).description)
                }
                FileHandle.standardError.write(Data((message + "\n").utf8))
                exit(ExitStatus.usage.rawValue)
            }
            Boltctl.exit(withError: error)
        }
    }
}
