import BoltworkBoard
import BoltworkDrivers
import BoltworkHAL
import BoltworkLock
import BoltworkSimulation
import BoltworkStore
import Foundation
import Testing

/// The bolt in the whole lock: auto-relock and the door, jams, hand turns and power loss, each
/// checked in the audit log, the controller's state and the mechanism model.
@Suite("Bolt scenarios on the simulated board")
struct BoltScenarioTests {
    @Test("a valid code unlocks; auto-relock waits while the door is open and locks 30 s after it closes")
    func relockWaitsForTheDoor() throws {
        let bench = try LockBench(autoRelock: .seconds(30))
        defer { bench.shutdown() }
        try bench.startLocked()
        let ada = try bench.controller.access.initializeAdmin(name: "Ada", pin: adminCode)
        let mark = try bench.mark()

        bench.type(adminCode + "#")
        bench.clock.advance(by: .seconds(2))
        #expect(bench.controller.bolt.state == .unlocked)
        #expect(bench.percent < 2)
        #expect(bench.motorIsOff)
        let unlock = try #require(try bench.events(after: mark).last)
        #expect(unlock.action == .unlocked)
        #expect(unlock.source == .keypad)
        #expect(unlock.userID == ada.id)
        #expect(unlock.userName == "Ada")

        // Someone walks through and leaves the door open for two minutes: no relock into it.
        bench.clock.advance(by: .seconds(10))
        bench.sim.mechanism.openDoor()
        bench.clock.advance(by: .seconds(120))
        #expect(bench.controller.bolt.state == .unlocked)
        #expect(bench.percent < 2)
        #expect(bench.motorIsOff)
        #expect(try bench.actions(after: mark) == [.unlocked], "no lock and no refusal while open")

        // The door closes: the delay starts again from then.
        bench.sim.mechanism.closeDoor()
        let closed = bench.clock.now
        bench.clock.advance(by: .seconds(29))
        #expect(bench.controller.bolt.state == .unlocked)
        bench.clock.advance(by: .seconds(4))
        #expect(bench.controller.bolt.state == .locked)
        #expect(bench.percent > 98)
        #expect(bench.motorIsOff)
        let relock = try #require(try bench.events(after: mark).last)
        #expect(relock.action == .locked)
        #expect(relock.source == .auto)
        #expect(relock.userName == nil)
        let runs = try bench.motorRuns(since: closed)
        #expect(runs.retract.isEmpty)
        try #require(runs.extend.count == 1)
        #expect(runs.extend[0].start - closed >= .seconds(30))
        #expect(runs.extend[0].start - closed < .seconds(31))
        #expect(runs.extend[0].length < .seconds(2), "stopped at the extended switch")
    }

    @Test(
        "an open door refuses a lock; lock-on-close throws the bolt when it shuts; door-ajar once per opening"
    )
    func doorRules() async throws {
        let bench = try LockBench(bolt: .init(autoRelockDelay: .zero, doorAjarAfter: .seconds(60)))
        defer { bench.shutdown() }
        #expect(bench.controller.start() == .unlocked)
        let mark = try bench.mark()
        bench.sim.mechanism.openDoor()
        let opened = bench.clock.now
        bench.clock.advance(by: .seconds(1))
        #expect(bench.controller.status().door == .open)

        let refused = try await bench.remote { await $0.lock(source: .remote) }
        #expect(refused == .refused(.doorOpen, "the door is open"))
        let doorOpen = try #require(try bench.events(after: mark).last)
        #expect(doorOpen.action == .doorOpen)
        #expect(doorOpen.source == .remote)
        #expect(doorOpen.detail == "not throwing the bolt into an open door")
        #expect(bench.controller.bolt.state == .unlocked)
        #expect(try bench.motorRuns(since: opened).extend.isEmpty, "the motor never started")
        #expect(bench.percent < 2)

        // "Lock when the door closes", armed while it is open.
        bench.controller.bolt.armLockOnDoorClose()
        bench.clock.advance(by: .seconds(58) - (bench.clock.now - opened))
        #expect(try bench.events(.doorAjar).isEmpty, "not before the ajar time")
        bench.clock.advance(by: .seconds(3))
        let ajar = try bench.events(.doorAjar)
        #expect(ajar.count == 1)
        #expect(ajar.first?.detail == "the door has been open too long")
        bench.clock.advance(by: .seconds(600))
        #expect(try bench.events(.doorAjar).count == 1, "once per opening")
        #expect(bench.controller.bolt.state == .unlocked)

        bench.sim.mechanism.closeDoor()
        let closed = bench.clock.now
        bench.clock.advance(by: .seconds(3))
        #expect(bench.controller.bolt.state == .locked)
        #expect(bench.percent > 98)
        #expect(bench.motorIsOff)
        #expect(!bench.controller.bolt.isLockOnDoorCloseArmed)
        let locked = try #require(try bench.events(after: mark).last)
        #expect(locked.action == .locked)
        #expect(locked.source == .auto)
        #expect(try bench.motorRuns(since: closed).extend.count == 1)

        // Unlocked from inside and opened again: a new opening, a new alarm.
        let again = try await bench.remote { await $0.unlock(source: .button) }
        #expect(again == .done(.unlocked))
        bench.sim.mechanism.openDoor()
        bench.clock.advance(by: .seconds(61))
        #expect(try bench.events(.doorAjar).count == 2)
        #expect(
            try bench.actions(after: mark) == [.doorOpen, .doorAjar, .locked, .unlocked, .doorAjar])
    }

    @Test("a jammed lock retracts to a known end, backs off, retries, reports where it stopped; motor off")
    func jamOnLock() async throws {
        let bench = try LockBench(
            bolt: .init(
                moveTimeout: .seconds(3), lockRetries: 2, retryBackoff: .seconds(1),
                settleTime: .milliseconds(100),
                autoRelockDelay: .zero))
        defer { bench.shutdown() }
        bench.controller.start()
        bench.sim.mechanism.jam(at: 60)
        let started = bench.clock.now
        let mark = try bench.mark()

        let result = try await bench.remote { await $0.lock(source: .remote) }
        guard case .failed(let state, let why) = result else {
            Issue.record("a jammed lock was not reported as failed: \(result)")
            return
        }
        #expect(state == .jammed(direction: .extend, position: .between(percent: nil)))
        #expect(why == "jammed while locking at between ends")
        let events = try bench.events(after: mark)
        #expect(events.map(\.action) == [.jammed], "one alarm for the whole episode")
        #expect(events.first?.source == .remote)
        #expect(
            events.first?.detail == "locking stopped at between ends after 3 attempt(s); bolt now retracted")
        #expect(
            bench.controller.status().bolt == .jammed(direction: .extend, position: .between(percent: nil)))

        // The model: back at the retracted end, the motor off; three tries of at most the move
        // timeout each, a retraction after each, one second's back-off between them.
        #expect(bench.percent < 2)
        #expect(bench.motorIsOff)
        let runs = try bench.motorRuns(since: started)
        try #require(runs.extend.count == 3)
        try #require(runs.retract.count == 3)
        for attempt in 0..<3 {
            #expect(runs.extend[attempt].length == .seconds(3))
            #expect(runs.retract[attempt].start > runs.extend[attempt].start + runs.extend[attempt].length)
            #expect(runs.retract[attempt].length < .seconds(3), "retraction ended by the retracted switch")
            if attempt > 0 {
                let previous = runs.retract[attempt - 1]
                #expect(runs.extend[attempt].start - (previous.start + previous.length) == .seconds(1))
            }
        }
        bench.clock.advance(by: .seconds(60))
        #expect(try bench.motorRuns(since: started).extend.count == 3, "no further attempt on its own")

        // The obstacle removed, the next lock works.
        bench.sim.mechanism.clearJam()
        #expect(try await bench.remote { await $0.lock(source: .remote) } == .done(.locked))
        #expect(bench.percent > 98)
        #expect(bench.motorIsOff)
        #expect(try bench.actions(after: mark) == [.jammed, .locked])
    }

    @Test("a jammed unlock stops at the jam, is recorded with the user, and the keypad says it failed")
    func jamOnUnlock() throws {
        let bench = try LockBench(autoRelock: .zero)
        defer { bench.shutdown() }
        try bench.startLocked()
        let ada = try bench.controller.access.initializeAdmin(name: "Ada", pin: adminCode)
        bench.sim.mechanism.jam(at: 40)
        let started = bench.clock.now
        let mark = try bench.mark()

        bench.type(adminCode + "#")
        bench.clock.advance(by: .seconds(10))
        let events = try bench.events(after: mark)
        #expect(events.map(\.action) == [.jammed], "no unlock is recorded")
        #expect(events.first?.source == .keypad)
        #expect(events.first?.userID == ada.id)
        #expect(events.first?.userName == "Ada")
        #expect(
            events.first?.detail
                == "unlocking stopped at between ends after 1 attempt(s); bolt now between ends")
        #expect(bench.controller.bolt.state == .jammed(direction: .retract, position: .between(percent: nil)))
        #expect(abs(bench.percent - 40) < 0.01)
        #expect(bench.motorIsOff)
        let runs = try bench.motorRuns(since: started)
        #expect(runs.extend.isEmpty)
        #expect(runs.retract.map(\.length) == [.seconds(3)], "one run, ended by the move timeout")
        // Accepted (two short beeps), then the long "refused" beep: the door did not open.
        let beeps = try bench.beeps(since: started)
        #expect(Array(beeps.suffix(3)) == [.milliseconds(100), .milliseconds(100), .milliseconds(600)])

        // The obstacle removed, the same code opens, and only then is an unlock recorded.
        bench.sim.mechanism.clearJam()
        bench.type(adminCode + "#")
        bench.clock.advance(by: .seconds(3))
        #expect(bench.controller.bolt.state == .unlocked)
        #expect(bench.percent < 2)
        #expect(bench.motorIsOff)
        let unlocked = try #require(try bench.events(after: mark).last)
        #expect(unlocked.action == .unlocked)
        #expect(unlocked.userName == "Ada")
    }

    @Test("hand turns are followed and recorded with source manual; the motor never runs")
    func manualTurns() throws {
        let bench = try LockBench(autoRelock: .seconds(30))
        defer { bench.shutdown() }
        #expect(bench.controller.start() == .unlocked)
        let started = bench.clock.now
        let mark = try bench.mark()

        bench.sim.mechanism.turnByHand(to: 100, over: .seconds(1))
        bench.clock.advance(by: .seconds(2))
        #expect(bench.controller.bolt.state == .locked)
        #expect(bench.percent == 100)
        bench.sim.mechanism.turnByHand(to: 50, over: .milliseconds(500))
        bench.clock.advance(by: .seconds(1))
        #expect(bench.controller.bolt.state == .notFullyLocked(position: .between(percent: nil)))
        #expect(bench.controller.status().bolt == .notFullyLocked(position: .between(percent: nil)))
        bench.sim.mechanism.turnByHand(to: 0, over: .milliseconds(500))
        bench.clock.advance(by: .seconds(1))
        #expect(bench.controller.bolt.state == .unlocked)

        let events = try bench.events(after: mark)
        #expect(events.map(\.action) == [.locked, .notFullyLocked, .unlocked])
        #expect(events.allSatisfy { $0.source == .manual && $0.userID == nil })
        #expect(events[1].detail == "bolt between ends")
        let runs = try bench.motorRuns(since: started)
        #expect(runs.extend.isEmpty && runs.retract.isEmpty, "the motor never ran")
        #expect(bench.motorIsOff)

        // Unlocked by hand is unlocked: auto-relock throws the bolt 30 s later.
        bench.clock.advance(by: .seconds(31))
        #expect(bench.controller.bolt.state == .locked)
        let relock = try #require(try bench.events(after: mark).last)
        #expect(relock.action == .locked)
        #expect(relock.source == .auto)
    }

    @Test(
        "after a stop mid-move the next start reports the bolt between the ends from the sensors, and leaves it",
        arguments: [true, false])
    func stoppedMidMove(powerCut: Bool) async throws {
        let directory = try ScenarioDirectory()
        defer { directory.cleanUp() }
        let first = try LockBench(store: try SQLiteLockStore(path: directory.database), autoRelock: .zero)
        first.controller.start()
        _ = try first.controller.access.initializeAdmin(name: "Ada", pin: adminCode)
        first.controller.bolt.lock(source: .remote) { _ in }
        first.clock.advance(by: .milliseconds(700))
        #expect(first.controller.bolt.state == .locking)
        if powerCut {
            // The supply dies: the motor stops where the bolt is, and the process with it.
            first.sim.mechanism.cutPower()
            first.crash()
        } else {
            // boltd is stopped (SIGTERM): the move is stopped safely and the stop recorded.
            first.shutdown()
            let stopped = try #require(try first.events().last)
            #expect(stopped.action == .stopped)
            #expect(stopped.detail == "bolt not fully locked (between ends)", "not the move that was")
            try (first.store as? SQLiteLockStore)?.close()
        }
        let stoppedAt = first.percent
        #expect(stoppedAt > 30 && stoppedAt < 70)
        first.clock.advance(by: .seconds(10))
        #expect(first.percent == stoppedAt)
        #expect(first.motorIsOff)

        // The board boots again over the same database.
        first.sim.mechanism.restorePower()
        let boot = first.clock.now
        let second = try LockBench(
            store: try SQLiteLockStore(path: directory.database), autoRelock: .seconds(30), world: first.world
        )
        defer { second.shutdown() }
        let mark = try second.mark()
        #expect(second.controller.start() == .notFullyLocked(position: .between(percent: nil)))
        second.clock.advance(by: .seconds(120))
        let events = try second.events(after: mark)
        #expect(events.map(\.action) == [.notFullyLocked, .started])
        #expect(events.first?.source == nil)
        #expect(events.first?.detail == "bolt between ends")
        #expect(events.last?.detail == "bolt not fully locked (between ends), mode normal")
        #expect(second.controller.status().bolt == .notFullyLocked(position: .between(percent: nil)))
        #expect(second.percent == stoppedAt, "not moved on a guess, not even by auto-relock")
        let runs = try second.motorRuns(since: boot)
        #expect(runs.extend.isEmpty && runs.retract.isEmpty)
        #expect(
            try second.store.verifyAudit()
                == .intact(records: try second.store.auditRecords(AuditQuery()).count))

        // A command finishes the job.
        #expect(try await second.remote { await $0.lock(source: .remote) } == .done(.locked))
        #expect(second.percent > 98)
        #expect(second.motorIsOff)
        #expect(try second.events(after: mark).last?.action == .locked)
    }
}
