import BoltworkDrivers
import BoltworkLock
import Foundation
import Testing

@Suite("Access: schedules")
struct ScheduleTests {
    /// A bench whose wall clock starts at `start`, with an admin and a user with `schedules`.
    func bench(start: Date, schedules: [AccessSchedule], timeZone: TimeZone = AccessBench.utc) throws
        -> AccessBench
    {
        let bench = try AccessBench(epoch: start, configuration: AccessBench.testing(timeZone: timeZone))
        let admin = try bench.withAdmin()
        try bench.access.addUser(
            name: "Cleaner", role: .service, schedules: schedules, pin: "606060", by: .user(admin.id))
        return bench
    }

    func opens(_ bench: AccessBench) throws -> Bool {
        let decision = try bench.access.authorize(PINEntry("606060"))
        if let refusal = decision.refusal { #expect(refusal.reason == .outsideSchedule) }
        return decision.isGranted
    }

    @Test("a weekday window admits its first minute and refuses a minute before and at its end")
    func weeklyBoundaries() throws {
        // Monday and Wednesday, 09:00 to 17:00; start Monday 08:59.
        let window = AccessSchedule.weekly(days: [.monday, .wednesday], startMinute: 540, endMinute: 1020)
        let bench = try bench(start: AccessBench.date(2026, 1, 5, 8, 59), schedules: [window])
        #expect(try !opens(bench))
        bench.advance(minutes: 1)  // 09:00
        #expect(try opens(bench))
        bench.advance(minutes: 479)  // 16:59
        #expect(try opens(bench))
        bench.advance(minutes: 1)  // 17:00
        #expect(try !opens(bench))
        bench.advance(minutes: 24 * 60 - 480)  // Tuesday 09:00
        #expect(try !opens(bench))
        bench.advance(minutes: 24 * 60)  // Wednesday 09:00
        #expect(try opens(bench))
    }

    @Test("a window crossing midnight belongs to the day it starts")
    func crossingMidnight() throws {
        // Fridays 22:00 to 02:00; start Friday 9 January 2026, 21:59.
        let window = AccessSchedule.weekly(days: [.friday], startMinute: 22 * 60, endMinute: 2 * 60)
        let bench = try bench(start: AccessBench.date(2026, 1, 9, 21, 59), schedules: [window])
        #expect(try !opens(bench))
        bench.advance(minutes: 1)  // Friday 22:00
        #expect(try opens(bench))
        bench.advance(minutes: 3 * 60 + 59)  // Saturday 01:59
        #expect(try opens(bench))
        bench.advance(minutes: 1)  // Saturday 02:00
        #expect(try !opens(bench))
        // Friday's early hours belong to Thursday's window, which does not exist.
        let friday = AccessBench.date(2026, 1, 9, 1, 0)
        #expect(!window.contains(friday, in: AccessBench.utc))
        #expect(window.contains(AccessBench.date(2026, 1, 10, 1, 0), in: AccessBench.utc))
    }

    @Test("a date range admits its start and refuses its end")
    func dateRange() throws {
        let start = AccessBench.date(2026, 1, 5, 12, 0)
        let range = AccessSchedule.dateRange(start: start, end: AccessBench.date(2026, 1, 6, 12, 0))
        let bench = try bench(start: start - 60, schedules: [range])
        #expect(try !opens(bench))
        bench.advance(minutes: 1)
        #expect(try opens(bench))
        bench.advance(minutes: 24 * 60 - 1)
        #expect(try opens(bench))
        bench.advance(minutes: 1)
        #expect(try !opens(bench))
    }

    @Test("weekly windows and date ranges together need one of each")
    func combined() throws {
        let weekdays = AccessSchedule.weekly(days: [.monday], startMinute: 0, endMinute: 720)
        let january = AccessSchedule.dateRange(
            start: AccessBench.date(2026, 1, 1, 0, 0), end: AccessBench.date(2026, 2, 1, 0, 0))
        let user = User(
            name: "x", role: .guest, schedules: [weekdays, january], createdAt: AccessBench.monday)
        #expect(user.schedulesAdmit(AccessBench.date(2026, 1, 5, 11, 59), in: AccessBench.utc))
        #expect(!user.schedulesAdmit(AccessBench.date(2026, 1, 5, 12, 0), in: AccessBench.utc))
        #expect(!user.schedulesAdmit(AccessBench.date(2026, 2, 2, 11, 0), in: AccessBench.utc))
    }

    @Test("windows are read in the configured time zone")
    func timeZone() throws {
        let tokyo = try #require(TimeZone(identifier: "Asia/Tokyo"))
        // Mondays 09:00 to 10:00 Tokyo time is Monday 00:00 to 01:00 UTC.
        let window = AccessSchedule.weekly(days: [.monday], startMinute: 540, endMinute: 600)
        let bench = try bench(
            start: AccessBench.date(2026, 1, 4, 23, 59), schedules: [window], timeZone: tokyo)
        #expect(try !opens(bench))
        bench.advance(minutes: 1)
        #expect(try opens(bench))
        bench.advance(minutes: 60)
        #expect(try !opens(bench))
        #expect(window.contains(AccessBench.date(2026, 1, 5, 9, 30), in: AccessBench.utc))
        #expect(!window.contains(AccessBench.date(2026, 1, 5, 9, 30), in: tokyo))
    }

    @Test("schedules with impossible numbers are refused when a user is added")
    func validation() throws {
        let bench = try AccessBench()
        try bench.withAdmin()
        for schedule in [
            AccessSchedule.weekly(days: [], startMinute: 0, endMinute: 60),
            .weekly(days: [.monday], startMinute: 1440, endMinute: 60),
            .dateRange(start: AccessBench.monday, end: AccessBench.monday),
        ] {
            #expect(throws: AccessError.self) {
                try bench.access.addUser(name: "x", role: .guest, schedules: [schedule], by: .installer)
            }
        }
        #expect(throws: AccessError.self) {
            try bench.access.addUser(name: "x", role: .guest, kind: .expiring(minutes: 0), by: .installer)
        }
    }
}
