import BoltworkLock
import Foundation

/// The texts people and scripts type for the control commands, read in the lock's time zone:
/// schedules (`mon-fri 08:00-17:00`, `2026-12-01..2026-12-24`), instants (`2026-12-01`,
/// `2026-12-01T14:00`, `now`, `24h` back from now) and spans (`30m`, `2h`, `7d`).
public enum ControlText {
    /// Why a text could not be read: what was wrong and an example of what works.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        /// The message.
        public var description: String

        init(_ description: String) { self.description = description }
    }

    private static let dayNames: [(String, Weekday)] = [
        ("mon", .monday), ("tue", .tuesday), ("wed", .wednesday), ("thu", .thursday), ("fri", .friday),
        ("sat", .saturday), ("sun", .sunday),
    ]

    // MARK: Spans

    /// A span like `90s`, `30m`, `2h`, `7d` or `2w` (a bare number is minutes), in seconds.
    public static func span(_ text: String) throws(Problem) -> Int {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Int)] = [
            ("s", 1), ("m", 60), ("min", 60), ("h", 3600), ("d", 86_400), ("w", 604_800),
        ]
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        let unit = String(trimmed.dropFirst(digits.count))
        guard let number = Int(digits), number > 0,
            let multiplier = unit.isEmpty ? 60 : units.first(where: { $0.0 == unit })?.1,
            number <= Int.max / multiplier / 2
        else {
            throw Problem(
                "'\(text)' is not a span of time: write a positive number and a unit, like 30m, 2h or 7d")
        }
        return number * multiplier
    }

    // MARK: Instants

    /// An instant: `now`, a span back from `now` (`24h`), a date (`2026-12-01`, the start of
    /// that day in `timeZone`; with `endOfDay`, the start of the next day) or a date and time
    /// (`2026-12-01T14:00`, `2026-12-01 14:00:30`, in `timeZone` unless it ends with `Z` or an
    /// offset such as `+01:00`).
    public static func instant(_ text: String, now: Date, timeZone: TimeZone, endOfDay: Bool = false)
        throws(Problem) -> Date
    {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.lowercased() == "now" { return now }
        if let first = trimmed.first, first.isNumber, let seconds = try? span(trimmed),
            trimmed.last?.isLetter == true
        {
            return now.addingTimeInterval(-Double(seconds))
        }
        if let date = day(trimmed, timeZone: timeZone) {
            guard endOfDay else { return date }
            return calendar(timeZone).date(byAdding: .day, value: 1, to: date) ?? date
        }
        if let date = dateTime(trimmed, timeZone: timeZone) { return date }
        throw Problem(
            "'\(text)' is not a time: write a date (2026-12-01), a date and time (2026-12-01T14:00), "
                + "now, or a span back from now (24h, 7d)")
    }

    private static func calendar(_ timeZone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar
    }

    private static func day(_ text: String, timeZone: TimeZone) -> Date? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
        else { return nil }
        let components = DateComponents(year: year, month: month, day: day)
        let calendar = Self.calendar(timeZone)
        guard let date = calendar.date(from: components) else { return nil }
        let check = calendar.dateComponents([.year, .month, .day], from: date)
        guard check.year == year, check.month == month, check.day == day else { return nil }
        return date
    }

    private static func dateTime(_ text: String, timeZone: TimeZone) -> Date? {
        let normalized = text.replacingOccurrences(of: " ", with: "T")
        let parts = normalized.split(separator: "T", maxSplits: 1)
        guard parts.count == 2, let date = day(String(parts[0]), timeZone: timeZone) else { return nil }
        var time = String(parts[1])
        var zone = timeZone
        if time.hasSuffix("Z") || time.hasSuffix("z") {
            time.removeLast()
            zone = TimeZone(identifier: "UTC") ?? timeZone
        } else if let sign = time.lastIndex(where: { $0 == "+" || $0 == "-" }) {
            let offset = time[time.index(after: sign)...].split(separator: ":")
            guard (1...2).contains(offset.count), let hours = Int(offset[0]),
                let minutes = offset.count == 2 ? Int(offset[1]) : 0
            else { return nil }
            let seconds = (hours * 3600 + minutes * 60) * (time[sign] == "-" ? -1 : 1)
            guard let fixed = TimeZone(secondsFromGMT: seconds) else { return nil }
            zone = fixed
            time = String(time[..<sign])
        }
        let clock = time.split(separator: ":", omittingEmptySubsequences: false)
        guard (2...3).contains(clock.count), let hour = Int(clock[0]), let minute = Int(clock[1]),
            (0..<24).contains(hour), (0..<60).contains(minute)
        else { return nil }
        let second = clock.count == 3 ? Double(clock[2]) : 0
        guard let second, second >= 0, second < 61 else { return nil }
        // The date's local day in `zone`, then the time of day.
        let calendar = Self.calendar(zone)
        let local = Self.calendar(timeZone).dateComponents([.year, .month, .day], from: date)
        var components = local
        components.hour = hour
        components.minute = minute
        guard let start = calendar.date(from: components) else { return nil }
        return start.addingTimeInterval(second)
    }

    // MARK: Schedules

    /// A schedule: a weekly window (`mon-fri 08:00-17:00`, `sat,sun 10:00-14:00`,
    /// `daily 22:00-06:00` crossing midnight, `weekdays`, `weekends`) or a date range
    /// (`2026-12-01..2026-12-24`, whole days in `timeZone`; or with times,
    /// `2026-12-01T14:00..2026-12-03T11:00`; `now..2026-12-03`).
    public static func schedule(_ text: String, now: Date, timeZone: TimeZone) throws(Problem)
        -> AccessSchedule
    {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.contains("..") {
            let ends = trimmed.components(separatedBy: "..")
            guard ends.count == 2 else { throw Problem("'\(text)' has more than one '..'") }
            let start = try instant(ends[0], now: now, timeZone: timeZone)
            let end = try instant(ends[1], now: now, timeZone: timeZone, endOfDay: true)
            guard start < end else {
                throw Problem("'\(text)' ends before it starts: write the earlier date first")
            }
            return .dateRange(start: start, end: end)
        }
        let words = trimmed.split(separator: " ", omittingEmptySubsequences: true)
        guard words.count == 2 else {
            throw Problem(
                "'\(text)' is not a schedule: write days and hours (mon-fri 08:00-17:00) "
                    + "or dates (2026-12-01..2026-12-24)")
        }
        let days = try weekdays(String(words[0]))
        let hours = words[1].split(separator: "-", omittingEmptySubsequences: false)
        guard hours.count == 2, let start = minute(String(hours[0])), let end = minute(String(hours[1])),
            start < 1440, start != end
        else {
            throw Problem(
                "'\(words[1])' is not a window of hours: write START-END like 08:00-17:00 "
                    + "(an end before the start crosses midnight; 24:00 is the end of the day)")
        }
        return .weekly(days: days, startMinute: start, endMinute: end)
    }

    private static func weekdays(_ text: String) throws(Problem) -> Set<Weekday> {
        var days = Set<Weekday>()
        for item in text.lowercased().split(separator: ",") {
            switch item {
            case "daily", "every-day", "all": days.formUnion(Weekday.allCases)
            case "weekdays": days.formUnion([.monday, .tuesday, .wednesday, .thursday, .friday])
            case "weekends", "weekend": days.formUnion([.saturday, .sunday])
            default:
                let ends = item.split(separator: "-", omittingEmptySubsequences: false)
                guard (1...2).contains(ends.count), let first = weekday(String(ends[0])),
                    let last = weekday(String(ends[ends.count - 1]))
                else {
                    throw Problem(
                        "'\(item)' is not a day or a range of days: use mon tue wed thu fri sat sun, "
                            + "ranges like mon-fri, lists like sat,sun, or daily")
                }
                var day = first.rawValue
                while true {
                    if let weekday = Weekday(rawValue: day) { days.insert(weekday) }
                    if day == last.rawValue { break }
                    day = day % 7 + 1
                }
            }
        }
        return days
    }

    private static func weekday(_ text: String) -> Weekday? {
        let names = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
        guard text.count >= 3, let index = names.firstIndex(where: { $0.hasPrefix(text) }) else { return nil }
        return Weekday(rawValue: index + 1)
    }

    private static func minute(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[1].count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]),
            (0...24).contains(hour), (0..<60).contains(minute), hour * 60 + minute <= 1440
        else { return nil }
        return hour * 60 + minute
    }

    /// The schedule as it is typed (the inverse of ``schedule(_:now:timeZone:)``).
    public static func describe(_ schedule: AccessSchedule, timeZone: TimeZone) -> String {
        switch schedule {
        case .weekly(let days, let start, let end):
            return "\(describe(days)) \(clock(start))-\(clock(end))"
        case .dateRange(let start, let end):
            let calendar = Self.calendar(timeZone)
            let wholeDays =
                calendar.startOfDay(for: start) == start && calendar.startOfDay(for: end) == end
            if wholeDays, let last = calendar.date(byAdding: .day, value: -1, to: end) {
                return "\(format(start, timeZone, time: false))..\(format(last, timeZone, time: false))"
            }
            return "\(format(start, timeZone, time: true))..\(format(end, timeZone, time: true))"
        }
    }

    private static func describe(_ days: Set<Weekday>) -> String {
        if days.count == 7 { return "daily" }
        let sorted = days.sorted()
        var runs: [[Weekday]] = []
        for day in sorted {
            if let previous = runs.last?.last, previous.rawValue + 1 == day.rawValue {
                runs[runs.count - 1].append(day)
            } else {
                runs.append([day])
            }
        }
        func name(_ day: Weekday) -> String { dayNames[day.rawValue - 1].0 }
        return runs.map { run in
            run.count >= 3
                ? "\(name(run[0]))-\(name(run[run.count - 1]))" : run.map(name).joined(separator: ",")
        }.joined(separator: ",")
    }

    private static func clock(_ minute: Int) -> String {
        let hours = minute / 60
        let minutes = minute % 60
        return (hours < 10 ? "0" : "") + "\(hours):" + (minutes < 10 ? "0" : "") + "\(minutes)"
    }

    /// `2026-12-01` or `2026-12-01T14:00` (with seconds when they are not zero) in `timeZone`.
    static func format(_ date: Date, _ timeZone: TimeZone, time: Bool) -> String {
        let parts = calendar(timeZone).dateComponents(
            [.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String {
            let number = value ?? 0
            return (number < 10 ? "0" : "") + "\(number)"
        }
        var text = "\(parts.year ?? 0)-\(two(parts.month))-\(two(parts.day))"
        guard time else { return text }
        text += "T\(two(parts.hour)):\(two(parts.minute))"
        if let second = parts.second, second != 0 { text += ":\(two(second))" }
        return text
    }

    /// `date` as ISO 8601 with the offset of `timeZone` (`2026-12-01T14:00:00+01:00`).
    public static func iso8601(_ date: Date, timeZone: TimeZone) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = timeZone
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
