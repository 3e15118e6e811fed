import BoltworkControl
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A program's exit status and output.
struct Run {
    var status: Int32
    var out: String
    var err: String
}

/// Finds the built `boltd` and `boltctl` next to the test bundle, runs them as separate
/// processes, and keeps a real daemon's state in a temporary directory.
final class Rig {
    let directory: String
    let socket: String
    let boltd: String
    let boltctl: String
    private var daemon: Process?
    private var runs = 0

    init() throws {
        guard let boltd = Self.binary("boltd"), let boltctl = Self.binary("boltctl") else {
            throw BenchFailure(
                description: "boltd and boltctl are not built next to the tests (swift build --build-tests)")
        }
        self.boltd = boltd
        self.boltctl = boltctl
        directory = "/tmp/boltctl-e2e-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o755)  // another account must be able to reach the socket's inode
        socket = directory + "/control.sock"
        try Data("auto-relock-seconds: 0\n".utf8).write(to: URL(fileURLWithPath: directory + "/lock.yaml"))
    }

    deinit {
        if let daemon, daemon.isRunning { daemon.terminate() }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The executable `name` in the build directory that holds the running test bundle.
    static func binary(_ name: String) -> String? {
        let bundle = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let candidates = [
            bundle.deletingLastPathComponent().appendingPathComponent(name).path,
            repositoryRoot.appendingPathComponent(".build/debug/\(name)").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `executable` with `arguments`, `input` on standard input, and waits for it.
    func run(
        _ executable: String, _ arguments: [String], input: String? = nil, environment: [String: String] = [:]
    ) throws -> Run {
        runs += 1
        let out = "\(directory)/run-\(runs).out"
        let err = "\(directory)/run-\(runs).err"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: ControlProtocol.socketEnvironmentVariable)
        env.merge(environment) { _, new in new }
        process.environment = env
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus,
            out: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            err: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    /// Runs boltctl against the rig's daemon.
    func ctl(_ arguments: [String], input: String? = nil) throws -> Run {
        try run(boltctl, ["--socket", socket] + arguments, input: input)
    }

    /// Runs boltctl with `--json` and parses its one line of output.
    func json(_ arguments: [String], input: String? = nil) throws -> JSONValue {
        let result = try ctl(["--json"] + arguments, input: input)
        guard result.status == 0 else {
            throw BenchFailure(description: "boltctl \(arguments) exited \(result.status): \(result.err)")
        }
        return try ControlCoding.decoder.decode(JSONValue.self, from: Data(result.out.utf8))
    }

    /// Sets the first admin code with `boltd init`.
    func initialize(code: String) throws -> Run {
        try run(boltd, ["init", "--state", directory, "--code-stdin"], input: code + "\n")
    }

    /// Starts `boltd run --simulated` and waits (bounded) until its socket answers.
    func startDaemon() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: boltd)
        process.arguments = [
            "run", "--simulated", "--board",
            repositoryRoot.appendingPathComponent("Boards/simulator.yaml").path,
            "--config", directory + "/lock.yaml", "--state", directory, "--socket", socket,
        ]
        _ = FileManager.default.createFile(atPath: daemonLog, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: daemonLog))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        daemon = process
        let ready = poll(seconds: 60) {
            guard process.isRunning else { return true }
            return (try? ControlClient(path: socket)) != nil
        }
        guard ready, process.isRunning else {
            throw BenchFailure(description: "boltd did not come up: \(daemonOutput)")
        }
    }

    /// Stops the daemon with SIGTERM and returns how it exited.
    func stopDaemon() -> (status: Int32, reason: Process.TerminationReason)? {
        guard let daemon else { return nil }
        daemon.terminate()
        daemon.waitUntilExit()
        return (daemon.terminationStatus, daemon.terminationReason)
    }

    var daemonLog: String { directory + "/boltd.log" }
    var daemonOutput: String { (try? String(contentsOfFile: daemonLog, encoding: .utf8)) ?? "" }
}

/// Waits until `condition` holds, checking every 20 ms, for at most `seconds`.
func poll(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

@Suite("boltctl against a real boltd", .serialized)
struct EndToEndTests {
    @Test("every command, as a separate process against boltd run --simulated, with output and exit codes")
    func everyCommand() throws {
        let rig = try Rig()
        let initialized = try rig.initialize(code: "246810")
        #expect(initialized.status == 0, "\(initialized.err)")
        #expect(initialized.out.contains("admin code set for admin"))
        try rig.startDaemon()

        // status: through BOLTWORK_SOCKET, human and JSON; --json before or after the subcommand.
        let status = try rig.run(rig.boltctl, ["status"], environment: ["BOLTWORK_SOCKET": rig.socket])
        #expect(status.status == 0, "\(status.err)")
        for line in [
            "Bolt", "Door        closed", "Mode        normal", "Battery", "Lockout     none",
            "Admin code  set",
        ] {
            #expect(status.out.contains(line), "status shows \(line):\n\(status.out)")
        }
        #expect(status.out.contains("Latest events:"))
        let statusJSON = try rig.json(["status"])
        #expect(statusJSON["hasAdminCode"]?.bool == true)
        #expect(statusJSON["mode"]?.string == "normal")
        #expect(try rig.ctl(["status", "--json"]).out == (try rig.ctl(["--json", "status"]).out))

        // users
        let alice = try rig.ctl(["users", "add", "alice", "--role", "resident"])
        #expect(alice.status == 0, "\(alice.err)")
        #expect(alice.out.contains("alice"))
        let bob = try rig.ctl(
            ["users", "add", "bob", "--role", "service", "--set-code", "--stdin"], input: "135790\n")
        #expect(bob.status == 0, "\(bob.err)")
        let list = try rig.ctl(["users", "list"])
        #expect(list.status == 0)
        #expect(list.out.hasPrefix("ID  NAME   ROLE      KIND"))
        for name in ["admin", "alice", "bob"] { #expect(list.out.contains(name)) }
        #expect(try rig.json(["users", "list"])["users"]?.array?.count == 3)
        let show = try rig.ctl(["users", "show", "alice"])
        #expect(show.out.contains("Role"))
        #expect(show.out.contains("resident"))
        #expect(try rig.ctl(["users", "disable", "alice"]).out == "disabled alice\n")
        #expect(try rig.json(["users", "show", "alice"])["user"]?["enabled"]?.bool == false)
        #expect(try rig.ctl(["users", "enable", "alice"]).status == 0)
        #expect(try rig.json(["users", "show", "2"])["user"]?["enabled"]?.bool == true)
        let missing = try rig.ctl(["users", "show", "zed"])
        #expect(missing.status == 1)
        #expect(missing.err.contains("(unknown-user)"))

        // codes: from standard input, never from the command line; a taken code is refused.
        let setCode = try rig.ctl(["code", "set", "alice", "--stdin"], input: "112233\n")
        #expect(setCode.status == 0, "\(setCode.err)")
        #expect(setCode.out == "code set for alice\n")
        let taken = try rig.ctl(["code", "set", "bob", "--stdin"], input: "112233\n")
        #expect(taken.status == 1)
        #expect(taken.err.contains("(duplicate-code)"))
        let onCommandLine = try rig.ctl(["code", "set", "alice", "112233"])
        #expect(onCommandLine.status == 2)
        #expect(!onCommandLine.err.contains("112233"), "a code typed as an argument is not echoed")
        #expect(onCommandLine.err.contains("--stdin"))
        let usageJSON = try rig.ctl(["--json", "mode", "party"])
        #expect(usageJSON.status == 2)
        #expect(usageJSON.out.contains("\"ok\":false"))
        let noTerminal = try rig.ctl(["code", "set", "alice"], input: "112233\n")
        #expect(noTerminal.status == 2)
        #expect(noTerminal.err.contains("--stdin"))

        // guests
        let visitor = try rig.ctl(
            [
                "guest", "add", "visitor", "--expires-after", "30m", "--from", "2026-01-01", "--until",
                "2099-12-31", "--stdin",
            ],
            input: "445566\n")
        #expect(visitor.status == 0, "\(visitor.err)")
        let visitorJSON = try rig.json(["users", "show", "visitor"])["user"]
        #expect(visitorJSON?["role"]?.string == "guest")
        #expect(visitorJSON?["kind"]?.string == "expiring")
        #expect(visitorJSON?["expiresAfterMinutes"]?.int == 30)
        #expect(visitorJSON?["schedules"]?.array?.first?["text"]?.string == "2026-01-01..2099-12-31")
        #expect(try rig.ctl(["guest", "add", "courier", "--stdin"], input: "778899\n").status == 0)
        #expect(try rig.json(["users", "show", "courier"])["user"]?["kind"]?.string == "disposable")

        // schedules
        let added = try rig.ctl([
            "schedule", "alice", "add", "mon-fri", "08:00-17:00", "2026-12-01..2026-12-24",
        ])
        #expect(added.status == 0, "\(added.err)")
        #expect(added.out == "alice:\n  mon-fri 08:00-17:00\n  2026-12-01..2026-12-24\n")
        #expect(try rig.ctl(["schedule", "alice"]).out == added.out)
        let badSchedule = try rig.ctl(["schedule", "alice", "add", "mon-fri 8-17"])
        #expect(badSchedule.status == 2)
        #expect(badSchedule.err.contains("08:00-17:00"))
        #expect(
            try rig.ctl(["schedule", "alice", "clear"]).out
                == "alice: no schedule, the code works at any time\n")

        // mode
        #expect(try rig.ctl(["mode", "vacation"]).out == "mode vacation\n")
        #expect(try rig.ctl(["mode"]).out == "mode vacation\n")
        #expect(try rig.ctl(["mode", "normal"]).status == 0)
        #expect(try rig.ctl(["mode", "party"]).status == 2)

        // wrong codes, the lockout, its reset
        for attempt in 1...5 {
            let wrong = try rig.ctl(["unlock", "--code-stdin"], input: "99999\(attempt)\n")
            #expect(wrong.status == 1)
            #expect(wrong.err.contains("(invalid-code)"))
        }
        let lockedOut = try rig.ctl(["unlock", "--code-stdin"], input: "246810\n")
        #expect(lockedOut.status == 1)
        #expect(lockedOut.err.contains("(locked-out)"))
        let lockout = try rig.ctl(["lockout", "status"])
        #expect(lockout.out.contains("locked out until"))
        #expect(lockout.out.contains("5 in a row"))
        #expect(try rig.json(["lockout"])["lockedOut"]?.bool == true)
        let reset = try rig.ctl(["lockout", "reset"])
        #expect(reset.status == 0)
        #expect(reset.out.hasPrefix("lockout reset\n"))
        #expect(try rig.json(["lockout", "status"])["wrongCodes"]?.int == 0)

        // lock and unlock move the simulated bolt
        let lock = try rig.ctl(["lock"])
        #expect(lock.status == 0, "\(lock.err)")
        #expect(lock.out == "bolt locked\n")
        let unlock = try rig.ctl(["unlock", "--code-stdin"], input: "246810\n")
        #expect(unlock.status == 0, "\(unlock.err)")
        #expect(unlock.out == "bolt unlocked\n")
        #expect(try rig.json(["lock"])["bolt"]?.string == "locked")
        #expect(try rig.ctl(["unlock"]).out == "bolt unlocked\n")

        // the log and its filters
        let admin = try rig.ctl(["log", "--kind", "admin", "--limit", "0"])
        #expect(admin.status == 0)
        #expect(admin.out.hasPrefix("SEQ"))
        #expect(admin.out.contains("user-added"))
        #expect(admin.out.contains("by root (uid 0)") || getuid() != 0)
        #expect(!admin.out.contains("invalid-code"))
        let refusals = try rig.json(["log", "--kind", "refusal", "--limit", "0"])["records"]?.array ?? []
        #expect(
            refusals.compactMap { $0["action"]?.string } == Array(repeating: "invalid-code", count: 5) + [
                "locked-out"
            ])
        let aliceRecords = try rig.json(["log", "--user", "alice", "--limit", "0"])["records"]?.array ?? []
        #expect(!aliceRecords.isEmpty)
        #expect(aliceRecords.allSatisfy { $0["userName"]?.string == "alice" })
        #expect(
            try rig.json(["log", "--kind", "unlocked,locked", "--since", "1h"])["records"]?.array?.count == 4)
        #expect(try rig.ctl(["log", "--until", "2000-01-01"]).out == "no matching records\n")
        #expect(try rig.ctl(["log", "--since", "whenever"]).status == 2)

        // following the log: a separate process prints each new admin record as it is committed
        let followOut = rig.directory + "/follow.out"
        _ = FileManager.default.createFile(atPath: followOut, contents: nil)
        let follower = Process()
        follower.executableURL = URL(fileURLWithPath: rig.boltctl)
        follower.arguments = [
            "--socket", rig.socket, "--json", "log", "--follow", "--kind", "admin", "--limit", "1",
        ]
        follower.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: followOut))
        follower.standardError = FileHandle.nullDevice
        try follower.run()
        func followed() -> String { (try? String(contentsOfFile: followOut, encoding: .utf8)) ?? "" }
        #expect(poll(seconds: 30) { followed().split(separator: "\n").count == 1 })
        #expect(try rig.ctl(["users", "add", "frank"]).status == 0)
        #expect(
            poll(seconds: 30) { followed().contains("\"userName\":\"frank\"") }, "followed: \(followed())")
        follower.terminate()
        follower.waitUntilExit()

        // export and verify
        let records = try rig.json(["log", "verify"])["records"]?.int ?? 0
        #expect(records > 20)
        let jsonl = try rig.ctl(["log", "export", "--format", "jsonl"])
        #expect(jsonl.status == 0)
        #expect(jsonl.out.split(separator: "\n").count >= records)
        #expect(jsonl.out.split(separator: "\n").allSatisfy { $0.hasPrefix("{\"action\":") })
        let csvPath = rig.directory + "/audit.csv"
        let csv = try rig.ctl(["log", "export", "--format", "csv", "--output", csvPath])
        #expect(csv.status == 0, "\(csv.err)")
        #expect(csv.err.contains("exported"))
        let csvText = try String(contentsOfFile: csvPath, encoding: .utf8)
        #expect(
            csvText.hasPrefix(
                "sequence,time,action,category,source,user_id,user_name,detail,previous_hash,hash\r\n"))
        let verify = try rig.ctl(["log", "verify"])
        #expect(verify.status == 0)
        #expect(verify.out.hasPrefix("audit chain intact"))

        // battery
        let battery = try rig.ctl(["battery"])
        #expect(battery.status == 0)
        #expect(battery.out.contains("Charge"))
        #expect(battery.out.contains("Level"))
        let batteryJSON = try rig.json(["battery"])
        #expect(batteryJSON["present"]?.bool == true)
        #expect(batteryJSON["percent"]?.number != nil)

        // doctor: bob's service code never expires, so the lock needs attention (exit 1), and
        // every finding comes with its fix.
        let doctor = try rig.ctl(["doctor"])
        #expect(doctor.status == 1, "\(doctor.err)")
        #expect(doctor.out.contains("[guest-code-no-expiry]"), "\(doctor.out)")
        #expect(doctor.out.contains("'bob' (#3), service"))
        #expect(doctor.out.contains("Fix: "))
        let doctorJSON = try ControlCoding.decoder.decode(
            JSONValue.self, from: Data(try rig.ctl(["--json", "doctor"]).out.utf8))
        let ids = doctorJSON["findings"]?.array?.compactMap { $0["id"]?.string } ?? []
        #expect(ids.contains("guest-code-no-expiry"))
        #expect(!ids.contains("admin-code-missing"), "the admin code was set with boltd init")

        #expect(try rig.ctl(["users", "remove", "courier"]).out == "removed courier\n")
        #expect(try rig.ctl(["frobnicate"]).status == 2)

        // Codes never reach the daemon's log.
        let log = rig.daemonOutput
        #expect(log.contains("boltd ready"))
        for code in ["246810", "135790", "112233", "445566", "778899", "999991"] {
            #expect(!log.contains(code), "the daemon's log holds a code")
        }

        // SIGTERM: a clean stop that removes the socket.
        let stopped = try #require(rig.stopDaemon())
        #expect(stopped.reason == .exit)
        #expect(stopped.status == 0)
        #expect(!FileManager.default.fileExists(atPath: rig.socket))
    }

    @Test(
        "a socket another account may not use: exit 4, naming the socket's group and the usermod fix",
        .enabled(
            if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
            "needs root to run boltctl as another account"))
    func permissionDenied() throws {
        let rig = try Rig()
        try rig.startDaemon()
        // The socket is 0660 root:root. The client runs as nobody from a copy in the rig's
        // directory (the build directory may sit where nobody cannot reach it).
        let client = rig.directory + "/boltctl"
        try FileManager.default.copyItem(atPath: rig.boltctl, toPath: client)
        chmod(client, 0o755)
        let denied = try rig.run(
            "/usr/bin/setpriv",
            [
                "--reuid=65534", "--regid=65534", "--clear-groups", "--", client, "--socket", rig.socket,
                "status",
            ])
        #expect(denied.status == 4, "\(denied.err)")
        #expect(denied.err.contains("permission denied"))
        #expect(denied.err.contains("'root' group"))
        #expect(denied.err.contains("usermod -aG root"))
        #expect(rig.stopDaemon()?.status == 0)
    }

    @Test("no daemon: exit 3 with what to do, in human and JSON form")
    func daemonDown() throws {
        let rig = try Rig()
        let down = try rig.ctl(["status"])
        #expect(down.status == 3)
        #expect(down.err.contains("boltd is not running"))
        #expect(down.err.contains("systemctl start boltd"))
        let json = try rig.ctl(["--json", "users", "list"])
        #expect(json.status == 3)
        #expect(json.out.contains("\"code\":\"daemon-not-running\""))
    }

    @Test("the help documents the exit codes, and there is no way to give a code as an argument")
    func help() throws {
        let rig = try Rig()
        let help = try rig.run(rig.boltctl, ["--help"])
        #expect(help.status == 0)
        for line in ["3  boltd is not running", "4  permission denied", "2  usage", "5  protocol"] {
            #expect(help.out.contains(line), "help documents \(line)")
        }
        let codeHelp = try rig.run(rig.boltctl, ["code", "set", "--help"])
        #expect(codeHelp.out.contains("--stdin"))
        #expect(!codeHelp.out.contains("--code "))
    }
}
