import BoltworkDrivers
import BoltworkLock
import Foundation

extension Doctor {
    // MARK: Battery and gauge

    static func gaugeMissing(_ context: Context) -> Finding? {
        guard context.input.battery == nil else { return nil }
        return Finding(
            id: "battery-gauge-missing", severity: .warning, title: "The lock has no fuel gauge",
            detail:
                "Without a gauge the lock cannot warn before its battery dies, nor refuse a bolt move the "
                + "battery cannot finish (a brown-out mid-throw leaves the bolt between its ends).",
            fix:
                "Fit a MAX17048, MAX17049 or BQ27441 gauge and add a `gauge:` section to the board file "
                + "(`type: power-supply` when a kernel driver already owns the gauge).")
    }

    static func gaugeFault(_ context: Context) -> Finding? {
        guard let fault = context.input.battery?.fault else { return nil }
        return Finding(
            id: "battery-gauge-fault", severity: .warning, title: "The fuel gauge is failing",
            detail:
                "\(fault). Until it reads again the lock cannot tell how much charge is left; moves are not "
                + "refused for it.",
            fix:
                "Check the gauge's wiring (SDA, SCL, power, ground) and address with "
                + "`boltwork-probe i2c --bus N`.")
    }

    static func implausibleReading(_ context: Context) -> Finding? {
        guard let battery = context.input.battery, let reading = battery.reading else { return nil }
        var problems: [String] = []
        if !(0...100).contains(reading.percent) {
            problems.append("a charge of \((reading.percent * 10).rounded() / 10) %")
        }
        let perCell = reading.millivolts / max(1, battery.cells)
        if !context.policy.cellMillivolts.contains(perCell) {
            problems.append(
                "\(perCell) mV per cell (a lithium cell reads \(context.policy.cellMillivolts.lowerBound)-"
                    + "\(context.policy.cellMillivolts.upperBound) mV)")
        }
        guard !problems.isEmpty else { return nil }
        return Finding(
            id: "battery-reading-implausible", severity: .warning, title: "The fuel gauge reads nonsense",
            detail:
                "The latest reading shows " + problems.joined(separator: " and ")
                + ": no working battery does that. The low-battery warning and the move reserve rely on it.",
            fix:
                "Check the gauge's type and cell count in the board file, its sense wires, and that the "
                + "battery is connected to the gauge's BAT pin.")
    }

    static func batteryLevel(_ context: Context) -> Finding? {
        guard let battery = context.input.battery, let level = battery.level, level != .normal else {
            return nil
        }
        let percent = battery.reading.map { "\(Int($0.percent.rounded())) %" } ?? "low"
        switch level {
        case .low:
            return Finding(
                id: "battery-low", severity: .warning, title: "The battery is low (\(percent))",
                detail: "The lock still works; weeks of charge may be left, depending on use.",
                fix: "Charge or replace the battery soon.")
        case .critical, .reserve:
            return Finding(
                id: "battery-critical", severity: .critical,
                title: "The battery is \(level == .reserve ? "below the reserve" : "critical") (\(percent))",
                detail:
                    level == .reserve
                    ? "Bolt moves are refused to avoid a brown-out mid-throw: the lock no longer locks or unlocks."
                    : "Soon the lock will refuse bolt moves to keep its reserve.",
                fix: "Charge or replace the battery now; use the key or the emergency power input meanwhile.")
        case .normal:
            return nil
        }
    }

    /// The move records' battery readings (taken just before each move) have not changed over
    /// ``DoctorPolicy/gaugeStuckDays`` days and ``DoctorPolicy/gaugeStuckMoves`` moves, below
    /// ``DoctorPolicy/gaugeFullPercent`` (a battery on a charger stays full). Every motor move
    /// draws current, so a working gauge moves.
    static func stuckGauge(_ context: Context) -> Finding? {
        let policy = context.policy
        let readings = moveReports(context).compactMap { record, report in
            report.batteryPercent.map { (time: record.event.time, percent: $0) }
        }
        guard let latest = readings.last, latest.percent < policy.gaugeFullPercent else { return nil }
        var run = 0
        var since = latest.time
        for reading in readings.reversed() {
            guard abs(reading.percent - latest.percent) < 0.05 else { break }
            run += 1
            since = reading.time
        }
        let days = latest.time.timeIntervalSince(since) / 86_400
        guard run >= policy.gaugeStuckMoves, days >= Double(policy.gaugeStuckDays) else { return nil }
        return Finding(
            id: "battery-gauge-stuck", severity: .warning, title: "The fuel gauge's reading does not move",
            detail:
                "It read \((latest.percent * 10).rounded() / 10) % before each of the last \(run) bolt moves, over "
                + "\(Int(days)) days. Every move draws charge, so a working gauge changes: the low-battery "
                + "warning will not come.",
            fix:
                "Check the gauge is measuring this battery (wiring, address); a quick-start or power cycle "
                + "of the gauge may revive it. Replace it if it stays stuck.")
    }

    // MARK: The bolt

    /// Commanded lock and unlock moves of the last ``DoctorPolicy/activityDays`` days with the
    /// throw time recorded (``BoltMoveReport``), oldest first.
    static func moveReports(_ context: Context) -> [(AuditRecord, BoltMoveReport)] {
        context.records(since: context.daysAgo(context.policy.activityDays), [.locked, .unlocked])
            .filter { $0.event.source != .manual }
            .compactMap { record in BoltMoveReport(auditDetail: record.event.detail).map { (record, $0) } }
    }

    /// A calibrated throw time from the store settings: nil when not set; a problem when set
    /// to something that is not a positive number of milliseconds.
    static func calibrated(_ key: String, _ context: Context) -> (value: Int?, problem: String?) {
        guard let text = context.input.settings[key] else { return (nil, nil) }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), value > 0, value <= 60_000 else {
            return (nil, "\(key) is '\(text)', not a number of milliseconds (1-60000)")
        }
        return (value, nil)
    }

    static func calibration(_ context: Context) -> Finding? {
        let lock = calibrated(lockThrowSettingKey, context)
        let unlock = calibrated(unlockThrowSettingKey, context)
        let problems = [lock.problem, unlock.problem].compactMap { $0 }
        if !problems.isEmpty {
            return Finding(
                id: "bolt-calibration-invalid", severity: .warning,
                title: "The bolt's calibration is unreadable",
                detail: list(problems) + ". Throw times cannot be compared with it.",
                fix: "Run the self-test's calibration again; it measures and stores both throw times.")
        }
        guard lock.value == nil || unlock.value == nil else { return nil }
        return Finding(
            id: "bolt-not-calibrated", severity: .info, title: "The bolt's throw time is not calibrated",
            detail:
                "Without the calibrated throw times, a slowing bolt is noticed only when it gets close to the "
                + "move timeout (\(context.input.moveTimeoutMilliseconds) ms).",
            fix:
                "Run the self-test's calibration once the lock is mounted; it stores both throw times "
                + "(\(lockThrowSettingKey), \(unlockThrowSettingKey)).")
    }

    static func slowThrows(_ context: Context) -> Finding? {
        let policy = context.policy
        let reports = moveReports(context)
        var lines: [String] = []
        for (action, key, verb) in [
            (AuditAction.locked, lockThrowSettingKey, "Locking"),
            (.unlocked, unlockThrowSettingKey, "Unlocking"),
        ] {
            let sample = reports.filter { $0.0.event.action == action }.suffix(policy.throwSample)
                .map(\.1.durationMilliseconds).sorted()
            guard sample.count >= min(3, policy.throwSample) else { continue }
            let median = sample[sample.count / 2]
            if let reference = calibrated(key, context).value {
                let ratio = Double(median) / Double(reference)
                if ratio > policy.slowThrowFactor {
                    lines.append(
                        "\(verb) takes \(median) ms (median of the last \(sample.count) moves), "
                            + "\((ratio * 10).rounded() / 10) times the calibrated \(reference) ms")
                }
            } else if Double(median) > Double(context.input.moveTimeoutMilliseconds)
                * policy.uncalibratedSlowShare
            {
                lines.append(
                    "\(verb) takes \(median) ms (median of the last \(sample.count) moves), "
                        + "close to the move timeout of \(context.input.moveTimeoutMilliseconds) ms")
            }
        }
        guard !lines.isEmpty else { return nil }
        return Finding(
            id: "bolt-slow", severity: .warning, title: "The bolt moves slower than it should",
            detail:
                list(lines)
                + ". A bolt that drags on the strike plate (a sagging door, a moved strike, a swollen frame) "
                + "slows down before it jams.",
            fix:
                "Check that the bolt slides freely into the strike with the door closed; adjust the strike "
                + "plate or the door's hinges, then calibrate again.")
    }

    static func retriedMoves(_ context: Context) -> Finding? {
        let retried = moveReports(context).filter { $0.1.attempt > 1 }
        guard !retried.isEmpty else { return nil }
        return Finding(
            id: "bolt-retries", severity: .warning,
            title: "\(plural(retried.count, "move")) needed a second attempt",
            detail:
                "In the last \(context.policy.activityDays) days: "
                + list(
                    retried.reversed().map { "\(context.format($0.0.event.time)), attempt \($0.1.attempt)" })
                + ". The bolt stuck, retracted and went in on a retry: the strike is likely misaligned.",
            fix:
                "Check that the bolt slides freely into the strike with the door closed; adjust the strike "
                + "plate or the door's hinges.")
    }

    static func jams(_ context: Context) -> Finding? {
        let since = context.daysAgo(context.policy.activityDays)
        let jams = context.records(since: since, [.jammed, .notFullyLocked]).filter {
            $0.event.source != .manual
        }
        guard !jams.isEmpty else { return nil }
        let lines = jams.reversed().map { record in
            "\(context.format(record.event.time)) \(record.event.action.rawValue)"
                + (record.event.detail.isEmpty ? "" : ": \(record.event.detail)")
        }
        return Finding(
            id: "bolt-jammed", severity: .warning,
            title: "The bolt \(jams.count == 1 ? "jammed once" : "jammed \(jams.count) times") recently",
            detail:
                "In the last \(context.policy.activityDays) days: " + list(lines, limit: 5)
                + ". A bolt that does not reach its end leaves the door unlocked.",
            fix:
                "Check that the bolt slides freely into the strike with the door closed (strike plate "
                + "alignment, a sagging door, debris in the strike); check the motor's supply under load.")
    }
}
