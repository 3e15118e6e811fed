import BoltworkLock
import Foundation

/// Examines a lock and reports what is wrong with it, how much it matters and how to fix it:
/// credentials (no admin code, short codes, shared users, guest codes without an end, unused
/// codes, an untested emergency code), activity (bursts of wrong codes, entries at unusual
/// hours), the battery and its gauge, the bolt (slow or retried throws, jams), the clock, the
/// device permissions, udev rule and service user, the audit chain, and the software's age.
///
/// ``examine(_:policy:)`` is a pure function of its input: everything it looks at is in the
/// ``DoctorInput``, system facts included, so every check is tested with a seeded input.
/// Each check reports at most one finding.
public enum Doctor {
    /// The store setting holding the calibrated lock (extend) throw time, in milliseconds.
    public static let lockThrowSettingKey = "calibration.lockThrowMilliseconds"
    /// The store setting holding the calibrated unlock (retract) throw time, in milliseconds.
    public static let unlockThrowSettingKey = "calibration.unlockThrowMilliseconds"

    /// The findings for `input`, most severe first.
    public static func examine(_ input: DoctorInput, policy: DoctorPolicy = DoctorPolicy()) -> [Finding] {
        let context = Context(input: input, policy: policy)
        let checks: [(Context) -> Finding?] = [
            storeProblems, auditChain,
            adminCode, shortCodes, sharedNames, sharedUsage, guestsWithoutExpiry, unusedCodes,
            untestedEmergencyCodes, missingEmergencyCode, keypadDisabled,
            wrongCodeBursts, nightEntries,
            gaugeMissing, gaugeFault, implausibleReading, batteryLevel, stuckGauge,
            calibration, slowThrows, retriedMoves, jams,
            clock, serviceUser, rootDaemon, deviceAccess, udevRule, softwareAge,
        ]
        return DoctorReport(version: "", checkedAt: input.now, findings: checks.compactMap { $0(context) })
            .findings
    }

    /// The report for `input`: the findings with the software's version and the time.
    public static func report(_ input: DoctorInput, policy: DoctorPolicy = DoctorPolicy()) -> DoctorReport {
        DoctorReport(
            version: input.system.software.version, checkedAt: input.now,
            findings: examine(input, policy: policy))
    }

    /// The input with the policy, and helpers the checks share.
    struct Context {
        let input: DoctorInput
        let policy: DoctorPolicy
        let calendar: Calendar

        init(input: DoctorInput, policy: DoctorPolicy) {
            var input = input
            // In time order (a clock stepped back can put later records before earlier ones).
            input.records.sort { ($0.event.time, $0.sequence) < ($1.event.time, $1.sequence) }
            self.input = input
            self.policy = policy
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = input.timeZone
            self.calendar = calendar
        }

        /// `2027-01-15 03:12` in the lock's time zone.
        func format(_ date: Date) -> String {
            let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
            func two(_ value: Int?) -> String {
                let value = value ?? 0
                return value < 10 ? "0\(value)" : "\(value)"
            }
            return
                "\(parts.year ?? 0)-\(two(parts.month))-\(two(parts.day)) \(two(parts.hour)):\(two(parts.minute))"
        }

        /// `2027-01-15`.
        func day(_ date: Date) -> String { String(format(date).prefix(10)) }

        /// Whole days from `date` to now.
        func daysSince(_ date: Date) -> Int { Int(input.now.timeIntervalSince(date) / 86_400) }

        /// The moment `days` days before now.
        func daysAgo(_ days: Int) -> Date { input.now.addingTimeInterval(-Double(days) * 86_400) }

        /// Records at or after `since`.
        func records(since: Date, _ actions: Set<AuditAction>) -> [AuditRecord] {
            input.records.filter { $0.event.time >= since && actions.contains($0.event.action) }
        }

        /// Entries from outside: unlocks by a code on the keypad or over the control socket.
        func entries(since: Date) -> [AuditRecord] {
            records(since: since, [.unlocked]).filter {
                $0.event.source == .keypad || $0.event.source == .remote
            }
        }

        /// The local hour of `date`.
        func hour(_ date: Date) -> Int { calendar.component(.hour, from: date) }

        /// Codes that open the lock now or could: enabled users with a code.
        var activeUsers: [User] { input.users.filter { $0.isEnabled && $0.credential != nil } }
    }

    /// `'Ada' (#1)`.
    static func name(_ user: User) -> String { "'\(user.name)' (\(user.id))" }

    /// A list of up to `limit` items, with "and N more".
    static func list(_ items: [String], limit: Int = 8) -> String {
        guard items.count > limit else { return items.joined(separator: "; ") }
        return items.prefix(limit).joined(separator: "; ") + "; and \(items.count - limit) more"
    }

    static func plural(_ count: Int, _ noun: String, _ plural: String? = nil) -> String {
        "\(count) \(count == 1 ? noun : plural ?? noun + "s")"
    }

    // MARK: The store and the audit chain

    static func storeProblems(_ context: Context) -> Finding? {
        let problems = context.input.storeProblems
        guard !problems.isEmpty else { return nil }
        return Finding(
            id: "store-unreadable", severity: .critical, title: "Part of the lock's database cannot be read",
            detail: list(problems) + ". The checks that need it were skipped.",
            fix:
                "Check the state directory's disk and permissions (boltwork.db belongs to the daemon's user, "
                + "mode 0600) and the daemon's log (`journalctl -u boltd`).")
    }

    static func auditChain(_ context: Context) -> Finding? {
        guard case .broken(let sequence, let reason)? = context.input.auditChain else { return nil }
        return Finding(
            id: "audit-chain-broken", severity: .critical, title: "The audit log's hash chain is broken",
            detail:
                "Record \(sequence): \(reason). Someone may have edited the database, or the storage is "
                + "failing; records from there on cannot be trusted. Records before it still can.",
            fix:
                "Copy the state directory's boltwork.db aside for investigation, check the storage (`dmesg`) "
                + "and who has root access to the lock, and change the codes if the lock may have been "
                + "tampered with.")
    }
}
