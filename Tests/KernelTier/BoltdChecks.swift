// boltd end to end in the guest: the real daemon on a board file for the simulated board,
// driven by the hardware model's keypad and bolt, observed through its control socket, its
// audit log and the model's pins; then killed with SIGKILL in the middle of a move and
// restarted.
import BoltworkControl
import BoltworkHAL
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where boltd and its files are (`--boltd`, `--boltd-board`, `--boltd-config`).
struct BoltdSetup {
    var boltd: String
    var board: String
    var config: String
}

/// One request over the control socket, with a deadline (the JSON-lines protocol).
enum Control {
    /// Sends `command` and returns the response's result; a failure response throws.
    static func request(
        _ socket: String, _ command: String, _ arguments: [String: JSONValue] = [:], seconds: Double = 30
    ) throws -> JSONValue {
        let response = try exchange(socket, command, arguments, seconds: seconds)
        guard response.ok else {
            throw CheckFailure(
                description:
                    "\(command): \(response.error?.code ?? "?"): \(response.error?.message ?? "no message")")
        }
        return response.result ?? .null
    }

    static func exchange(
        _ socket: String, _ command: String, _ arguments: [String: JSONValue], seconds: Double
    ) throws -> ControlResponse {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw CheckFailure(description: "socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socket.utf8)
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw CheckFailure(description: "socket path too long: \(socket)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path)
            raw[path.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            throw CheckFailure(description: "cannot connect to \(socket): errno \(errno)")
        }
        let line = try ControlCoding.line(ControlRequest(id: 1, command: command, arguments: arguments))
        let sent = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard sent == line.count else { throw CheckFailure(description: "cannot send \(command)") }
        var received: [UInt8] = []
        let deadline = monotonicMilliseconds() + Int64(seconds * 1000)
        while !received.contains(0x0A) {
            let left = deadline - monotonicMilliseconds()
            guard left > 0 else {
                throw CheckFailure(description: "\(command): no answer within \(Int(seconds)) s")
            }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, Int32(min(left, 1000))) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else {
                throw CheckFailure(description: "\(command): boltd closed the connection")
            }
            received += chunk[0..<count]
        }
        let answer = received.prefix { $0 != 0x0A }
        return try ControlCoding.decoder.decode(ControlResponse.self, from: Data(answer))
    }

    /// The audit log, oldest first: (sequence, action, text).
    static func auditLog(_ socket: String) throws -> [(sequence: Int, action: String, text: String)] {
        // Protocol 2: {records: [...], following}; limit 0 means every record.
        guard case .array(let records) = try request(socket, "log", ["limit": .number(0)]).object?["records"]
        else {
            throw CheckFailure(description: "log: the result has no list of records")
        }
        return records.compactMap { record in
            guard let fields = record.object, let sequence = fields["sequence"]?.number,
                let action = fields["action"]?.string, let text = fields["text"]?.string
            else { return nil }
            return (Int(sequence), action, text)
        }.sorted { $0.sequence < $1.sequence }
    }
}

/// The scenario, across its checks: one model, one state directory, boltd started twice.
@MainActor final class BoltdScenario {
    let setup: BoltdSetup
    let directory = "/tmp/boltd-kernel-tier"
    var socket: String { directory + "/control.sock" }
    var logFile: String { directory + "/boltd.log" }
    /// A throwaway code for this guest's lock; never printed.
    let code = "461937"
    var model: ModelProcess?
    var daemon: ChildProcess?
    var failedStep: String?

    init(_ setup: BoltdSetup) { self.setup = setup }

    /// Runs one step as a check; after a failed step the later ones are reported as not run.
    func step(_ name: String, _ body: () throws -> Void) {
        if let failedStep {
            check(name) { throw CheckFailure(description: "not run: the step '\(failedStep)' failed") }
            return
        }
        var failed = false
        check(name) {
            do {
                try body()
            } catch {
                failed = true
                throw CheckFailure(description: "\(error)\(logTail())")
            }
        }
        if failed { failedStep = name }
    }

    func logTail() -> String {
        guard let text = try? readFile(logFile) else { return "" }
        let lines = text.split(separator: "\n").suffix(15)
        return "\n  boltd log (last lines):\n" + lines.map { "    " + $0 }.joined(separator: "\n")
    }

    func startDaemon() throws -> ChildProcess {
        let daemon = try ChildProcess(
            setup.boltd,
            [
                "run", "--board", setup.board, "--config", setup.config, "--state", directory, "--socket",
                socket,
            ], name: "boltd", stdout: .file(logFile), stderr: .file(logFile))
        self.daemon = daemon
        var lastError = ""
        let up = try waitUntil(seconds: 90, interval: .milliseconds(100)) {
            if let status = daemon.reap() {
                throw CheckFailure(description: "boltd exited with status \(status)")
            }
            do {
                _ = try Control.request(socket, "status", seconds: 10)
                return true
            } catch {
                lastError = "\(error)"
                return false
            }
        }
        try expect(up, "boltd did not answer on \(socket) within 90 s (\(lastError))")
        return daemon
    }

    func boltState() throws -> String {
        try Control.request(socket, "status").object?["bolt"]?.string ?? "?"
    }

    /// Polls the audit log until `predicate` holds for it.
    func waitForLog(
        _ what: String, seconds: Double = 60,
        _ predicate: ([(sequence: Int, action: String, text: String)]) -> Bool
    ) throws {
        var last: [(sequence: Int, action: String, text: String)] = []
        let found = try waitUntil(seconds: seconds, interval: .milliseconds(100)) {
            last = try Control.auditLog(socket)
            return predicate(last)
        }
        try expect(found, "\(what) not in the audit log within \(Int(seconds)) s; log: \(last.map(\.text))")
    }

    func run() {
        let prefix = "boltd: "
        var acknowledged: [(sequence: Int, action: String, text: String)] = []
        var logged: [String] = []
        var runsAtKill: (String?, String?) = (nil, nil)
        var finalLog: [(sequence: Int, action: String, text: String)] = []

        step(
            prefix
                + "init sets the admin code; run starts on the board file and reads the bolt from the switches"
        ) {
            try? FileManager.default.removeItem(atPath: directory)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            model = try ModelProcess(bolt: "extended", travelMilliseconds: 800)
            let initialize = try ChildProcess(
                setup.boltd, ["init", "--state", directory, "--code-stdin"], name: "boltd init", stdin: .pipe,
                stdout: .file(logFile), stderr: .file(logFile))
            try initialize.send(code)
            let status = initialize.wait(seconds: 120)
            try expect(status == 0, "boltd init ended with \(String(describing: status))")
            _ = try startDaemon()
            let bolt = try boltState()
            try expect(bolt == "locked", "boltd reports the bolt \(bolt); the model's bolt is extended")
            try expect(
                try Control.request(socket, "status").object?["hasAdminCode"]?.bool == true, "no admin code")
        }

        step(prefix + "the code typed on the keypad unlocks, the bolt retracts, auto-relock throws it again")
        {
            guard let model else { throw CheckFailure(description: "no model") }
            // boltd checks the code with scrypt on its clock thread: tens of milliseconds on a
            // board, seconds under TCG on a busy host, and the keypad scan waits meanwhile.
            try model.type(code + "#", perKey: 60)
            try model.waitFor("retracted", seconds: 90)
            try waitForLog("an unlock from the keypad by admin") { log in
                log.contains {
                    $0.action == "unlocked" && $0.text.contains("keypad") && $0.text.contains("admin")
                }
            }
            try model.waitFor("extended", seconds: 60)
            try waitForLog("the auto-relock") { log in
                guard let unlock = log.lastIndex(where: { $0.action == "unlocked" }) else { return false }
                return log[unlock...].contains { $0.action == "locked" && $0.text.contains("auto") }
            }
            let bolt = try boltState()
            try expect(bolt == "locked", "after the relock boltd reports \(bolt)")
            let status = try model.status()
            try expect(
                status["forward-runs"] == "1" && status["reverse-runs"] == "1" && status["bridge"] == "coast",
                "one retract and one throw expected, motor at rest: \(status)")
        }

        step(
            prefix
                + "kill -9 while the motor drives: restart reports the bolt between ends and does not move it"
        ) {
            guard let model, let daemon else { throw CheckFailure(description: "no model or daemon") }
            // The strike plate stops the next throw half way; the remote unlock retracts freely,
            // then the auto-relock drives into the plate.
            try model.command("obstruct 0.5")
            let unlocked = try Control.request(socket, "unlock")
            try expect(unlocked.object?["bolt"]?.string == "unlocked", "remote unlock: \(unlocked)")
            let blocked = try model.waitFor("blocked", seconds: 60)
            acknowledged = try Control.auditLog(socket)
            // boltd logs `info: event: TEXT` (`<6>event: TEXT` under journald).
            logged = try readFile(logFile).split(separator: "\n").compactMap { line in
                guard let range = line.range(of: "event: ") else { return nil }
                let prefix = line[..<range.lowerBound]
                guard prefix.isEmpty || prefix == "info: " || prefix.hasPrefix("<") else { return nil }
                return String(line[range.upperBound...])
            }
            try expect(!logged.isEmpty, "boltd logged no committed events before the kill")
            let releasedBefore = blocked["released-while-driving"] ?? "?"
            daemon.signal(SIGKILL)
            let status = daemon.wait(seconds: 30)
            try expect(
                status == 128 + SIGKILL, "boltd ended with \(String(describing: status)), not by SIGKILL")
            let after = try model.status()
            try expect(
                after["released-while-driving"] == String((Int(releasedBefore) ?? -9) + 1),
                "the motor lines were not released while the motor drove: before \(blocked), after \(after)")
            try expect(
                after["bridge"] != "forward" && after["bridge"] != "reverse", "motor still driven: \(after)")
            try expect(after["position"] == "500", "the bolt moved on: \(after)")
            runsAtKill = (after["forward-runs"], after["reverse-runs"])

            _ = try startDaemon()
            let bolt = try boltState()
            try expect(
                bolt.hasPrefix("not fully locked"),
                "after the restart boltd reports the bolt \(bolt), not between ends")
            let now = try model.status()
            try expect(
                (now["forward-runs"], now["reverse-runs"]) == runsAtKill && now["position"] == "500",
                "the restarted boltd moved the bolt: \(now)")
        }

        step(prefix + "after the restart no acknowledged audit record is lost and the audit chain verifies") {
            let log = try Control.auditLog(socket)
            let bySequence = Dictionary(
                log.map { ($0.sequence, $0) }, uniquingKeysWith: { first, _ in first })
            for record in acknowledged {
                guard let kept = bySequence[record.sequence], kept.action == record.action,
                    kept.text == record.text
                else {
                    throw CheckFailure(
                        description: "record \(record.sequence) (\(record.text)) is gone or changed")
                }
            }
            // Every event boltd logged as committed before the kill is in the log, in order.
            var texts = log.map(\.text)[...]
            for text in logged {
                guard let index = texts.firstIndex(of: text) else {
                    throw CheckFailure(
                        description: "logged event '\(text)' is not in the audit log after the restart")
                }
                texts = texts[(index + 1)...]
            }
            let afterKill = log.filter { $0.sequence > (acknowledged.last?.sequence ?? 0) }
            try expect(
                afterKill.contains { $0.action == "started" && $0.text.contains("not fully locked") },
                "no start record saying the bolt is not fully locked: \(afterKill.map(\.text))")
            try expect(
                afterKill.contains { $0.action == "not-fully-locked" },
                "no not-fully-locked alarm: \(afterKill.map(\.text))")
            let verify = try Control.request(socket, "verify").object ?? [:]
            try expect(verify["intact"]?.bool == true, "the audit chain does not verify: \(verify)")
            try expect(
                Int(verify["records"]?.number ?? 0) >= acknowledged.count + afterKill.count,
                "verified \(verify["records"] ?? .null) records, the log has \(log.count)")
        }

        step(prefix + "a remote lock recovers the bolt, and SIGTERM stops boltd cleanly") {
            guard let model, let daemon else { throw CheckFailure(description: "no model or daemon") }
            try model.command("clear")
            let locked = try Control.request(socket, "lock")
            try expect(locked.object?["bolt"]?.string == "locked", "remote lock: \(locked)")
            let status = try model.status()
            try expect(status["extended"] == "closed" && status["bridge"] == "coast", "model: \(status)")
            finalLog = try Control.auditLog(socket)
            daemon.signal(SIGTERM)
            let exit = daemon.wait(seconds: 60)
            try expect(exit == 0, "boltd ended with \(String(describing: exit)) after SIGTERM")
        }

        // The audit log of the run, for the record (no codes in it: boltd never logs them).
        for record in finalLog { print("  audit \(record.sequence) \(record.text)") }
        daemon?.signal(SIGKILL)
        _ = daemon?.wait(seconds: 10)
        model?.stop()
    }
}

@MainActor func runBoltdChecks(_ setup: BoltdSetup?) {
    guard let setup else {
        skip("boltd: end to end", "no --boltd PATH --boltd-board FILE --boltd-config FILE given")
        return
    }
    BoltdScenario(setup).run()
}
