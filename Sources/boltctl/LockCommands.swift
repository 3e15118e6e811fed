import ArgumentParser
import BoltworkControl
import Foundation

// status, lock, unlock, mode, lockout, battery.

struct Status: ControlCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the bolt, the door, the battery, the mode, the lockout and the latest events.")

    @OptionGroup var global: GlobalOptions

    func execute(_ connection: Connection) throws(CLIFailure) {
        let result = try connection.call("status")
        show(result) {
            var lockout = "none"
            if result["keypadDisabled"]?.bool == true {
                lockout = "keypad disabled until an admin resets it (boltctl lockout reset)"
            } else if let until = result["lockedOutUntil"]?.string {
                lockout = "until \(Output.time(until))"
            }
            let wrong = result["wrongCodes"]?.int ?? 0
            if wrong > 0 { lockout += " (\(wrong) wrong code\(wrong == 1 ? "" : "s") in a row)" }
            var battery = ""
            if let reading = result["battery"] {
                battery =
                    "\(Output.number(reading["percent"]?.number)) % (\(reading["millivolts"]?.int ?? 0) mV), "
                    + (result["batteryLevel"]?.string ?? "")
            }
            if let fault = result["gaugeFault"]?.string { battery += " gauge fault: \(fault)" }
            var text = Output.block([
                ("Bolt", result["bolt"]?.string ?? "?"),
                ("Door", result["door"]?.string ?? "no sensor"),
                ("Mode", result["mode"]?.string ?? "?"),
                ("Battery", battery.isEmpty ? "no gauge" : battery),
                ("Lockout", lockout),
                (
                    "Admin code",
                    result["hasAdminCode"]?.bool == true
                        ? "set" : "NOT SET: the keypad accepts no code until `boltd init`"
                ),
            ])
            let recent = result["recent"]?.array ?? []
            if !recent.isEmpty {
                text +=
                    "\n\nLatest events:\n" + Output.table(Output.recordHeader, recent.map(Output.recordRow))
            }
            return text
        }
    }
}

struct Lock: ControlCommand {
    static let configuration = CommandConfiguration(
        abstract: "Throw the bolt; waits until the sensor confirms it (or the move fails).")

    @OptionGroup var global: GlobalOptions

    func execute(_ connection: Connection) throws(CLIFailure) {
        let result = try connection.call("lock")
        show(result) { "bolt \(result["bolt"]?.string ?? "?")" }
    }
}

struct Unlock: ControlCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pull the bolt back; waits until the sensor confirms it (or the move fails).",
        discussion: """
            Without a code, the control socket's permission is enough (privacy mode still refuses). \
            With --code-stdin or --ask-code the code is checked like one typed on the keypad, and \
            wrong codes count toward the lockout.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Read a code to check from standard input (one line).")
    var codeStdin = false

    @Flag(help: "Ask for a code to check on the terminal (no echo).")
    var askCode = false

    func execute(_ connection: Connection) throws(CLIFailure) {
        var arguments: [String: JSONValue] = [:]
        if codeStdin || askCode {
            arguments["code"] = .string(try CodeInput.code(fromStandardInput: codeStdin, json: global.json))
        }
        let result = try connection.call("unlock", arguments)
        show(result) { "bolt \(result["bolt"]?.string ?? "?")" }
    }
}

struct Mode: ControlCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show or set the operating mode.",
        discussion: """
            normal: every valid code works. vacation: only admin and emergency codes open. \
            privacy: all entry from outside is refused. passage: the lock stays unlocked (no auto-relock).
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "normal, vacation, privacy or passage (leave out to show the mode).")
    var mode: String?

    func validate() throws {
        if let mode, !["normal", "vacation", "privacy", "passage"].contains(mode) {
            throw ValidationError("unknown mode '\(mode)': give normal, vacation, privacy or passage")
        }
    }

    func execute(_ connection: Connection) throws(CLIFailure) {
        let result = try connection.call("mode", mode.map { ["mode": .string($0)] } ?? [:])
        show(result) { "mode \(result["mode"]?.string ?? "?")" }
    }
}

struct Lockout: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show or reset the wrong-code lockout.",
        subcommands: [LockoutStatus.self, LockoutReset.self], defaultSubcommand: LockoutStatus.self)
}

struct LockoutStatus: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show the wrong-code count, a running lockout and the keypad.")

    @OptionGroup var global: GlobalOptions

    func execute(_ connection: Connection) throws(CLIFailure) {
        let result = try connection.call("lockout.status")
        show(result) { Self.describe(result) }
    }

    static func describe(_ result: JSONValue) -> String {
        var state = "not locked out"
        if result["lockedOut"]?.bool == true {
            state =
                "locked out until \(Output.time(result["lockedOutUntil"]?.string)) "
                + "(\(result["retryAfterSeconds"]?.int ?? 0) s left)"
        }
        return Output.block([
            ("Lockout", state),
            ("Wrong codes", "\(result["wrongCodes"]?.int ?? 0) in a row"),
            ("Lockouts", "\(result["lockoutCount"]?.int ?? 0) in this run"),
            (
                "Keypad",
                result["keypadDisabled"]?.bool == true
                    ? "DISABLED until an admin resets the lockout" : "enabled"
            ),
            (
                "Policy",
                "a lockout every \(result["threshold"]?.int ?? 0) wrong codes; the keypad is disabled after "
                    + "\(result["keypadDisableThreshold"]?.int ?? 0)"
            ),
        ])
    }
}

struct LockoutReset: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset", abstract: "Clear the wrong-code count, a running lockout and a disabled keypad."
    )

    @OptionGroup var global: GlobalOptions

    func execute(_ connection: Connection) throws(CLIFailure) {
        let result = try connection.call("lockout.reset")
        show(result) { "lockout reset\n" + LockoutStatus.describe(result) }
    }
}

struct Battery: ControlCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the battery: charge, voltage, level per the policy, and any gauge fault.")

    @OptionGroup var global: GlobalOptions

    func execute(_ connection: Connection) throws(CLIFailure) {
        let result = try connection.call("battery")
        show(result) {
            guard result["present"]?.bool == true else { return "no fuel gauge on this board" }
            let limits = result["thresholds"]
            return Output.block([
                (
                    "Charge",
                    result["percent"] == nil
                        ? "not read yet" : "\(Output.number(result["percent"]?.number)) %"
                ),
                ("Voltage", result["millivolts"]?.int.map { "\($0) mV" } ?? ""),
                ("Level", result["level"]?.string ?? "?"),
                ("Gauge", result["gaugeFault"]?.string.map { "FAULT: \($0)" } ?? "ok"),
                (
                    "Policy",
                    "low below \(limits?["low"]?.int ?? 0) %, critical below \(limits?["critical"]?.int ?? 0) %, "
                        + "moves refused below \(limits?["reserve"]?.int ?? 0) % "
                        + "or \(limits?["reserveMillivolts"]?.int ?? 0) mV per cell"
                ),
            ])
        }
    }
}
