import BoltworkDrivers
import BoltworkLock
import Foundation

/// The thresholds the doctor judges by. The defaults are the documented ones; only the
/// software's maximum age comes from the lock config file (`doctor.software-max-age-days`).
public struct DoctorPolicy: Sendable, Hashable {
    /// Warn when the running release is older than this many days (365).
    public var softwareMaxAgeDays = 365
    /// Warn about guest and service codes unused for this many days (90).
    public var unusedCodeDays = 90
    /// Warn about emergency codes not tested (used) for this many days (365).
    public var emergencyTestDays = 365
    /// How far back wrong codes, jams and bolt moves are looked at, in days (30).
    public var activityDays = 30
    /// A burst: at least this many wrong codes within ``burstHours`` (10)...
    public var burstWrongCodes = 10
    /// ...or at least this many lockouts within ``burstHours`` (3).
    public var burstLockouts = 3
    /// The burst window, in hours (24).
    public var burstHours = 24
    /// Local hours counted as night: from `nightStartHour` (0) up to `nightEndHour` (5).
    public var nightStartHour = 0
    /// The end of the night (exclusive).
    public var nightEndHour = 5
    /// Night entries are reported from this many recent days (7)...
    public var nightRecentDays = 7
    /// ...when the history before them, back to this many days (90)...
    public var nightBaselineDays = 90
    /// ...holds at least this many entries (20)...
    public var nightBaselineMinimumEntries = 20
    /// ...of which at most this share was at night (0.02).
    public var nightBaselineMaximumShare = 0.02
    /// Usage patterns are looked at over this many days (28).
    public var sharedUsageDays = 28
    /// A user needs entries on this many days before their pattern is judged (7).
    public var sharedUsageMinimumDays = 7
    /// More entries than this per active day suggest several people (6).
    public var sharedUsageEntriesPerDay = 6.0
    /// Regular entries (at least 2 each) at this many different hours of the day suggest
    /// several people (12).
    public var sharedUsageDistinctHours = 12
    /// A bolt is slow when its median throw exceeds the calibrated time by this factor (1.5).
    public var slowThrowFactor = 1.5
    /// Without a calibration, a bolt is slow when its median throw exceeds this share of the
    /// move timeout (0.6).
    public var uncalibratedSlowShare = 0.6
    /// The median is taken over at most this many recent moves per direction (5).
    public var throwSample = 5
    /// A gauge is stuck when its percentage did not change over this many days (3)...
    public var gaugeStuckDays = 3
    /// ...and at least this many motor moves (10), below ``gaugeFullPercent``.
    public var gaugeStuckMoves = 10
    /// A percentage at or above this (99) is a battery kept full by a charger, not a stuck gauge.
    public var gaugeFullPercent = 99.0
    /// Plausible voltage per cell, in millivolts (2500-4500).
    public var cellMillivolts = 2500...4500

    /// The defaults.
    public init() {}

    /// The defaults with the software's maximum age from the lock config file.
    public init(softwareMaxAgeDays: Int) {
        self.softwareMaxAgeDays = softwareMaxAgeDays
    }

    /// How far back the audit log is read, in days (the longest window).
    public var lookbackDays: Int { max(activityDays, nightBaselineDays, sharedUsageDays) }
}

/// The battery as the lock sees it.
public struct BatteryFacts: Sendable, Hashable {
    /// The latest good reading.
    public var reading: BatteryReading?
    /// The level per the battery policy.
    public var level: BatteryLevel?
    /// The current gauge fault, if any.
    public var fault: String?
    /// Cells in series.
    public var cells: Int

    /// Creates the facts.
    public init(reading: BatteryReading?, level: BatteryLevel?, fault: String?, cells: Int = 1) {
        self.reading = reading
        self.level = level
        self.fault = fault
        self.cells = cells
    }
}

/// Everything the doctor examines: the lock's users, its recent audit log, its state and
/// settings, the policy values that matter, and the system around it. ``gather(controller:store:now:timeZone:pinMinimumLength:moveTimeoutMilliseconds:system:policy:)``
/// reads it from a running lock; tests may build it by hand.
public struct DoctorInput: Sendable {
    /// The lock's wall-clock time.
    public var now: Date
    /// The time zone schedules are read in (for "unusual hours").
    public var timeZone: TimeZone
    /// Every user.
    public var users: [User]
    /// Audit records of the last ``DoctorPolicy/lookbackDays`` days, oldest first.
    public var records: [AuditRecord]
    /// The audit chain check, nil when it could not run.
    public var auditChain: AuditVerification?
    /// The wrong-code lockout state.
    public var lockout: LockoutState
    /// The battery, nil when the lock has no fuel gauge.
    public var battery: BatteryFacts?
    /// The store settings the doctor reads (the calibration keys).
    public var settings: [String: String]
    /// The configured shortest code.
    public var pinMinimumLength: Int
    /// The configured move timeout, in milliseconds.
    public var moveTimeoutMilliseconds: Int
    /// What could not be read from the store.
    public var storeProblems: [String]
    /// The system around the lock.
    public var system: SystemFacts

    /// Creates an input.
    public init(
        now: Date, timeZone: TimeZone, users: [User], records: [AuditRecord], auditChain: AuditVerification?,
        lockout: LockoutState, battery: BatteryFacts?, settings: [String: String], pinMinimumLength: Int,
        moveTimeoutMilliseconds: Int, storeProblems: [String] = [], system: SystemFacts
    ) {
        self.now = now
        self.timeZone = timeZone
        self.users = users
        self.records = records
        self.auditChain = auditChain
        self.lockout = lockout
        self.battery = battery
        self.settings = settings
        self.pinMinimumLength = pinMinimumLength
        self.moveTimeoutMilliseconds = moveTimeoutMilliseconds
        self.storeProblems = storeProblems
        self.system = system
    }

    /// Reads the input from a running lock: users, the audit log of the last
    /// ``DoctorPolicy/lookbackDays`` days, the chain check, the lockout, the battery and the
    /// calibration settings. What the store cannot give is listed in ``storeProblems`` (the
    /// doctor reports it) rather than thrown.
    public static func gather(
        controller: LockController, store: any LockStore, now: Date, timeZone: TimeZone,
        pinMinimumLength: Int, moveTimeoutMilliseconds: Int, system: SystemFacts,
        policy: DoctorPolicy = DoctorPolicy()
    ) -> DoctorInput {
        var problems: [String] = []
        func read<T>(_ what: String, _ body: () throws(StoreError) -> T) -> T? {
            do {
                return try body()
            } catch {
                problems.append("\(what): \(error)")
                return nil
            }
        }
        let since = now.addingTimeInterval(-Double(policy.lookbackDays) * 86_400)
        let users = read("users") { () throws(StoreError) in try store.users() } ?? []
        let records =
            read("audit log") { () throws(StoreError) in try store.auditRecords(AuditQuery(since: since)) }
            ?? []
        let chain = read("audit chain") { () throws(StoreError) in try store.verifyAudit() }
        let lockout = read("lockout") { () throws(StoreError) in try store.lockout() } ?? LockoutState()
        var settings: [String: String] = [:]
        for key in [Doctor.lockThrowSettingKey, Doctor.unlockThrowSettingKey] {
            if let value = read("setting \(key)", { () throws(StoreError) in try store.setting(key) }) ?? nil
            {
                settings[key] = value
            }
        }
        let battery = controller.battery.map { monitor in
            BatteryFacts(
                reading: monitor.latestReading, level: monitor.latestReading == nil ? nil : monitor.level,
                fault: monitor.fault, cells: monitor.policy.cells)
        }
        return DoctorInput(
            now: now, timeZone: timeZone, users: users, records: records, auditChain: chain, lockout: lockout,
            battery: battery, settings: settings, pinMinimumLength: pinMinimumLength,
            moveTimeoutMilliseconds: moveTimeoutMilliseconds, storeProblems: problems, system: system)
    }
}
