import BoltworkDaemon
import BoltworkLock
import Foundation
import Testing

@Suite("Schedule, time and span texts")
struct ControlTextTests {
    let zone = TimeZone(identifier: "Europe/Berlin")!
    let now = Date(timeIntervalSince1970: 1_800_000_000)  // 2027-01-15T08:00:00Z

    @Test(
        "weekly windows read as typed and describe back the same way",
        arguments: [
            ("mon-fri 08:00-17:00", "mon-fri 08:00-17:00"),
            ("sat,sun 10:00-14:00", "sat,sun 10:00-14:00"),
            ("daily 22:00-06:00", "daily 22:00-06:00"),
            ("weekdays 07:30-24:00", "mon-fri 07:30-24:00"),
            ("Monday,wed-fri 09:00-12:00", "mon,wed-fri 09:00-12:00"),
            ("fri-mon 18:00-23:00", "mon,fri-sun 18:00-23:00"),
        ])
    func weekly(text: String, described: String) throws {
        let schedule = try ControlText.schedule(text, now: now, timeZone: zone)
        #expect(ControlText.describe(schedule, timeZone: zone) == described)
        try schedule.validate()
    }

    @Test("a weekly window keeps its days and minutes")
    func weeklyFields() throws {
        let schedule = try ControlText.schedule("mon-fri 08:00-17:00", now: now, timeZone: zone)
        #expect(
            schedule
                == .weekly(
                    days: [.monday, .tuesday, .wednesday, .thursday, .friday], startMinute: 480,
                    endMinute: 1020))
    }

    @Test("a date range covers whole days in the lock's time zone, end day included")
    func dates() throws {
        let schedule = try ControlText.schedule("2026-12-01..2026-12-24", now: now, timeZone: zone)
        guard case .dateRange(let start, let end) = schedule else {
            Issue.record("not a date range")
            return
        }
        #expect(ControlText.iso8601(start, timeZone: zone) == "2026-12-01T00:00:00+01:00")
        #expect(ControlText.iso8601(end, timeZone: zone) == "2026-12-25T00:00:00+01:00")
        #expect(ControlText.describe(schedule, timeZone: zone) == "2026-12-01..2026-12-24")

        let timed = try ControlText.schedule("2026-12-01T14:00..2026-12-03T11:30", now: now, timeZone: zone)
        #expect(ControlText.describe(timed, timeZone: zone) == "2026-12-01T14:00..2026-12-03T11:30")
        let fromNow = try ControlText.schedule("now..2027-01-16", now: now, timeZone: zone)
        #expect(fromNow == .dateRange(start: now, end: Date(timeIntervalSince1970: 1_800_140_400)))
    }

    @Test(
        "mistakes name the text and show what works",
        arguments: [
            ("mon-fri 8-17", "08:00-17:00"), ("funday 08:00-17:00", "mon tue"),
            ("mon-fri", "mon-fri 08:00-17:00"),
            ("2026-12-24..2026-12-01", "earlier date first"), ("2026-02-30..2026-03-02", "2026-12-01"),
            ("mon 09:00-09:00", "08:00-17:00"), ("mon 25:00-26:00", "24:00"),
        ])
    func mistakes(text: String, hint: String) {
        #expect {
            try ControlText.schedule(text, now: now, timeZone: zone)
        } throws: { error in
            "\(error)".contains(hint)
        }
    }

    @Test("instants: now, spans back, dates, local and zoned times")
    func instants() throws {
        #expect(try ControlText.instant("now", now: now, timeZone: zone) == now)
        #expect(try ControlText.instant("24h", now: now, timeZone: zone) == now.addingTimeInterval(-86_400))
        #expect(try ControlText.instant("90s", now: now, timeZone: zone) == now.addingTimeInterval(-90))
        #expect(
            ControlText.iso8601(
                try ControlText.instant("2027-01-15", now: now, timeZone: zone), timeZone: zone)
                == "2027-01-15T00:00:00+01:00")
        #expect(
            ControlText.iso8601(
                try ControlText.instant("2027-01-15", now: now, timeZone: zone, endOfDay: true),
                timeZone: zone)
                == "2027-01-16T00:00:00+01:00")
        #expect(try ControlText.instant("2027-01-15T09:00", now: now, timeZone: zone) == now)
        #expect(try ControlText.instant("2027-01-15 09:00:00", now: now, timeZone: zone) == now)
        #expect(try ControlText.instant("2027-01-15T08:00:00Z", now: now, timeZone: zone) == now)
        #expect(try ControlText.instant("2027-01-15T03:00-05:00", now: now, timeZone: zone) == now)
        #expect(throws: ControlText.Problem.self) {
            try ControlText.instant("yesterday", now: now, timeZone: zone)
        }
    }

    @Test("spans: units, bare minutes, and nonsense refused")
    func spans() throws {
        #expect(try ControlText.span("30m") == 1800)
        #expect(try ControlText.span("2h") == 7200)
        #expect(try ControlText.span("1d") == 86_400)
        #expect(try ControlText.span("45") == 2700)
        for bad in ["", "0m", "-5m", "3 fortnights", "h"] {
            #expect(throws: ControlText.Problem.self) { try ControlText.span(bad) }
        }
    }
}
