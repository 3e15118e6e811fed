import Foundation

extension AccessSchedule {
    /// Whether `date` falls in this schedule, read in `timeZone`.
    ///
    /// A weekly window from `startMinute` to `endMinute` covers `[start, end)` on each listed
    /// day. When the end is not after the start the window crosses midnight: it starts on a
    /// listed day and ends on the next day, so the early hours belong to the day before (a
    /// Friday 22:00–02:00 window admits Saturday 01:30 but not Friday 01:30). Equal start and
    /// end mean 24 hours from the start. A date range covers `[start, end)`.
    public func contains(_ date: Date, in timeZone: TimeZone) -> Bool {
        switch self {
        case .dateRange(let start, let end):
            return date >= start && date < end
        case .weekly(let days, let startMinute, let endMinute):
            let (day, minute) = Self.localDayAndMinute(of: date, in: timeZone)
            if endMinute > startMinute {
                return days.contains(day) && minute >= startMinute && minute < endMinute
            }
            if days.contains(day) && minute >= startMinute { return true }
            return days.contains(day.previous) && minute < endMinute
        }
    }

    /// Checks the schedule's numbers.
    public func validate() throws(AccessError) {
        switch self {
        case .dateRange(let start, let end):
            guard start < end else {
                throw AccessError(.invalidSetting, "a date range must end after it starts")
            }
        case .weekly(let days, let startMinute, let endMinute):
            guard !days.isEmpty else {
                throw AccessError(.invalidSetting, "a weekly window needs at least one day")
            }
            guard (0..<1440).contains(startMinute), (0...1440).contains(endMinute) else {
                throw AccessError(
                    .invalidSetting,
                    "window minutes are minutes after midnight (start 0...1439, end 0...1440), "
                        + "not \(startMinute)–\(endMinute)")
            }
        }
    }

    static func localDayAndMinute(of date: Date, in timeZone: TimeZone) -> (Weekday, Int) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.weekday, .hour, .minute], from: date)
        // Calendar numbers Sunday 1 ... Saturday 7; ISO numbers Monday 1 ... Sunday 7.
        let iso = ((parts.weekday ?? 1) + 5) % 7 + 1
        return (Weekday(rawValue: iso) ?? .monday, (parts.hour ?? 0) * 60 + (parts.minute ?? 0))
    }
}

extension Weekday {
    /// The day before.
    public var previous: Weekday { Weekday(rawValue: rawValue == 1 ? 7 : rawValue - 1) ?? .sunday }
}

extension User {
    /// Whether the user's code is limited in time (schedules or an expiring kind); such codes
    /// depend on a correct wall clock.
    public var isTimeRestricted: Bool {
        if !schedules.isEmpty { return true }
        if case .expiring = kind { return true }
        return false
    }

    /// Whether the schedules admit `date`: with weekly windows it must fall in one of them, with
    /// date ranges in one of them, with both in one of each. No schedules admit every time.
    public func schedulesAdmit(_ date: Date, in timeZone: TimeZone) -> Bool {
        var weekly: [AccessSchedule] = []
        var ranges: [AccessSchedule] = []
        for schedule in schedules {
            if case .weekly = schedule { weekly.append(schedule) } else { ranges.append(schedule) }
        }
        let weeklyOK = weekly.isEmpty || weekly.contains { $0.contains(date, in: timeZone) }
        let rangeOK = ranges.isEmpty || ranges.contains { $0.contains(date, in: timeZone) }
        return weeklyOK && rangeOK
    }
}
