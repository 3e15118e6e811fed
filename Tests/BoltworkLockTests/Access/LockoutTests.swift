import BoltworkDrivers
import BoltworkLock
import Foundation
import Testing

@Suite("Access: wrong-code lockout")
struct LockoutTests {
    /// Enters `count` wrong codes, each different, and returns the last decision.
    @discardableResult
    func wrong(_ count: Int, _ access: AccessController, source: OperationSource = .keypad) throws
        -> AccessDecision?
    {
        var last: AccessDecision?
        for n in 0..<count { last = try access.authorize(digits: String(900_000 + n), source: source) }
        return last
    }

    @Test("five wrong codes start a 30 s lockout in which codes are not even checked")
    func firstLockout() throws {
        let bench = try AccessBench()
        try bench.withAdmin()
        let fourth = try wrong(4, bench.access)
        #expect(fourth?.refusal?.reason == .invalidCode)
        #expect(fourth?.refusal?.retryAfter == nil)
        let fifth = try wrong(1, bench.access)
        #expect(fifth?.refusal?.retryAfter == .seconds(30))
        #expect(try bench.actions().suffix(2) == [.invalidCode, .lockoutStarted])
        let state = try bench.store.lockout()
        #expect(state.consecutiveFailures == 5 && state.lockoutCount == 1)
        #expect(state.lockedUntil == bench.wall.now + 30)

        // The right code is refused without being checked, with the time left.
        bench.clock.advance(by: .seconds(12))
        let during = try bench.access.authorize(PINEntry(AccessBench.adminPIN))
        #expect(during.refusal?.reason == .lockedOut)
        #expect(during.refusal?.retryAfter == .seconds(18))
        #expect(during.refusal?.detail.contains("18 s") == true)
        // Through the remote channel too; and it does not count as a wrong code.
        #expect(try bench.access.authorize(digits: "000000", source: .remote).refusal?.reason == .lockedOut)
        #expect(try bench.store.lockout().consecutiveFailures == 5)

        // Once the lockout has run out on virtual time the right code opens and clears the count.
        bench.clock.advance(by: .seconds(18))
        #expect(try bench.access.authorize(PINEntry(AccessBench.adminPIN)).isGranted)
        #expect(try bench.store.lockout() == LockoutState())
    }

    @Test("each further five wrong codes double the lockout, up to the one-hour cap")
    func doubling() throws {
        let bench = try AccessBench(configuration: AccessBench.testing(keypadDisableThreshold: 1000))
        try bench.withAdmin()
        var observed: [Duration] = []
        for _ in 0..<10 {
            let decision = try wrong(5, bench.access)
            let duration = try #require(decision?.refusal?.retryAfter)
            observed.append(duration)
            // Still locked a second before the end, free at the end.
            bench.clock.advance(by: duration - .seconds(1))
            #expect(
                try bench.access.authorize(digits: "000000", source: .remote).refusal?.reason == .lockedOut)
            bench.clock.advance(by: .seconds(1))
        }
        #expect(
            observed == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600].map { Duration.seconds($0) })
        #expect(try bench.store.lockout().lockoutCount == 10)
        #expect(try bench.actions().filter { $0 == .lockoutStarted }.count == 10)
    }

    @Test("wrong codes count across channels")
    func acrossChannels() throws {
        let bench = try AccessBench()
        try bench.withAdmin()
        try wrong(3, bench.access, source: .keypad)
        let fifth = try wrong(2, bench.access, source: .remote)
        #expect(fifth?.refusal?.retryAfter == .seconds(30))
        // Codes of the wrong length count too.
        bench.clock.advance(by: .seconds(30))
        for digits in ["1", "12345678901", "12ab56"] { _ = try bench.access.authorize(digits: digits) }
        #expect(try bench.store.lockout().consecutiveFailures == 8)
    }

    @Test("at M wrong codes the keypad refuses everything until an admin resets it")
    func keypadDisabled() throws {
        let bench = try AccessBench(
            configuration: AccessBench.testing(lockoutThreshold: 2, keypadDisableThreshold: 6))
        let admin = try bench.withAdmin()
        for round in 0..<3 {
            let decision = try wrong(2, bench.access)
            if round < 2 {
                bench.clock.advance(by: try #require(decision?.refusal?.retryAfter))
            }
        }
        let state = try bench.store.lockout()
        #expect(state.keypadDisabled && state.consecutiveFailures == 6)
        #expect(try bench.actions().suffix(3) == [.invalidCode, .lockoutStarted, .keypadDisabled])

        // Hours later, the keypad still refuses the right code without checking it.
        bench.advance(minutes: 600)
        let refused = try bench.access.authorize(PINEntry(AccessBench.adminPIN))
        #expect(refused.refusal?.reason == .lockedOut)
        #expect(refused.refusal?.detail.contains("admin must reset") == true)

        // The remote channel still works once the timed lockout is over, and a success does not
        // re-enable the keypad.
        #expect(try bench.access.authorize(digits: AccessBench.adminPIN, source: .remote).isGranted)
        #expect(try bench.store.lockout().keypadDisabled)
        #expect(try bench.access.authorize(PINEntry(AccessBench.adminPIN)).refusal?.reason == .lockedOut)

        try bench.access.resetLockout(by: .user(admin.id))
        #expect(try bench.store.lockout() == LockoutState())
        #expect(try bench.events().last?.action == .lockoutReset)
        #expect(try bench.access.authorize(PINEntry(AccessBench.adminPIN)).isGranted)
    }

    @Test("a lockout survives a restart: a new controller on the same store carries on")
    func survivesRestart() throws {
        let bench = try AccessBench()
        try bench.withAdmin()
        try wrong(4, bench.access)
        // "Power cut" after four wrong codes: the count was committed with each refusal.
        var access = try bench.restarted()
        #expect(try wrong(1, access)?.refusal?.retryAfter == .seconds(30))

        bench.clock.advance(by: .seconds(10))
        access = try bench.restarted()
        let decision = try access.authorize(PINEntry(AccessBench.adminPIN))
        #expect(decision.refusal?.reason == .lockedOut)
        #expect(decision.refusal?.retryAfter == .seconds(20))

        // The doubling continues after a restart too.
        bench.clock.advance(by: .seconds(20))
        try wrong(4, access)
        access = try bench.restarted()
        #expect(try wrong(1, access)?.refusal?.retryAfter == .seconds(60))
    }

    @Test("a correct code resets the count")
    func successResets() throws {
        let bench = try AccessBench()
        try bench.withAdmin()
        try wrong(4, bench.access)
        #expect(try bench.access.authorize(PINEntry(AccessBench.adminPIN)).isGranted)
        #expect(try wrong(4, bench.access)?.refusal?.retryAfter == nil)
        #expect(try bench.store.lockout().consecutiveFailures == 4)
    }

    @Test("a wall clock that steps back cannot stretch a lockout beyond its length")
    func clockStepsBack() throws {
        let bench = try AccessBench()
        try bench.withAdmin()
        try wrong(5, bench.access)
        // Restart with the wall clock a day behind (an RTC-less board before NTP).
        let behind = LinkedWallClock(clock: bench.clock, epoch: bench.wall.now - 86_400)
        let access = try AccessController(
            store: bench.store, wallClock: behind, configuration: bench.configuration)
        let refused = try access.authorize(PINEntry(AccessBench.adminPIN))
        #expect(refused.refusal?.reason == .lockedOut)
        #expect(refused.refusal?.retryAfter == .seconds(30))
        #expect(try bench.store.lockout().lockedUntil == behind.now + 30)
        bench.clock.advance(by: .seconds(30))
        #expect(try access.authorize(PINEntry(AccessBench.adminPIN)).isGranted)
    }

    @Test("when the store cannot commit, nothing is granted and the count is not lost")
    func storeFailure() throws {
        let memory = MemoryLockStore()
        let store = FailingStore(memory)
        let clock = AccessBench.testing()
        let bench = try AccessBench(store: memory)
        let access = try AccessController(store: store, wallClock: bench.wall, configuration: clock)
        try bench.withAdmin()
        try wrong(2, access)
        let before = try memory.auditRecords(AuditQuery()).count
        store.fail(true)
        for digits in [AccessBench.adminPIN, "900000"] {
            do {
                let decision = try access.authorize(PINEntry(digits))
                Issue.record("decided without committing: \(decision)")
            } catch {
                #expect(error.kind == .store(.writeFailed))
            }
        }
        #expect(try memory.auditRecords(AuditQuery()).count == before)
        #expect(try memory.lockout().consecutiveFailures == 2)
        #expect(try memory.users().first?.useCount == 0)
        store.fail(false)
        #expect(try access.authorize(PINEntry(AccessBench.adminPIN)).isGranted)
    }

    @Test("lockout durations follow the configuration")
    func durations() {
        let configuration = AccessConfiguration(firstLockout: .seconds(30), lockoutCap: .seconds(100))
        #expect(
            (1...4).map(configuration.lockoutDuration(number:))
                == [30, 60, 100, 100].map { Duration.seconds($0) })
        #expect(configuration.lockoutDuration(number: 10_000) == .seconds(100))
    }
}
