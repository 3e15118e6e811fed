import BoltworkBoard
import BoltworkDrivers
import BoltworkHAL
import BoltworkLock
import BoltworkSimulation
import Foundation
import Testing

/// Schedules, user kinds, operating modes and revocation, typed on the simulated keypad of the
/// whole lock.
@Suite("Access scenarios on the simulated board")
struct AccessScenarioTests {
    /// Types `code` with `#` pressed at `date` and checks the lock's answer: with `refusal` nil
    /// the bolt opens for `user`; otherwise one refusal is recorded and nothing moves.
    func attempt(
        _ bench: LockBench, _ code: String, at date: Date, by user: User, refusal: AuditAction?,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let mark = try bench.mark()
        let before = bench.controller.bolt.state
        let since = bench.clock.now
        try bench.submit(code, at: date)
        if refusal == nil {
            bench.clock.advance(until: { bench.controller.bolt.state == .unlocked }, limit: .seconds(3))
        }
        let events = try bench.events(after: mark)
        let runs = try bench.motorRuns(since: since)
        if let refusal {
            #expect(events.map(\.action) == [refusal], sourceLocation: sourceLocation)
            #expect(events.first?.userID == user.id, sourceLocation: sourceLocation)
            #expect(events.first?.source == .keypad, sourceLocation: sourceLocation)
            #expect(bench.controller.bolt.state == before, sourceLocation: sourceLocation)
            #expect(
                runs.extend.isEmpty && runs.retract.isEmpty, "nothing moved", sourceLocation: sourceLocation)
        } else {
            // The grant itself records nothing but the alarms and changes it causes (duress,
            // single use); the unlock is recorded when the bolt gets there.
            #expect(events.last?.action == .unlocked, sourceLocation: sourceLocation)
            #expect(events.filter { $0.action.category == .refusal }.isEmpty, sourceLocation: sourceLocation)
            #expect(events.last?.userID == user.id, sourceLocation: sourceLocation)
            #expect(events.last?.userName == user.name, sourceLocation: sourceLocation)
            #expect(events.last?.source == .keypad, sourceLocation: sourceLocation)
            #expect(bench.controller.bolt.state == .unlocked, sourceLocation: sourceLocation)
            #expect(bench.percent < 2, sourceLocation: sourceLocation)
        }
        #expect(bench.motorIsOff, sourceLocation: sourceLocation)
    }

    /// The user as stored now.
    func stored(_ bench: LockBench, _ user: User) throws -> User {
        try #require(try bench.store.users().first { $0.id == user.id })
    }

    // MARK: Schedules

    @Test(
        "a Mon-Fri 08:00-17:00 window in the configured time zone admits 08:00 and 16:59, not 07:59 or 17:00")
    func weeklyWindow() throws {
        let zone = try #require(TimeZone(identifier: "Europe/Berlin"))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        // Monday 1 March 2027 (CET, UTC+1; the machine's own zone plays no part).
        func local(day: Int, _ hour: Int, _ minute: Int, _ second: Double = 0) throws -> Date {
            try #require(
                calendar.date(
                    from: DateComponents(year: 2027, month: 3, day: day, hour: hour, minute: minute))
            ).addingTimeInterval(second)
        }
        let bench = try LockBench(
            access: AccessConfiguration(hashing: .testing, timeZone: zone), epoch: try local(day: 1, 7, 0))
        defer { bench.shutdown() }
        try bench.startLocked()
        _ = try bench.controller.access.initializeAdmin(name: "Ada", pin: adminCode)
        let cleaner = try bench.controller.access.addUser(
            name: "Cleaner", role: .service,
            schedules: [
                .weekly(
                    days: [.monday, .tuesday, .wednesday, .thursday, .friday], startMinute: 480,
                    endMinute: 1020)
            ], pin: "135790", by: .installer)

        try attempt(
            bench, "135790", at: try local(day: 1, 7, 59, 57.5), by: cleaner, refusal: .outsideSchedule)
        let early = try #require(try bench.events(.outsideSchedule).last)
        #expect(early.detail == "outside Cleaner's schedule")
        #expect(
            calendar.dateComponents([.hour, .minute], from: early.time) == DateComponents(hour: 7, minute: 59)
        )

        let eight = try local(day: 1, 8, 0)
        try attempt(bench, "135790", at: eight, by: cleaner, refusal: nil)
        let opened = try #require(try stored(bench, cleaner).lastUsedAt)
        #expect(opened >= eight && opened < eight.addingTimeInterval(0.1))
        bench.clock.advance(by: .seconds(35))
        #expect(bench.controller.bolt.state == .locked, "auto-relock")

        try attempt(bench, "135790", at: try local(day: 1, 16, 59, 57.5), by: cleaner, refusal: nil)
        bench.clock.advance(by: .seconds(35))
        // A different day for 17:00 sharp: typing takes two seconds.
        try attempt(bench, "135790", at: try local(day: 3, 17, 0), by: cleaner, refusal: .outsideSchedule)
        let late = try #require(try bench.events(.outsideSchedule).last)
        #expect(
            calendar.dateComponents([.hour, .minute], from: late.time) == DateComponents(hour: 17, minute: 0))
        // Saturday inside the hours, and the admin, who has no schedule, on Saturday.
        try attempt(bench, "135790", at: try local(day: 6, 10, 0), by: cleaner, refusal: .outsideSchedule)
        let ada = try #require(try bench.store.users().first { $0.name == "Ada" })
        try attempt(bench, adminCode, at: try local(day: 6, 10, 1), by: ada, refusal: nil)
        #expect(try bench.store.lockout() == LockoutState(), "a refused right code is not a wrong code")
    }

    @Test("a date range admits its first instant and refuses its last")
    func dateRange() throws {
        let epoch = Date(timeIntervalSince1970: 1_800_000_000)
        let start = epoch.addingTimeInterval(3600)
        let end = start.addingTimeInterval(2 * 86_400)
        let bench = try LockBench(epoch: epoch)
        defer { bench.shutdown() }
        try bench.startLocked()
        _ = try bench.controller.access.initializeAdmin(name: "Ada", pin: adminCode)
        let guest = try bench.controller.access.addUser(
            name: "Guest", role: .guest, schedules: [.dateRange(start: start, end: end)], pin: "135790",
            by: .installer)

        try attempt(bench, "135790", at: start.addingTimeInterval(-2.5), by: guest, refusal: .outsideSchedule)
        try attempt(bench, "135790", at: start, by: guest, refusal: nil)
        bench.clock.advance(by: .seconds(35))
        #expect(bench.controller.bolt.state == .locked)
        try attempt(bench, "135790", at: end.addingTimeInterval(-4), by: guest, refusal: nil)
        // Still unlocked from the last entry; the refusal changes nothing.
        try attempt(bench, "135790", at: end, by: guest, refusal: .outsideSchedule)
        let refused = try #require(try bench.events(.outsideSchedule).last)
        #expect(refused.time >= end)
        bench.clock.advance(by: .seconds(35))
        #expect(bench.controller.bolt.state == .locked)
    }

    // MARK: User kinds

    @Test("a disposable code opens once and is then refused as disabled")
    func disposable() throws {
        let bench = try LockBench()
        defer { bench.shutdown() }
        try bench.startLocked()
        _ = try bench.controller.access.initializeAdmin(name: "Ada", pin: adminCode)
        let courier = try bench.controller.access.addUser(
            name: "Courier", role: .guest, kind: .disposable, pin: "135790", by: .installer)
        let mark = try bench.mark()
        try attempt(bench, "135790", at: bench.wall.now.addingTimeInterval(2), by: courier, refusal: nil)
        let used = try bench.events(after: mark)
        #expect(used.map(\.action) == [.userChanged, .unlocked])
        #expect(used.first?.detail == "single-use code used: disabled")
        #expect(used.first?.userID == courier.id)
        #expect(try stored(bench, courier).isEnabled == false)
        bench.clock.advance(by: .seconds(35))
        #expect(bench.controller.bolt.state == .locked)

        try attempt(
            bench, "135790", at: bench.wall.now.addingTimeInterval(2), by: courier, refusal: .userDisabled)
        #expect(try bench.events(.userDisabled).last?.detail == "Courier's code is disabled")
        #expect(bench.percent > 98)
    }

    @Test("an expiring code opens for N minutes after its first use, then is refused")
    func expiring() throws {
        let bench = try LockBench()
        defer { bench.shutdown() }
        try bench.startLocked()
        _ = try bench.controller.access.initializeAdmin(name: "Ada", pin: adminCode)
        let visitor = try bench.controller.access.addUser(
            name: "Visitor", role: .guest, kind: .expiring(minutes: 10), pin: "135790", by: .installer)
        // Unused, it does not expire: the first use is a day later.
        bench.clock.advance(by: .seconds(86_400))
        try attempt(bench, "135790", at: bench.wall.now.addingTimeInterval(2), by: visitor, refusal: nil)
        let first = try #require(try stored(bench, visitor).firstUsedAt)
        bench.clock.advance(by: .seconds(35))

        try attempt(bench, "135790", at: first.addingTimeInterval(600 - 2.5), by: visitor, refusal: nil)
        bench.clock.advance(by: .seconds(35))
        try attempt(
            bench, "135790", at: first.addingTimeInterval(600 + 60), by: visitor, refusal: .outsideSchedule)
        #expect(
            try bench.events(.outsideSchedule).last?.detail
                == "Visitor's code expired 10 minutes after its first use")
        #expect(try stored(bench, visitor).firstUsedAt == first, "later uses do not extend it")
        #expect(bench.percent > 98)
    }

    @Test("a duress code opens and records a silent alarm; the keypad shows nothing different")
    func duress() throws {
        let bench = try LockBench()
        defer { bench.shutdown() }
        try bench.startLocked()
        let ada = try bench.controller.access.initializeAdmin(name: "Ada", pin: adminCode)
        let forced = try bench.controller.access.addUser(
            name: "Ada (duress)", role: .resident, kind: .duress, pin: "135790", by: .installer)

        let normalStart = bench.clock.now
        try attempt(bench, adminCode, at: bench.wall.now.addingTimeInterval(2), by: ada, refusal: nil)
        bench.clock.advance(by: .seconds(35))
        #expect(bench.controller.bolt.state == .locked)

        let mark = try bench.mark()
        let duressStart = bench.clock.now
        try attempt(bench, "135790", at: bench.wall.now.addingTimeInterval(2), by: forced, refusal: nil)
        let events = try bench.events(after: mark)
        #expect(events.map(\.action) == [.duress, .unlocked])
        #expect(events.first?.userID == forced.id)
        #expect(events.first?.source == .keypad)
        #expect(events.first?.detail == "duress code used: silent alarm")
        #expect(events.first?.action.category == .alarm)
        // Same beeps and flashes as an ordinary code.
        let window = Duration.seconds(6)
        let normalBeeps = try bench.beeps(from: normalStart, for: window)
        #expect(!normalBeeps.isEmpty)
        #expect(try bench.beeps(from: duressStart, for: window) == normalBeeps)
        #expect(
            try bench.flashes(from: duressStart, for: window) == bench.flashes(from: normalStart, for: window)
        )
    }

    @Test("an emergency code opens, even in vacation mode, and records when it was last tested")
    func emergency() throws {
        let bench = try LockBench()
        defer { bench.shutdown() }
        try bench.startLocked()
        let ada = try bench.controller.access.initializeAdmin(name: "Ada", pin: adminCode)
        let backup = try bench.controller.access.addUser(
            name: "Backup", role: .resident, kind: .emergency, pin: "975310", by: .installer)
        #expect(backup.lastTestedAt == nil)
        try bench.controller.setMode(.vacation, by: .user(ada.id))

        let pressed = bench.wall.now.addingTimeInterval(2)
        try attempt(bench, "975310", at: pressed, by: backup, refusal: nil)
        let tested = try #require(try stored(bench, backup).lastTestedAt)
        #expect(tested >= pressed && tested < pressed.addingTimeInterval(0.1))
        #expect(try stored(bench, backup).lastUsedAt == tested)
        #expect(try stored(bench, backup).useCount == 1)
        bench.clock.advance(by: .seconds(35))

        let later = bench.wall.now.addingTimeInterval(3600)
        try attempt(bench, "975310", at: later, by: backup, refusal: nil)
        #expect(try stored(bench, backup).lastTestedAt.map { $0 >= later } == true, "updated on every use")
    }

    // MARK: Modes

    @Test("vacation refuses regular users' codes; the admin's still opens")
    func vacation() throws {
        let bench = try LockBench()
        defer { bench.shutdown() }
        try bench.startLocked()
        let ada = try bench.controller.access.initializeAdmin(name: "Ada", pin: adminCode)
        let bob = try bench.controller.access.addUser(
            name: "Bob", role: .resident, pin: "135790", by: .installer)
        let mark = try bench.mark()
        try bench.controller.setMode(.vacation, by: .user(ada.id))
        let changed = try #require(try bench.events(after: mark).last)
        #expect(changed.action == .modeChanged)
        #expect(changed.userID == ada.id)
        #expect(changed.userName == "Ada")
        #expect(changed.detail == "normal → vacation, by Ada (\(ada.id))")

        try attempt(
            bench, "135790", at: bench.wall.now.addingTimeInterval(2), by: bob, refusal: .refusedByMode)
        #expect(
            try bench.events(.refusedByMode).last?.detail
                == "vacation mode: only admin and emergency codes open")
        #expect(bench.percent > 98)
        try attempt(bench, adminCode, at: bench.wall.now.addingTimeInterval(2), by: ada, refusal: nil)
        #expect(bench.controller.status().mode == .vacation)
    }

    @Test("privacy refuses all entry from outside, remote codes included; the inside button still opens")
    func privacy() async throws {
        let bench = try LockBench()
        defer { bench.shutdown() }
        try bench.startLocked()
        _ = try bench.controller.access.initializeAdmin(name: "Ada", pin: adminCode)
        try bench.controller.setMode(.privacy, by: .installer)
        let started = bench.clock.now
        let mark = try bench.mark()

        bench.type(adminCode + "#")
        let withCode = try await bench.remote { await $0.unlock(source: .remote, code: adminCode) }
        let withoutCode = try await bench.remote { await $0.unlock(source: .remote) }
        #expect(
            withCode
                == .refused(
                    .refusedByMode, "privacy mode: no entry from outside until it is turned off from inside"))
        #expect(withoutCode == .refused(.refusedByMode, "privacy mode: entry from outside is refused"))
        let refusals = try bench.events(after: mark)
        #expect(refusals.map(\.action) == [.refusedByMode, .refusedByMode, .refusedByMode])
        #expect(refusals.map(\.source) == [.keypad, .remote, .remote])
        #expect(bench.controller.bolt.state == .locked)
        #expect(bench.percent > 98)
        #expect(try bench.motorRuns(since: started).retract.isEmpty)
        #expect(try bench.store.lockout() == LockoutState())

        #expect(try await bench.remote { await $0.unlock(source: .button) } == .done(.unlocked))
        let opened = try #require(try bench.events(after: mark).last)
        #expect(opened.action == .unlocked)
        #expect(opened.source == .button)
        #expect(bench.percent < 2)
        #expect(bench.motorIsOff)
    }

    @Test("passage keeps the bolt unlocked: no auto-relock, remote locks refused; back to normal relocks")
    func passage() async throws {
        let bench = try LockBench(autoRelock: .seconds(30))
        try bench.startLocked()
        let ada = try bench.controller.access.initializeAdmin(name: "Ada", pin: adminCode)
        let mark = try bench.mark()
        try bench.controller.setMode(.passage, by: .user(ada.id))
        bench.clock.advance(by: .seconds(3))
        #expect(bench.controller.bolt.state == .unlocked)
        #expect(bench.percent < 2)

        bench.clock.advance(by: .seconds(600))
        #expect(bench.controller.bolt.state == .unlocked, "no auto-relock")
        let refused = try await bench.remote { await $0.lock(source: .remote) }
        #expect(refused == .refused(.refusedByMode, "the lock is in passage mode: it stays unlocked"))
        try attempt(bench, adminCode, at: bench.wall.now.addingTimeInterval(2), by: ada, refusal: nil)
        bench.clock.advance(by: .seconds(600))
        #expect(bench.controller.bolt.state == .unlocked)
        #expect(bench.percent < 2)
        #expect(bench.motorIsOff)
        #expect(try bench.actions(after: mark) == [.modeChanged, .unlocked, .refusedByMode, .unlocked])

        // boltd restarts: passage is still in force.
        bench.shutdown()
        let restarted = try LockBench(store: bench.store, autoRelock: .seconds(30), world: bench.world)
        defer { restarted.shutdown() }
        #expect(restarted.controller.start() == .unlocked)
        #expect(try restarted.events().last?.detail == "bolt unlocked, mode passage")
        restarted.clock.advance(by: .seconds(600))
        #expect(restarted.controller.bolt.state == .unlocked, "no auto-relock after the restart either")

        try restarted.controller.setMode(.normal, by: .user(ada.id))
        restarted.clock.advance(by: .seconds(29))
        #expect(restarted.controller.bolt.state == .unlocked)
        restarted.clock.advance(by: .seconds(3))
        #expect(restarted.controller.bolt.state == .locked)
        #expect(try restarted.events(after: mark).last?.source == .auto)
        #expect(restarted.percent > 98)
    }

    // MARK: Revocation

    @Test("disabling, deleting or the end of a schedule refuses a code at once, even one being typed")
    func revocationMidEntry() throws {
        let bench = try LockBench()
        defer { bench.shutdown() }
        try bench.startLocked()
        let ada = try bench.controller.access.initializeAdmin(name: "Ada", pin: adminCode)
        let bob = try bench.controller.access.addUser(
            name: "Bob", role: .resident, pin: "135790", by: .installer)

        // Disabled while Bob types.
        var mark = try bench.mark()
        bench.press("135")
        try bench.controller.access.disableUser(bob.id, by: .user(ada.id))
        bench.type("790#")
        #expect(try bench.actions(after: mark) == [.userChanged, .userDisabled])
        #expect(try bench.events(after: mark).last?.userID == bob.id)
        #expect(bench.controller.bolt.state == .locked)
        // Enabled again, the same code opens: it was the revocation.
        try bench.controller.access.enableUser(bob.id, by: .user(ada.id))
        try attempt(bench, "135790", at: bench.wall.now.addingTimeInterval(2), by: bob, refusal: nil)
        bench.clock.advance(by: .seconds(35))
        #expect(bench.controller.bolt.state == .locked)

        // Deleted while Bob types: the code is no one's any more.
        mark = try bench.mark()
        bench.press("135")
        try bench.controller.access.removeUser(bob.id, by: .user(ada.id))
        bench.type("790#")
        #expect(try bench.actions(after: mark) == [.userRemoved, .invalidCode])
        #expect(try bench.events(after: mark).last?.userID == nil)
        #expect(bench.controller.bolt.state == .locked)

        // A guest whose date range ends while she types.
        let carol = try bench.controller.access.addUser(
            name: "Carol", role: .guest,
            schedules: [
                .dateRange(
                    start: bench.wall.now.addingTimeInterval(-3600), end: bench.wall.now.addingTimeInterval(1)
                )
            ],
            pin: "975310", by: .installer)
        mark = try bench.mark()
        bench.press("975")
        bench.type("310#")
        let refused = try bench.events(after: mark)
        #expect(refused.map(\.action) == [.outsideSchedule])
        #expect(refused.first?.userID == carol.id)
        #expect(bench.controller.bolt.state == .locked)
        #expect(bench.percent > 98)
        #expect(bench.motorIsOff)
    }
}
