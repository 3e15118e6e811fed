import BoltworkBoard
import BoltworkControl
import BoltworkDaemon
import BoltworkHAL
import BoltworkLock
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("The control handler on a simulated lock")
struct ControlHandlerTests {
    let account = ControlPeer(pid: 0, uid: getuid(), gid: getgid()).accountName

    @Test("hello names the protocol version and the commands; an unknown command says so")
    func hello() throws {
        let bench = try HandlerBench()
        let hello = try bench.result("hello")
        #expect(hello["protocol"]?.int == ControlProtocol.version)
        #expect(hello["commands"]?.array?.contains(.string("users.add")) == true)
        let unknown = bench.send("frobnicate")
        #expect(unknown.error?.code == "unknown-command")
        #expect(unknown.error?.message.contains("protocol \(ControlProtocol.version)") == true)
    }

    @Test("status reports the bolt, door, mode, battery, lockout and the latest events")
    func status() throws {
        let bench = try HandlerBench()
        let status = try bench.result("status")
        #expect(status["bolt"]?.string == "unlocked" || status["bolt"]?.string == "locked")
        #expect(status["door"]?.string == "closed")
        #expect(status["mode"]?.string == "normal")
        #expect(status["hasAdminCode"]?.bool == false)
        #expect(status["wrongCodes"]?.int == 0)
        #expect(status["battery"]?["percent"]?.number != nil)
        let recent = try #require(status["recent"]?.array)
        #expect(recent.last?["action"]?.string == "started")
    }

    @Test(
        "users are added, listed, shown by name or id, disabled, enabled and removed, each change recorded with the peer's account"
    )
    func users() throws {
        let bench = try HandlerBench()
        try bench.initializeAdmin()
        let added = try bench.result(
            "users.add",
            ["name": .string("alice"), "role": .string("resident"), "kind": .string("permanent")])
        let id = try #require(added["user"]?["id"]?.int)
        #expect(added["user"]?["hasCode"]?.bool == false)
        #expect(added["user"]?["enabled"]?.bool == true)

        let list = try bench.result("users.list")
        #expect(list["users"]?.array?.compactMap { $0["name"]?.string } == ["admin", "alice"])
        #expect(
            try bench.result("users.show", ["user": .string("#\(id)")])["user"]?["name"]?.string == "alice")
        #expect(
            try bench.result("users.show", ["user": .string("\(id)")])["user"]?["name"]?.string == "alice")

        let duplicate = bench.send("users.add", ["name": .string("alice")])
        #expect(duplicate.error?.code == "duplicate-user")
        #expect(
            bench.send("users.add", ["name": .string("bob"), "role": .string("owner")]).error?.code
                == "bad-arguments")
        #expect(bench.send("users.show", ["user": .string("nobody")]).error?.code == "unknown-user")

        #expect(
            try bench.result("users.disable", ["user": .string("alice")])["user"]?["enabled"]?.bool == false)
        #expect(
            try bench.result("users.enable", ["user": .string("alice")])["user"]?["enabled"]?.bool == true)
        #expect(
            try bench.result("users.remove", ["user": .string("alice")])["removed"]?["name"]?.string
                == "alice")
        #expect(bench.send("users.show", ["user": .string("alice")]).error?.code == "unknown-user")

        let records = try bench.records()
        let actor = "by \(account) (uid \(getuid()))"
        for action in [AuditAction.userAdded, .userChanged, .userRemoved] {
            #expect(
                records.contains { $0.event.action == action && $0.event.detail.contains(actor) },
                "\(action) names \(actor)")
        }
    }

    @Test(
        "a code set over the socket opens the lock, is never echoed, and a taken or malformed code is refused"
    )
    func codes() throws {
        let bench = try HandlerBench()
        try bench.initializeAdmin("246810")
        _ = try bench.result("users.add", ["name": .string("carol")])
        let set = bench.send("code.set", ["user": .string("carol"), "code": .string("135790")])
        #expect(set.ok)
        #expect(set.result?["user"]?["hasCode"]?.bool == true)
        #expect(!"\(set)".contains("135790"))
        let decision = try bench.lock.controller.access.authorize(digits: "135790")
        #expect(decision.isGranted)

        let taken = bench.send("code.set", ["user": .string("carol"), "code": .string("246810")])
        #expect(taken.error?.code == "duplicate-code")
        #expect(taken.error?.message.contains("246810") == false)
        let malformed = bench.send("code.set", ["user": .string("carol"), "code": .string("12ab")])
        #expect(malformed.error?.code == "invalid-code-format")
        #expect(bench.send("code.set", ["user": .string("carol")]).error?.code == "bad-arguments")

        #expect(try bench.result("code.clear", ["user": .string("carol")])["user"]?["hasCode"]?.bool == false)
        #expect(try bench.lock.controller.access.authorize(digits: "135790").isGranted == false)
        #expect(try bench.records().allSatisfy { !$0.event.detail.contains("135790") })
        #expect(bench.lines.withLock { $0 }.allSatisfy { !$0.contains("135790") })
    }

    @Test("guests: single-use and expiring codes with a validity window")
    func guests() throws {
        let bench = try HandlerBench()
        try bench.initializeAdmin()
        let expiring = try bench.result(
            "users.add",
            [
                "name": .string("plumber"), "role": .string("guest"), "kind": .string("expiring"),
                "expiresAfter": .string("30m"), "code": .string("555111"),
                "schedules": .array([.string("2027-01-10..2027-01-12")]),
            ])
        #expect(expiring["user"]?["kind"]?.string == "expiring")
        #expect(expiring["user"]?["expiresAfterMinutes"]?.int == 30)
        #expect(expiring["user"]?["schedules"]?.array?.first?["text"]?.string == "2027-01-10..2027-01-12")
        let once = try bench.result(
            "users.add",
            ["name": .string("courier"), "kind": .string("disposable"), "code": .string("555222")])
        #expect(once["user"]?["kind"]?.string == "disposable")
        #expect(
            bench.send("users.add", ["name": .string("x"), "kind": .string("expiring")]).error?.code
                == "bad-arguments")
        #expect(
            bench.send(
                "users.add",
                ["name": .string("y"), "kind": .string("expiring"), "expiresAfter": .string("soon")]
            )
            .error?.message.contains("30m") == true)
    }

    @Test("schedules are added as text, shown as typed, validated, and cleared")
    func schedules() throws {
        let bench = try HandlerBench()
        try bench.initializeAdmin()
        _ = try bench.result("users.add", ["name": .string("cleaner"), "role": .string("service")])
        let added = try bench.result(
            "schedule.add",
            [
                "user": .string("cleaner"),
                "schedules": .array([.string("mon-fri 08:00-17:00"), .string("2026-12-01..2026-12-24")]),
            ])
        let schedules = try #require(added["user"]?["schedules"]?.array)
        #expect(
            schedules.compactMap { $0["text"]?.string } == ["mon-fri 08:00-17:00", "2026-12-01..2026-12-24"])
        #expect(schedules.first?["days"]?.array?.count == 5)
        #expect(schedules.first?["startMinute"]?.int == 480)
        let bad = bench.send(
            "schedule.add", ["user": .string("cleaner"), "schedules": .string("mon-fri 8-17")])
        #expect(bad.error?.code == "bad-arguments")
        #expect(bad.error?.message.contains("08:00-17:00") == true)
        let cleared = try bench.result("schedule.clear", ["user": .string("cleaner")])
        #expect(cleared["user"]?["schedules"]?.array?.isEmpty == true)
    }

    @Test(
        "wrong codes over the socket start the lockout; lockout.status shows it and lockout.reset clears it")
    func lockout() async throws {
        let bench = try HandlerBench()
        try bench.initializeAdmin()
        for attempt in 1...5 {
            let response = await bench.sendOffPool("unlock", ["code": .string("00000\(attempt)")])
            #expect(response.error?.code == "invalid-code")
        }
        #expect(await bench.sendOffPool("unlock", ["code": .string("246810")]).error?.code == "locked-out")
        let status = try bench.result("lockout.status")
        #expect(status["lockedOut"]?.bool == true)
        #expect(status["wrongCodes"]?.int == 5)
        #expect(status["threshold"]?.int == 5)
        #expect((status["retryAfterSeconds"]?.int ?? 0) > 0)
        let reset = try bench.result("lockout.reset")
        #expect(reset["lockedOut"]?.bool == false)
        #expect(reset["wrongCodes"]?.int == 0)
        #expect(
            try bench.records().contains {
                $0.event.action == .lockoutReset && $0.event.detail.contains("uid \(getuid())")
            })
    }

    @Test("the mode is shown and set; passage refuses a lock")
    func mode() async throws {
        let bench = try HandlerBench()
        try bench.initializeAdmin()
        #expect(try bench.result("mode")["mode"]?.string == "normal")
        #expect(try bench.result("mode", ["mode": .string("vacation")])["mode"]?.string == "vacation")
        #expect(bench.send("mode", ["mode": .string("party")]).error?.code == "bad-arguments")
        #expect(try bench.lock.controller.access.mode() == .vacation)
        #expect(
            try bench.records().contains {
                $0.event.action == .modeChanged && $0.event.detail.contains("normal → vacation")
                    && $0.event.detail.contains("uid \(getuid())")
            })
        _ = try bench.result("mode", ["mode": .string("passage")])
        #expect(await bench.sendOffPool("lock").error?.code == "refused-by-mode")
    }

    @Test("lock and unlock wait for the bolt; an unlock with the right code names the user")
    func moves() async throws {
        let bench = try HandlerBench()
        try bench.initializeAdmin("246810")
        let locked = try #require(await bench.sendMoving("lock"))
        #expect(locked.result?["bolt"]?.string == "locked")
        let unlocked = try #require(await bench.sendMoving("unlock", ["code": .string("246810")]))
        #expect(unlocked.result?["bolt"]?.string == "unlocked")
        #expect(
            try bench.records().contains {
                $0.event.action == .unlocked && $0.event.source == .remote && $0.event.userName == "admin"
            })
        #expect(await bench.sendOffPool("lock", ["code": .string("246810")]).error?.code == "bad-arguments")
    }

    @Test("the log filters by kind, action, user, time and limit")
    func logFilters() async throws {
        let bench = try HandlerBench()
        try bench.initializeAdmin()
        _ = try bench.result("users.add", ["name": .string("dave")])
        _ = await bench.sendOffPool("unlock", ["code": .string("999999")])
        _ = try bench.result("users.disable", ["user": .string("dave")])

        func actions(_ arguments: [String: JSONValue]) throws -> [String] {
            var arguments = arguments
            arguments["limit"] = .integer(0)
            return try bench.result("log", arguments)["records"]?.array?.compactMap { $0["action"]?.string }
                ?? []
        }
        #expect(
            try actions(["kinds": .array([.string("admin")])]) == [
                "user-added", "code-set", "user-added", "user-changed",
            ])
        #expect(try actions(["kinds": .array([.string("refusal")])]) == ["invalid-code"])
        #expect(
            try actions(["kinds": .array([.string("invalid-code"), .string("started")])]) == [
                "started", "invalid-code",
            ])
        #expect(try actions(["user": .string("dave")]) == ["user-added", "user-changed"])
        #expect(try actions(["since": .string("1h")]).count == 6)
        #expect(try actions(["until": .string("2000-01-01")]).isEmpty)
        #expect(try bench.result("log", ["limit": .integer(2)])["records"]?.array?.count == 2)
        #expect(bench.send("log", ["kinds": .array([.string("party")])]).error?.code == "bad-arguments")
        #expect(bench.send("log", ["since": .string("yesterday-ish")]).error?.code == "bad-arguments")
        let record = try #require(try bench.result("log", ["limit": .integer(1)])["records"]?.array?.first)
        for field in ["sequence", "time", "action", "category", "detail", "text"] {
            #expect(record[field] != nil, "records carry \(field)")
        }
    }

    @Test("export pages through the log as JSON Lines or CSV; verify checks the chain")
    func exportAndVerify() throws {
        let bench = try HandlerBench()
        try bench.initializeAdmin()
        _ = try bench.result("users.add", ["name": .string("erin")])
        let total = try bench.records().count
        let jsonl = try bench.result("export", ["format": .string("jsonl")])
        #expect(jsonl["records"]?.int == total)
        #expect(jsonl["more"]?.bool == false)
        let lines = jsonl["text"]?.string?.split(separator: "\n") ?? []
        #expect(lines.count == total)
        #expect(lines.first?.contains("\"previousHash\"") == true)

        let first = try bench.result("export", ["format": .string("csv"), "limit": .integer(2)])
        #expect(first["more"]?.bool == true)
        #expect(first["text"]?.string?.hasPrefix("sequence,time,action") == true)
        let last = try #require(first["lastSequence"]?.int)
        let rest = try bench.result(
            "export", ["format": .string("csv"), "afterSequence": .integer(last), "limit": .integer(1000)])
        #expect(rest["text"]?.string?.hasPrefix("sequence") == false)
        #expect(rest["records"]?.int == total - 2)
        #expect(bench.send("export", ["format": .string("xml")]).error?.code == "bad-arguments")

        #expect(try bench.result("verify")["intact"]?.bool == true)
        bench.store.tamper(sequence: 2) { $0.event.detail = "edited" }
        let broken = try bench.result("verify")
        #expect(broken["intact"]?.bool == false)
        #expect(broken["sequence"]?.int == 2)
    }

    @Test("battery shows the reading, the level and the policy")
    func battery() throws {
        let bench = try HandlerBench()
        bench.simulator.execute("battery 20")
        let battery = try bench.result("battery")
        #expect(battery["present"]?.bool == true)
        #expect(battery["percent"]?.number.map { abs($0 - 20) < 1 } == true)
        #expect(battery["millivolts"]?.int != nil)
        #expect(battery["level"]?.string == "low")
        #expect(battery["thresholds"]?["low"]?.int == 25)
    }

    @Test(
        "following the log pushes each new matching record after the answer, and stops when the client leaves"
    )
    func follow() async throws {
        let bench = try HandlerBench()
        try bench.initializeAdmin()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "boltctl-\(UUID().uuidString).sock"
        ).path
        let server = try ControlHandler.server(path: path, group: nil, lock: bench.lock)
        defer { server.close() }
        do {
            let client = try ControlClient(path: path, receiveTimeout: .seconds(30))
            let answer = try client.send(
                "log", ["follow": .bool(true), "kinds": .array([.string("admin")]), "limit": .integer(1)])
            #expect(answer.ok)
            #expect(answer.result?["following"]?.bool == true)
            #expect(answer.result?["records"]?.array?.count == 1)
            #expect(bench.lock.feed.subscriberCount == 1)

            _ = await bench.sendOffPool("unlock", ["code": .string("000000")])  // a refusal: filtered out
            _ = try bench.result("users.add", ["name": .string("frank")])
            let event = try #require(try client.nextEvent())
            #expect(event.id == answer.id)
            #expect(event.event == "audit")
            #expect(event.data["action"]?.string == "user-added")
            #expect(event.data["userName"]?.string == "frank")
        }
        // The client is gone: the subscription ends once the server notices.
        for _ in 0..<1_000_000 where bench.lock.feed.subscriberCount > 0 { sched_yield() }
        #expect(bench.lock.feed.subscriberCount == 0)
    }
}
