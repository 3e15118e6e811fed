import Foundation
import Yams

/// The lock's policy settings (`/etc/boltwork/lock.yaml`), separate from the board file: the
/// board file says how the hardware is wired, this file says how the lock behaves. Every key is
/// optional; a missing key keeps the documented default. Problems are reported like board-file
/// problems: file, line, key and fix.
public struct LockConfigFile: Sendable, Hashable {
    /// Seconds after an unlock before the lock throws the bolt again (0: off).
    public var autoRelockSeconds = 30
    /// Seconds the door may stay open before the door-ajar alarm (0: off).
    public var doorAjarSeconds = 120
    /// Milliseconds a bolt move may take before it counts as jammed.
    public var moveTimeoutMilliseconds = 3000
    /// Whether the file sets `move-timeout-ms` itself (then a self-test calibration does not
    /// change it).
    public var moveTimeoutIsExplicit = false
    /// How often a failed lock is retried.
    public var lockRetries = 1
    /// Shortest code.
    public var pinMinimumLength = 6
    /// Longest code.
    public var pinMaximumLength = 10
    /// Seconds between keys before a partial entry is dropped.
    public var entryTimeoutSeconds = 5
    /// Wrong codes in a row before a timed lockout.
    public var lockoutAttempts = 5
    /// The first lockout, in seconds (it doubles each time).
    public var lockoutFirstSeconds = 30
    /// The longest lockout, in seconds.
    public var lockoutCapSeconds = 3600
    /// Wrong codes in a row after which the keypad refuses everything until an admin resets it.
    public var keypadDisableAfter = 100
    /// Battery warning threshold (percent).
    public var batteryLowPercent = 25
    /// Battery alarm threshold (percent).
    public var batteryCriticalPercent = 10
    /// Below this charge (percent) motor moves are refused.
    public var batteryReservePercent = 5
    /// Below this resting voltage per cell (millivolts) motor moves are refused.
    public var batteryReserveMillivolts = 3450
    /// Days the audit log keeps records.
    public var auditRetentionDays = 365
    /// The time zone schedules are read in (IANA name); nil: the system's.
    public var timeZone: String?
    /// `boltctl doctor` warns when the running release is older than this many days.
    public var softwareMaxAgeDays = 365

    /// The defaults.
    public init() {}

    /// Reads and validates a lock config file.
    public static func load(path: String) throws(BoardFileError) -> LockConfigFile {
        try parse(
            try BoardReader.readFile(
                path, fix: "check the path given with --config, or leave --config out to use the defaults"),
            file: path)
    }

    /// Parses and validates lock-config YAML; `file` names it in messages.
    public static func parse(_ text: String, file: String) throws(BoardFileError) -> LockConfigFile {
        let reader = BoardReader(file: file)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw BoardFileError(problems: [
                reader.problem(
                    nil, "(file)", "this is not valid YAML (\(error))", "fix the syntax at the position shown"
                )
            ])
        }
        var config = LockConfigFile()
        guard let root else { return config }
        let top =
            reader.mapping(
                root, "",
                allowed: [
                    "auto-relock-seconds", "door-ajar-seconds", "move-timeout-ms", "lock-retries", "pin",
                    "lockout", "battery",
                    "audit", "time-zone", "doctor",
                ]) ?? [:]
        func set(_ value: inout Int, _ node: Node?, _ key: String, _ range: ClosedRange<Int>) {
            if let number = reader.int(node, key, range: range) { value = number }
        }
        set(&config.autoRelockSeconds, top["auto-relock-seconds"], "auto-relock-seconds", 0...86_400)
        set(&config.doorAjarSeconds, top["door-ajar-seconds"], "door-ajar-seconds", 0...86_400)
        set(&config.moveTimeoutMilliseconds, top["move-timeout-ms"], "move-timeout-ms", 200...60_000)
        config.moveTimeoutIsExplicit = top["move-timeout-ms"] != nil
        set(&config.lockRetries, top["lock-retries"], "lock-retries", 0...5)
        if let pin = reader.mapping(
            top["pin"], "pin", allowed: ["min-length", "max-length", "entry-timeout-seconds"])
        {
            set(&config.pinMinimumLength, pin["min-length"], "pin.min-length", 4...12)
            set(&config.pinMaximumLength, pin["max-length"], "pin.max-length", 4...16)
            set(
                &config.entryTimeoutSeconds, pin["entry-timeout-seconds"], "pin.entry-timeout-seconds",
                1...120)
        }
        if let lockout = reader.mapping(
            top["lockout"], "lockout", allowed: ["attempts", "first-seconds", "cap-seconds", "disable-after"])
        {
            set(&config.lockoutAttempts, lockout["attempts"], "lockout.attempts", 1...255)
            set(&config.lockoutFirstSeconds, lockout["first-seconds"], "lockout.first-seconds", 1...86_400)
            set(&config.lockoutCapSeconds, lockout["cap-seconds"], "lockout.cap-seconds", 1...604_800)
            set(&config.keypadDisableAfter, lockout["disable-after"], "lockout.disable-after", 1...100_000)
        }
        if let battery = reader.mapping(
            top["battery"], "battery",
            allowed: ["low-percent", "critical-percent", "reserve-percent", "reserve-millivolts"])
        {
            set(&config.batteryLowPercent, battery["low-percent"], "battery.low-percent", 1...100)
            set(
                &config.batteryCriticalPercent, battery["critical-percent"], "battery.critical-percent",
                1...100)
            set(&config.batteryReservePercent, battery["reserve-percent"], "battery.reserve-percent", 0...100)
            set(
                &config.batteryReserveMillivolts, battery["reserve-millivolts"], "battery.reserve-millivolts",
                2500...4500)
        }
        if let audit = reader.mapping(top["audit"], "audit", allowed: ["retention-days"]) {
            set(&config.auditRetentionDays, audit["retention-days"], "audit.retention-days", 1...36_500)
        }
        if let doctor = reader.mapping(top["doctor"], "doctor", allowed: ["software-max-age-days"]) {
            set(
                &config.softwareMaxAgeDays, doctor["software-max-age-days"], "doctor.software-max-age-days",
                30...3650)
        }
        if let zone = reader.string(top["time-zone"], "time-zone") {
            if TimeZone(identifier: zone) == nil {
                reader.report(
                    top["time-zone"], "time-zone", "unknown time zone '\(zone)'",
                    "use an IANA name such as Europe/Berlin")
            } else {
                config.timeZone = zone
            }
        }

        // Cross-checks.
        func problem(_ key: String, _ what: String, _ fix: String) {
            reader.problems.append(
                BoardFileProblem(file: file, line: reader.marks[key], key: key, problem: what, fix: fix))
        }
        if config.pinMinimumLength > config.pinMaximumLength {
            problem(
                "pin.min-length",
                "the minimum (\(config.pinMinimumLength)) is above the maximum (\(config.pinMaximumLength))",
                "make min-length at most max-length")
        }
        if config.lockoutFirstSeconds > config.lockoutCapSeconds {
            problem(
                "lockout.first-seconds", "the first lockout is longer than the cap",
                "make first-seconds at most cap-seconds")
        }
        if !(config.batteryReservePercent < config.batteryCriticalPercent
            && config.batteryCriticalPercent < config.batteryLowPercent)
        {
            problem(
                "battery", "the thresholds must fall in order: reserve < critical < low",
                "for example reserve 5, critical 10, low 25")
        }
        if !reader.problems.isEmpty { throw BoardFileError(problems: reader.problems) }
        return config
    }
}
