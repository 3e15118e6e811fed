import BoltworkLock
import Foundation

extension Doctor {
    // MARK: Admin code and code lengths

    static func adminCode(_ context: Context) -> Finding? {
        guard !context.activeUsers.contains(where: { $0.role == .admin }) else { return nil }
        let disabled = context.input.users.filter {
            $0.role == .admin && $0.credential != nil && !$0.isEnabled
        }
        return Finding(
            id: "admin-code-missing", severity: .critical, title: "No admin code is set",
            detail:
                "No enabled admin has a code"
                + (disabled.isEmpty ? "" : " (\(list(disabled.map(name))) disabled)")
                + ", so the keypad refuses every code. There is no default code.",
            fix:
                "Set the first admin code on the lock: `sudo -u boltwork boltd init --state /var/lib/boltwork`."
        )
    }

    /// Codes shorter than the configured minimum. A code is stored as a hash, so its length is
    /// recorded next to the hash when the code is set (``PINCredential/length``): a code was
    /// valid when set, and is short now only because the minimum was raised since. The length
    /// alone tells an attacker little (the minimum is no secret) and never the digits.
    static func shortCodes(_ context: Context) -> Finding? {
        let minimum = context.input.pinMinimumLength
        let short = context.activeUsers.filter { ($0.credential?.length ?? minimum) < minimum }
        guard !short.isEmpty else { return nil }
        let names = short.map { "\(name($0)): \($0.credential?.length ?? 0) digits" }
        return Finding(
            id: "code-too-short", severity: .warning,
            title: "\(plural(short.count, "code")) shorter than the minimum of \(minimum) digits",
            detail:
                list(names) + ". They were set before the minimum (`pin.min-length`) was raised; "
                + "every digit missing makes a code 10 times easier to guess.",
            fix: "Give each a new code of at least \(minimum) digits.")
    }

    // MARK: Shared users

    /// Words that name a group, not a person (singular; plurals are recognised).
    static let groupWords: Set<String> = [
        "family", "guest", "visitor", "kid", "child", "children", "cleaner", "cleaning", "everyone",
        "everybody", "anyone", "all", "shared", "share", "common", "house", "household", "home", "friend",
        "staff", "team", "crew", "worker", "contractor", "tenant", "roommate", "flatmate", "housemate",
        "neighbour", "neighbor", "parent", "grandparent", "babysitter", "nanny", "helper", "delivery",
        "courier", "airbnb", "rental", "people", "group", "users", "maintenance", "trade", "tradesman",
        "tradesmen", "service",
    ]

    /// Why `name` looks like it names several people, or nil.
    static func groupReason(_ name: String) -> String? {
        let lower = name.lowercased()
        for joiner in [" and ", "&", " + ", "/"] where lower.contains(joiner) {
            let parts = lower.components(separatedBy: joiner).filter {
                !$0.trimmingCharacters(in: .whitespaces).isEmpty
            }
            if parts.count > 1 { return "names several people" }
        }
        let words = lower.split { !$0.isLetter }.map(String.init)
        for word in words {
            var candidates = [word]
            if word.hasSuffix("ies") { candidates.append(String(word.dropLast(3)) + "y") }
            if word.hasSuffix("es") { candidates.append(String(word.dropLast(2))) }
            if word.hasSuffix("s") { candidates.append(String(word.dropLast())) }
            if candidates.contains(where: groupWords.contains) { return "'\(word)' names a group" }
        }
        if words.count >= 2, words.first == "the", let last = words.last, last.hasSuffix("s") {
            return "'the \(last)' names a household"
        }
        return nil
    }

    static func sharedNames(_ context: Context) -> Finding? {
        let shared = context.activeUsers.compactMap { user in groupReason(user.name).map { (user, $0) } }
        guard !shared.isEmpty else { return nil }
        return Finding(
            id: "shared-user-name", severity: .warning,
            title:
                "\(plural(shared.count, "user")) look\(shared.count == 1 ? "s" : "") shared by several people",
            detail:
                list(shared.map { "\(name($0.0)): \($0.1)" })
                + ". A code several people know cannot be withdrawn from one of them, and the log cannot "
                + "say who came in.",
            fix:
                "Give each person their own user and code (a guest or service user with an end date for "
                + "visitors and trades), then remove the shared one.")
    }

    /// Usage that suggests several people behind one code, from the entries (keypad or remote
    /// unlocks) of the last ``DoctorPolicy/sharedUsageDays`` days of each user with entries on
    /// at least ``DoctorPolicy/sharedUsageMinimumDays`` days. Two signals, each explained in
    /// the finding:
    ///
    /// - volume: more than ``DoctorPolicy/sharedUsageEntriesPerDay`` entries per day with
    ///   entries. One person comes in about as often as they go out, rarely more than a few
    ///   times a day.
    /// - spread: regular entries (at least two) at ``DoctorPolicy/sharedUsageDistinctHours`` or
    ///   more different hours of the day. One person's routine clusters around a few hours.
    ///
    /// Both signals make a warning; one alone is a note (a courier's code or a shift worker can
    /// show one). Leaving is not recorded, so "two people inside at once" cannot be measured.
    static func sharedUsage(_ context: Context) -> Finding? {
        let policy = context.policy
        let entries = context.entries(since: context.daysAgo(policy.sharedUsageDays))
        var strong: [String] = []
        var weak: [String] = []
        for user in context.input.users {
            let own = entries.filter { $0.event.userID == user.id }
            let days = Set(own.map { context.day($0.event.time) }).count
            guard days >= policy.sharedUsageMinimumDays else { continue }
            let perDay = Double(own.count) / Double(days)
            var hourCounts: [Int: Int] = [:]
            for record in own { hourCounts[context.hour(record.event.time), default: 0] += 1 }
            let regularHours = hourCounts.values.filter { $0 >= 2 }.count
            var signals: [String] = []
            if perDay > policy.sharedUsageEntriesPerDay {
                signals.append(
                    "\((perDay * 10).rounded() / 10) entries a day (over \(Int(policy.sharedUsageEntriesPerDay)), "
                        + "more than one person usually makes)")
            }
            if regularHours >= policy.sharedUsageDistinctHours {
                signals.append(
                    "regular entries at \(regularHours) different hours of the day (one person's routine "
                        + "covers fewer than \(policy.sharedUsageDistinctHours))")
            }
            guard !signals.isEmpty else { continue }
            let text =
                "\(name(user)): \(own.count) entries on \(days) days, "
                + signals.joined(separator: " and ")
            if signals.count > 1 { strong.append(text) } else { weak.append(text) }
        }
        guard !strong.isEmpty || !weak.isEmpty else { return nil }
        return Finding(
            id: "shared-user-usage", severity: strong.isEmpty ? .info : .warning,
            title: "Usage suggests several people share one code",
            detail:
                "In the last \(policy.sharedUsageDays) days: " + list(strong + weak)
                + ". If one person really uses the code this way, ignore this.",
            fix:
                "Ask who uses the code; give each person their own user and code, then change or remove "
                + "the shared one.")
    }

    // MARK: Guest and service codes

    /// Whether the user's code stops working by itself: a single-use or expiring kind, or a
    /// date range.
    static func expires(_ user: User) -> Bool {
        switch user.kind {
        case .disposable, .expiring: return true
        case .permanent, .duress, .emergency: break
        }
        return user.schedules.contains { if case .dateRange = $0 { return true } else { return false } }
    }

    static func guestsWithoutExpiry(_ context: Context) -> Finding? {
        let open = context.activeUsers.filter { ($0.role == .guest || $0.role == .service) && !expires($0) }
        guard !open.isEmpty else { return nil }
        return Finding(
            id: "guest-code-no-expiry", severity: .warning,
            title: "\(plural(open.count, "guest or service code")) never expire\(open.count == 1 ? "s" : "")",
            detail:
                list(open.map { "\(name($0)), \($0.role.rawValue)" })
                + ": no end date, no single-use or expiring kind. Codes given to visitors and trades "
                + "keep working long after they are needed, and get passed on.",
            fix:
                "Give each a date range that ends when the visit or job ends, or make it single-use or expiring."
        )
    }

    static func unusedCodes(_ context: Context) -> Finding? {
        let days = context.policy.unusedCodeDays
        let horizon = context.daysAgo(days)
        let unused = context.activeUsers.filter { user in
            guard user.role == .guest || user.role == .service else { return false }
            // A code that became valid recently (or will) is not unused yet.
            let startsLate = user.schedules.contains {
                if case .dateRange(let start, _) = $0 { return start > horizon } else { return false }
            }
            return !startsLate && (user.lastUsedAt ?? user.createdAt) < horizon
        }
        guard !unused.isEmpty else { return nil }
        let lines = unused.map { user in
            if let last = user.lastUsedAt {
                return "\(name(user)): last used \(context.day(last)) (\(context.daysSince(last)) days ago)"
            }
            return "\(name(user)): never used since it was set up \(context.day(user.createdAt))"
        }
        return Finding(
            id: "code-unused", severity: .warning,
            title: "\(plural(unused.count, "guest or service code")) unused for over \(days) days",
            detail: list(lines) + ". A code nobody needs is only a risk.",
            fix: "Remove these users, or disable them until they are needed again.")
    }

    // MARK: Emergency codes

    static func untestedEmergencyCodes(_ context: Context) -> Finding? {
        let days = context.policy.emergencyTestDays
        let stale = context.activeUsers.filter {
            $0.kind == .emergency && ($0.lastTestedAt ?? $0.createdAt) < context.daysAgo(days)
        }
        guard !stale.isEmpty else { return nil }
        let lines = stale.map { user in
            if let tested = user.lastTestedAt {
                return
                    "\(name(user)): last tested \(context.day(tested)) (\(context.daysSince(tested)) days ago)"
            }
            return "\(name(user)): never tested since it was set up \(context.day(user.createdAt))"
        }
        return Finding(
            id: "emergency-untested", severity: .warning,
            title: "Emergency access not tested for over a year",
            detail:
                list(lines)
                + ". A backup way in that was never tried fails when it is needed: the code may be "
                + "forgotten, or the keypad or battery may not work.",
            fix:
                "Open the lock once with each emergency code (it counts as a test), and check the mechanical "
                + "key or the emergency power input, if there is one.")
    }

    static func missingEmergencyCode(_ context: Context) -> Finding? {
        guard !context.input.users.isEmpty, !context.input.users.contains(where: { $0.kind == .emergency })
        else { return nil }
        return Finding(
            id: "emergency-code-missing", severity: .info, title: "No emergency code is set",
            detail:
                "If the admin code is lost or the admin is away, the only way in is the mechanical key "
                + "(if the lock has one).",
            fix: "Add an emergency user with a code kept somewhere safe, and test it once a year.")
    }

    static func keypadDisabled(_ context: Context) -> Finding? {
        guard context.input.lockout.keypadDisabled else { return nil }
        return Finding(
            id: "keypad-disabled", severity: .warning,
            title: "The keypad is disabled after too many wrong codes",
            detail:
                "\(context.input.lockout.consecutiveFailures) wrong codes in a row disabled the keypad: it "
                + "refuses every code, right ones too, until an admin resets the lockout.",
            fix: "Find out who typed them (see the wrong-code finding and the log), then reset the lockout.")
    }
}
