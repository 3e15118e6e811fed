import ArgumentParser
import BoltworkControl
import Foundation

// users, code, guest, schedule.

struct Users: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, show, add, enable, disable and remove users.",
        subcommands: [
            UsersList.self, UsersShow.self, UsersAdd.self, UsersEnable.self, UsersDisable.self,
            UsersRemove.self,
        ],
        defaultSubcommand: UsersList.self)

    /// The users as a table.
    static func table(_ users: [JSONValue]) -> String {
        guard !users.isEmpty else { return "no users yet: add the first admin with `boltd init`" }
        return Output.table(
            ["ID", "NAME", "ROLE", "KIND", "ENABLED", "CODE", "SCHEDULES", "LAST USED"],
            users.map { user in
                [
                    "\(user["id"]?.int ?? 0)", user["name"]?.string ?? "", user["role"]?.string ?? "",
                    kind(user), Output.yesNo(user["enabled"]?.bool),
                    user["hasCode"]?.bool == true ? "set" : "none",
                    schedules(user).isEmpty ? "always" : schedules(user).joined(separator: "; "),
                    user["lastUsedAt"].map { Output.time($0.string) } ?? "never",
                ]
            })
    }

    static func kind(_ user: JSONValue) -> String {
        let kind = user["kind"]?.string ?? ""
        guard kind == "expiring", let minutes = user["expiresAfterMinutes"]?.int else { return kind }
        return minutes % 60 == 0 ? "expiring \(minutes / 60)h" : "expiring \(minutes)m"
    }

    static func schedules(_ user: JSONValue) -> [String] {
        (user["schedules"]?.array ?? []).compactMap { $0["text"]?.string }
    }

    /// One user in detail.
    static func detail(_ user: JSONValue) -> String {
        Output.block([
            ("User", "\(user["name"]?.string ?? "") (#\(user["id"]?.int ?? 0))"),
            ("Role", user["role"]?.string ?? ""),
            ("Kind", kind(user)),
            ("Enabled", Output.yesNo(user["enabled"]?.bool)),
            ("Code", user["hasCode"]?.bool == true ? "set" : "none (set one with boltctl code set)"),
            ("Schedules", schedules(user).isEmpty ? "always" : schedules(user).joined(separator: "; ")),
            ("Created", Output.time(user["createdAt"]?.string)),
            ("First used", Output.time(user["firstUsedAt"]?.string)),
            ("Last used", Output.time(user["lastUsedAt"]?.string)),
            ("Expires", Output.time(user["expiresAt"]?.string)),
            ("Uses", "\(user["useCount"]?.int ?? 0)"),
            ("Last tested", Output.time(user["lastTestedAt"]?.string)),
        ])
    }
}

struct UsersList: ControlCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the users.")

    @OptionGroup var global: GlobalOptions

    func execute(_ connection: Connection) throws(CLIFailure) {
        let result = try connection.call("users.list")
        show(result) { Users.table(result["users"]?.array ?? []) }
    }
}

struct UsersShow: ControlCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one user.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The user's name or id.")
    var user: String

    func execute(_ connection: Connection) throws(CLIFailure) {
        let result = try connection.call("users.show", ["user": .string(user)])
        show(result) { Users.detail(result["user"] ?? .null) }
    }
}

/// The options that describe how a code behaves, shared by `users add` and `guest add`.
struct CodeKindOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "When the code works (repeatable): days and hours like 'mon-fri 08:00-17:00' or dates like "
                + "'2026-12-01..2026-12-24'.", valueName: "schedule"))
    var schedule: [String] = []

    @Option(
        help: ArgumentHelp("The start of the validity window (a date or date and time).", valueName: "time"))
    var from: String?

    @Option(
        help: ArgumentHelp(
            "The end of the validity window (a whole day when only a date).", valueName: "time"))
    var until: String?

    /// The schedule texts, the validity window included.
    var schedules: [String] {
        guard from != nil || until != nil else { return schedule }
        return schedule + ["\(from ?? "now")..\(until ?? "2100-01-01")"]
    }
}

struct UsersAdd: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add a user (and set their code with --set-code).")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The user's name (one person per user).")
    var name: String

    @Option(help: "admin, resident, guest or service.")
    var role = "resident"

    @Option(help: "permanent, disposable (one use), expiring, duress (silent alarm) or emergency.")
    var kind = "permanent"

    @Option(
        help: ArgumentHelp(
            "For an expiring code: how long after its first use (30m, 2h, 1d).", valueName: "span"))
    var expiresAfter: String?

    @OptionGroup var when: CodeKindOptions

    @Flag(help: "Also set the user's code (asked twice on the terminal, or read with --stdin).")
    var setCode = false

    @Flag(help: "With --set-code: read the code from standard input.")
    var stdin = false

    func validate() throws {
        guard ["admin", "resident", "guest", "service"].contains(role) else {
            throw ValidationError("unknown role '\(role)': give admin, resident, guest or service")
        }
        guard ["permanent", "disposable", "expiring", "duress", "emergency"].contains(kind) else {
            throw ValidationError(
                "unknown kind '\(kind)': give permanent, disposable, expiring, duress or emergency")
        }
        if kind == "expiring", expiresAfter == nil {
            throw ValidationError("an expiring code needs --expires-after, like --expires-after 2h")
        }
        if stdin, !setCode { throw ValidationError("--stdin goes with --set-code") }
    }

    func execute(_ connection: Connection) throws(CLIFailure) {
        var arguments: [String: JSONValue] = [
            "name": .string(name), "role": .string(role), "kind": .string(kind),
            "schedules": .array(when.schedules.map { .string($0) }),
        ]
        if let expiresAfter { arguments["expiresAfter"] = .string(expiresAfter) }
        if setCode {
            arguments["code"] = .string(
                try CodeInput.newCode(fromStandardInput: stdin, json: global.json, who: name))
        }
        let result = try connection.call("users.add", arguments)
        show(result) { "added\n" + Users.detail(result["user"] ?? .null) }
    }
}

struct UsersEnable: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "enable", abstract: "Enable a user: their code works again.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The user's name or id.")
    var user: String

    func execute(_ connection: Connection) throws(CLIFailure) {
        let result = try connection.call("users.enable", ["user": .string(user)])
        show(result) { "enabled \(result["user"]?["name"]?.string ?? user)" }
    }
}

struct UsersDisable: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "disable", abstract: "Disable a user: their code is refused from now on.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The user's name or id.")
    var user: String

    func execute(_ connection: Connection) throws(CLIFailure) {
        let result = try connection.call("users.disable", ["user": .string(user)])
        show(result) { "disabled \(result["user"]?["name"]?.string ?? user)" }
    }
}

struct UsersRemove: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Remove a user and their code (the audit log keeps their history).")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The user's name or id.")
    var user: String

    func execute(_ connection: Connection) throws(CLIFailure) {
        let result = try connection.call("users.remove", ["user": .string(user)])
        show(result) { "removed \(result["removed"]?["name"]?.string ?? user)" }
    }
}

struct Code: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Set or clear a user's code (never given on the command line).",
        subcommands: [CodeSet.self, CodeClear.self])
}

struct CodeSet: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Set a user's code: asked twice on the terminal without echo, or one line with --stdin.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The user's name or id.")
    var user: String

    @Flag(help: "Read the code from standard input (one line).")
    var stdin = false

    func execute(_ connection: Connection) throws(CLIFailure) {
        let code = try CodeInput.newCode(fromStandardInput: stdin, json: global.json, who: user)
        let result = try connection.call("code.set", ["user": .string(user), "code": .string(code)])
        show(result) { "code set for \(result["user"]?["name"]?.string ?? user)" }
    }
}

struct CodeClear: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "clear", abstract: "Remove a user's code: they cannot get in until a new one is set.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The user's name or id.")
    var user: String

    func execute(_ connection: Connection) throws(CLIFailure) {
        let result = try connection.call("code.clear", ["user": .string(user)])
        show(result) { "code removed for \(result["user"]?["name"]?.string ?? user)" }
    }
}

struct Guest: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add a guest with a single-use or expiring code.", subcommands: [GuestAdd.self])
}

struct GuestAdd: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add a guest and set their code (asked twice on the terminal, or read with --stdin).",
        discussion: """
            Without --expires-after the code works once. With --from/--until it works only in that window \
            (a date alone means the whole day, in the lock's time zone).
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The guest's name.")
    var name: String

    @Option(
        help: ArgumentHelp(
            "The code stops working this long after its first use (30m, 2h, 1d).", valueName: "span"))
    var expiresAfter: String?

    @OptionGroup var when: CodeKindOptions

    @Flag(help: "Read the code from standard input (one line).")
    var stdin = false

    func execute(_ connection: Connection) throws(CLIFailure) {
        let code = try CodeInput.newCode(fromStandardInput: stdin, json: global.json, who: name)
        var arguments: [String: JSONValue] = [
            "name": .string(name), "role": .string("guest"),
            "kind": .string(expiresAfter == nil ? "disposable" : "expiring"),
            "schedules": .array(when.schedules.map { .string($0) }), "code": .string(code),
        ]
        if let expiresAfter { arguments["expiresAfter"] = .string(expiresAfter) }
        let result = try connection.call("users.add", arguments)
        show(result) { "guest added\n" + Users.detail(result["user"] ?? .null) }
    }
}

struct Schedule: ControlCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show, add or clear when a user's code works.",
        discussion: """
            boltctl schedule alice                              show alice's schedules
            boltctl schedule alice add mon-fri 08:00-17:00      add a weekly window
            boltctl schedule alice add 2026-12-01..2026-12-24   add a date range (whole days)
            boltctl schedule alice clear                        remove them all: the code always works

            Days: mon tue wed thu fri sat sun, ranges (mon-fri), lists (sat,sun), daily, weekdays, \
            weekends. Hours: START-END; an end before the start crosses midnight. With weekly windows \
            the time must be in one of them; with date ranges, in one of them; with both, in one of each.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The user's name or id.")
    var user: String

    @Argument(help: "add SCHEDULE... or clear (leave out to show).")
    var words: [String] = []

    var action: String? { words.first }
    var schedules: [String] { Array(words.dropFirst()) }

    func validate() throws {
        switch action {
        case nil: break
        case "add"?: if schedules.isEmpty { throw ValidationError("give the schedules to add") }
        case "clear"?: if !schedules.isEmpty { throw ValidationError("clear takes no schedules") }
        default: throw ValidationError("unknown action '\(action ?? "")': give add or clear")
        }
    }

    /// The words joined into schedules: a word holding `..` or a space is one schedule; other
    /// words go in pairs (days, then hours).
    static func join(_ words: [String]) -> [String] {
        var result: [String] = []
        var pending: String?
        for word in words {
            if let days = pending {
                result.append("\(days) \(word)")
                pending = nil
            } else if word.contains("..") || word.contains(" ") {
                result.append(word)
            } else {
                pending = word
            }
        }
        if let pending { result.append(pending) }
        return result
    }

    func execute(_ connection: Connection) throws(CLIFailure) {
        let result: JSONValue
        switch action {
        case "add"?:
            result = try connection.call(
                "schedule.add",
                ["user": .string(user), "schedules": .array(Self.join(schedules).map { .string($0) })])
        case "clear"?:
            result = try connection.call("schedule.clear", ["user": .string(user)])
        default:
            result = try connection.call("users.show", ["user": .string(user)])
        }
        show(result) {
            let texts = Users.schedules(result["user"] ?? .null)
            let name = result["user"]?["name"]?.string ?? user
            return texts.isEmpty
                ? "\(name): no schedule, the code works at any time"
                : "\(name):\n" + texts.map { "  " + $0 }.joined(separator: "\n")
        }
    }
}
