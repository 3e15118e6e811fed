import BoltworkBoard
import BoltworkDrivers
import BoltworkHAL
import BoltworkLock
import BoltworkSimulation
import BoltworkStore
import Foundation
import Testing

/// The wrong-code lockout on the whole lock, over the SQLite store, across restarts.
@Suite("Lockout scenarios on the simulated board")
struct LockoutScenarioTests {
    static let wrong = "111111"
    static let access = AccessConfiguration(
        hashing: .testing, lockoutThreshold: 5, firstLockout: .seconds(30), lockoutCap: .seconds(240),
        keypadDisableThreshold: 25)

    /// The lock booted (again) over the database in `directory`, on `world` when given.
    func boot(_ directory: ScenarioDirectory, world: LockBench.World? = nil) throws -> LockBench {
        let bench = try LockBench(
            store: try SQLiteLockStore(path: directory.database), autoRelock: .zero, access: Self.access,
            world: world)
        bench.controller.start()
        return bench
    }

    @Test(
        "wrong codes on any channel lock out, doubling to the cap, across restarts; then the keypad waits for an admin"
    )
    func lockoutAcrossRestarts() async throws {
        let directory = try ScenarioDirectory()
        defer { directory.cleanUp() }
        var bench = try boot(directory)
        defer { bench.shutdown() }
        bench.controller.bolt.lock(source: .button) { _ in }
        bench.clock.advance(by: .seconds(3))
        try #require(bench.controller.bolt.state == .locked)
        let ada = try bench.controller.access.initializeAdmin(name: "Ada", pin: adminCode)
        let started = bench.clock.now
        let mark = try bench.mark()

        // Four wrong codes on the keypad; the fifth comes through the remote channel.
        for _ in 0..<4 { bench.type(Self.wrong + "#") }
        let remote = await bench.controller.unlock(source: .remote, code: "222222")
        #expect(remote == .refused(.invalidCode, "wrong code: locked out for 30 s"))
        let first = try bench.events(after: mark)
        #expect(first.map(\.action) == Array(repeating: .invalidCode, count: 5) + [.lockoutStarted])
        #expect(first.prefix(4).allSatisfy { $0.source == .keypad })
        #expect(first[3].detail == "wrong code (4 in a row)")
        #expect(first[4].source == .remote)
        #expect(first[5].source == .remote)
        #expect(first[5].detail == "locked out for 30 s after 5 wrong codes in a row")
        let lockout = try bench.store.lockout()
        #expect(lockout.consecutiveFailures == 5)
        #expect(lockout.lockoutCount == 1)
        let until = try #require(lockout.lockedUntil)
        #expect(abs(until.timeIntervalSince(first[5].time) - 30) < 0.001)

        // The process is killed 10 s into the lockout; the lock boots again on the same database
        // and the same clock. The right code is refused without being checked, and not counted.
        bench.clock.advance(by: .seconds(10))
        bench.crash()
        bench = try boot(directory, world: bench.world)
        let typed = bench.clock.now
        let afterRestart = try bench.mark()
        bench.type(adminCode + "#")
        bench.clock.advance(by: .seconds(2))
        let refused = try bench.events(after: afterRestart).filter { $0.action != .started }
        #expect(refused.map(\.action) == [.lockedOut])
        #expect(refused.first?.source == .keypad)
        #expect(refused.first?.userName == nil, "the code was not even checked")
        #expect(refused.first?.detail.hasPrefix("too many wrong codes: locked out for another ") == true)
        #expect(try bench.beeps(since: typed).suffix(5) == Array(repeating: .milliseconds(150), count: 5))
        #expect(try bench.store.lockout() == lockout)
        // Half a second before the end a wrong code is still refused uncounted.
        try bench.submit(Self.wrong, at: until.addingTimeInterval(-0.5))
        #expect(try bench.store.lockout().consecutiveFailures == 5)
        #expect(try bench.events(after: afterRestart).last?.action == .lockedOut)

        // Each further five wrong codes start a lockout twice as long, up to the cap.
        for (round, seconds) in [60, 120, 240, 240].enumerated() {
            let end = try #require(try bench.store.lockout().lockedUntil)
            bench.clock.advance(
                by: .nanoseconds(max(0, Int64(end.timeIntervalSince(bench.wall.now) * 1e9) + 1)))
            let roundMark = try bench.mark()
            for _ in 0..<5 { bench.type(Self.wrong + "#") }
            let failures = 5 * (round + 2)
            let started = try #require(
                try bench.events(after: roundMark).first { $0.action == .lockoutStarted })
            let length = seconds < 60 ? "\(seconds) s" : "\(seconds / 60) min"
            #expect(started.detail == "locked out for \(length) after \(failures) wrong codes in a row")
            let state = try bench.store.lockout()
            #expect(state.consecutiveFailures == failures)
            #expect(state.lockoutCount == round + 2)
            let stateEnd = try #require(state.lockedUntil)
            #expect(abs(stateEnd.timeIntervalSince(started.time) - Double(seconds)) < 0.001)
            #expect(state.keypadDisabled == (failures >= 25))
        }
        let disabled = try #require(try bench.events(.keypadDisabled).last)
        #expect(disabled.detail == "keypad disabled after 25 wrong codes in a row; an admin must reset it")

        // The timed lockout ends, the lock restarts once more: the keypad still refuses the right
        // code until an admin resets the lockout.
        bench.clock.advance(by: .seconds(300))
        bench.crash()
        bench = try boot(directory, world: bench.world)
        let beforeReset = try bench.mark()
        bench.type(adminCode + "#")
        let stillRefused = try bench.events(after: beforeReset).filter { $0.action != .started }
        #expect(stillRefused.map(\.action) == [.lockedOut])
        #expect(
            stillRefused.first?.detail
                == "the keypad is disabled after 25 wrong codes in a row; an admin must reset the lockout")
        #expect(bench.controller.bolt.state == .locked)
        #expect(bench.percent > 98)
        #expect(try bench.motorRuns(since: started).retract.isEmpty, "nothing opened the whole time")

        try bench.controller.access.resetLockout(by: .user(ada.id))
        let reset = try #require(try bench.events(after: beforeReset).last)
        #expect(reset.action == .lockoutReset)
        #expect(reset.userName == "Ada")
        #expect(try bench.store.lockout() == LockoutState())
        bench.type(adminCode + "#")
        bench.clock.advance(by: .seconds(2))
        #expect(bench.controller.bolt.state == .unlocked)
        #expect(bench.percent < 2)
        #expect(bench.motorIsOff)
        let unlocked = try #require(try bench.events(after: beforeReset).last)
        #expect(unlocked.action == .unlocked)
        #expect(unlocked.userID == ada.id)
        #expect(
            try bench.store.verifyAudit()
                == .intact(records: try bench.store.auditRecords(AuditQuery()).count))
    }

    @Test("a right code resets the count, so wrong codes must come in a row")
    func rightCodeResetsTheCount() throws {
        let directory = try ScenarioDirectory()
        defer { directory.cleanUp() }
        let bench = try boot(directory)
        defer { bench.shutdown() }
        _ = try bench.controller.access.initializeAdmin(name: "Ada", pin: adminCode)
        for _ in 0..<4 { bench.type(Self.wrong + "#") }
        bench.type(adminCode + "#")
        #expect(try bench.store.lockout() == LockoutState())
        for _ in 0..<4 { bench.type(Self.wrong + "#") }
        #expect(try bench.events(.lockoutStarted).isEmpty)
        #expect(try bench.store.lockout().consecutiveFailures == 4)
    }
}
