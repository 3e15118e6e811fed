import ArgumentParser
import BoltworkControl
import Foundation

// log, log export, log verify.

struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read, follow, export and verify the audit log.",
        subcommands: [LogShow.self, LogExport.self, LogVerify.self], defaultSubcommand: LogShow.self)
}

/// The filters `log` and `log export` share.
struct LogFilterOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Records at or after this time: a date, a date and time, or a span back (24h, 7d).",
            valueName: "time"))
    var since: String?

    @Option(
        help: ArgumentHelp("Records before this time (a date alone includes that day).", valueName: "time"))
    var until: String?

    @Option(help: ArgumentHelp("Only this user's records (name or id).", valueName: "user"))
    var user: String?

    @Option(
        help: ArgumentHelp(
            "Only these (repeatable or comma-separated): operation, refusal, alarm, admin, system, or an action such as invalid-code.",
            valueName: "kind"))
    var kind: [String] = []

    /// The filters as request arguments.
    var arguments: [String: JSONValue] {
        var arguments: [String: JSONValue] = [:]
        if let since { arguments["since"] = .string(since) }
        if let until { arguments["until"] = .string(until) }
        if let user { arguments["user"] = .string(user) }
        let kinds = kind.flatMap { $0.split(separator: ",").map(String.init) }
        if !kinds.isEmpty { arguments["kinds"] = .array(kinds.map { .string($0) }) }
        return arguments
    }
}

struct LogShow: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show audit records, oldest first; --follow keeps printing new ones.")

    @OptionGroup var global: GlobalOptions

    @OptionGroup var filters: LogFilterOptions

    @Option(help: "At most this many of the newest records (0: all).")
    var limit = 20

    @Flag(help: "Keep printing new records as the lock commits them (Ctrl-C to stop).")
    var follow = false

    func validate() throws {
        guard limit >= 0 else { throw ValidationError("--limit is 0 (all) or more") }
    }

    func execute(_ connection: Connection) throws(CLIFailure) {
        var arguments = filters.arguments
        arguments["limit"] = .integer(limit)
        if follow { arguments["follow"] = .bool(true) }
        let result = try connection.call("log", arguments)
        let records = result["records"]?.array ?? []
        guard follow else {
            show(result) {
                records.isEmpty
                    ? "no matching records" : Output.table(Output.recordHeader, records.map(Output.recordRow))
            }
            return
        }
        // Following: one line per record as it comes (JSON Lines with --json).
        for record in records { emit(record) }
        while let event = try connection.nextEvent() {
            guard event.event == "audit" else { continue }
            emit(event.data)
        }
        throw CLIFailure(
            status: .daemonDown, code: "daemon-stopped", message: "boltd closed the connection (it stopped)",
            json: false)
    }

    /// Writes one record at once (unbuffered, so a pipe sees it as it comes).
    private func emit(_ record: JSONValue) {
        let line = global.json ? record.description : Output.streamRow(record)
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}

struct LogExport: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export audit records with their hash chain as JSON Lines or CSV (RFC 4180).")

    @OptionGroup var global: GlobalOptions

    @OptionGroup var filters: LogFilterOptions

    @Option(help: "jsonl or csv.")
    var format = "jsonl"

    @Option(help: ArgumentHelp("Write to this file instead of standard output.", valueName: "file"))
    var output: String?

    func validate() throws {
        guard format == "jsonl" || format == "csv" else {
            throw ValidationError("unknown format '\(format)': give jsonl or csv")
        }
    }

    func execute(_ connection: Connection) throws(CLIFailure) {
        var text = ""
        var count = 0
        var after: Int?
        while true {
            var arguments = filters.arguments
            arguments["format"] = .string(format)
            if let after { arguments["afterSequence"] = .integer(after) }
            let page = try connection.call("export", arguments)
            text += page["text"]?.string ?? ""
            count += page["records"]?.int ?? 0
            guard page["more"]?.bool == true, let last = page["lastSequence"]?.int, last != after else {
                break
            }
            after = last
        }
        guard let output else {
            FileHandle.standardOutput.write(Data(text.utf8))
            return
        }
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
        } catch {
            throw CLIFailure(
                status: .refused, code: "write-failed",
                message:
                    "cannot write \(output): \(error.localizedDescription); check the directory exists and you may write there",
                json: global.json)
        }
        let summary = JSONValue.object([
            "records": .integer(count), "output": .string(output), "format": .string(format),
        ])
        if global.json {
            print(summary.description)
        } else {
            FileHandle.standardError.write(Data("exported \(count) records to \(output)\n".utf8))
        }
    }
}

struct LogVerify: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Check the audit log's hash chain (exit 1 when it is broken).")

    @OptionGroup var global: GlobalOptions

    func execute(_ connection: Connection) throws(CLIFailure) {
        let result = try connection.call("verify")
        if result["intact"]?.bool == true {
            show(result) { "audit chain intact: \(result["records"]?.int ?? 0) records" }
            return
        }
        show(result) {
            "audit chain BROKEN at record #\(result["sequence"]?.int ?? 0): \(result["reason"]?.string ?? "")"
        }
        throw CLIFailure(
            status: .refused, code: "chain-broken",
            message: "the audit log has been altered or damaged at record #\(result["sequence"]?.int ?? 0)",
            json: false)
    }
}
