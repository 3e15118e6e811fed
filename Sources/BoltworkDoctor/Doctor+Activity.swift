import BoltworkLock
import Foundation

extension Doctor {
    /// The busiest ``DoctorPolicy/burstHours`` window of wrong codes and lockouts in the last
    /// ``DoctorPolicy/activityDays`` days; a finding when it reaches either threshold.
    static func wrongCodeBursts(_ context: Context) -> Finding? {
        let policy = context.policy
        let events = context.records(
            since: context.daysAgo(policy.activityDays), [.invalidCode, .lockoutStarted]
        )
        .map(\.event)
        let window = Double(policy.burstHours) * 3600
        var best: (start: Date, wrong: Int, lockouts: Int, remote: Int)?
        var end = 0
        for (index, first) in events.enumerated() {
            end = max(end, index)
            while end < events.count, events[end].time < first.time.addingTimeInterval(window) { end += 1 }
            let slice = events[index..<end]
            let wrong = slice.filter { $0.action == .invalidCode }.count
            let lockouts = slice.filter { $0.action == .lockoutStarted }.count
            guard wrong >= policy.burstWrongCodes || lockouts >= policy.burstLockouts else { continue }
            if best == nil || (wrong, lockouts) > (best?.wrong ?? 0, best?.lockouts ?? 0) {
                let remote = slice.filter { $0.action == .invalidCode && $0.source == .remote }.count
                best = (first.time, wrong, lockouts, remote)
            }
        }
        guard let best else { return nil }
        let channels =
            best.remote == 0
            ? "all on the keypad"
            : best.remote == best.wrong
                ? "all over the control socket" : "\(best.remote) over the control socket"
        return Finding(
            id: "wrong-code-burst", severity: .warning,
            title: "A burst of wrong codes: someone may be guessing",
            detail:
                "\(plural(best.wrong, "wrong code")) (\(channels)) and \(plural(best.lockouts, "lockout")) "
                + "within \(policy.burstHours) h from \(context.format(best.start)); the doctor reports "
                + "\(policy.burstWrongCodes) wrong codes or \(policy.burstLockouts) lockouts in "
                + "\(policy.burstHours) h. People mistype a code once or twice, not this often.",
            fix:
                "Check who was at the door then (`boltctl log`, a camera). If nobody in the household "
                + "explains it, change the codes that may have been watched being typed, and consider "
                + "fewer attempts before a lockout (`lockout.attempts` in the lock config file).")
    }

    /// Entries (keypad or remote unlocks) in the night hours of the last
    /// ``DoctorPolicy/nightRecentDays`` days, when the history before them (back to
    /// ``DoctorPolicy/nightBaselineDays``) has enough entries and almost none at night: an
    /// entry at an hour this household never uses is worth a look.
    static func nightEntries(_ context: Context) -> Finding? {
        let policy = context.policy
        let recentStart = context.daysAgo(policy.nightRecentDays)
        let all = context.entries(since: context.daysAgo(policy.nightBaselineDays))
        func isNight(_ record: AuditRecord) -> Bool {
            let hour = context.hour(record.event.time)
            return hour >= policy.nightStartHour && hour < policy.nightEndHour
        }
        let baseline = all.filter { $0.event.time < recentStart }
        let recentNight = all.filter { $0.event.time >= recentStart && isNight($0) }
        guard !recentNight.isEmpty, baseline.count >= policy.nightBaselineMinimumEntries else { return nil }
        let baselineNight = baseline.filter(isNight).count
        guard Double(baselineNight) <= Double(baseline.count) * policy.nightBaselineMaximumShare else {
            return nil
        }
        let lines = recentNight.reversed().map { record in
            "\(context.format(record.event.time)) by \(record.event.userName ?? "an unknown user") "
                + "(\(record.event.source?.rawValue ?? "?"))"
        }
        let hours = "\(policy.nightStartHour):00-\(policy.nightEndHour):00"
        return Finding(
            id: "unusual-hour-entry", severity: .warning,
            title: "\(plural(recentNight.count, "entry", "entries")) at an unusual hour",
            detail:
                list(lines)
                + ". Of the \(baseline.count) entries in the \(policy.nightBaselineDays - policy.nightRecentDays) "
                + "days before, \(baselineNight) were between \(hours) (\(context.input.timeZone.identifier)).",
            fix:
                "Ask the user whether it was them. If not, their code is known to someone else: change it "
                + "now.")
    }
}
