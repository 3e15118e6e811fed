import Foundation

/// Milliseconds with a precision that suits the size, from microseconds.
func milliseconds(_ micros: Double) -> String {
    let value = micros / 1000
    if value < 1 { return String(format: "%.3f ms", value) }
    if value < 100 { return String(format: "%.2f ms", value) }
    return String(format: "%.0f ms", value)
}

/// Decimal megabytes (10^6 bytes, so the 25 MB goal is not flattered by MiB) from KiB.
func megabytes(_ kib: Int) -> String { String(format: "%.1f MB", Double(kib) * 1024 / 1e6) }

/// A whole number with thousands separators.
func grouped(_ value: Int) -> String {
    let digits = String(value.magnitude)
    var out = ""
    for (index, digit) in digits.reversed().enumerated() {
        if index > 0 && index % 3 == 0 { out.append(",") }
        out.append(digit)
    }
    return (value < 0 ? "-" : "") + String(out.reversed())
}

/// Left-aligned columns.
func table(_ header: [String], _ rows: [[String]], indent: String = "  ") -> [String] {
    let all = [header] + rows
    let widths = header.indices.map { column in
        all.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0
    }
    return all.map { row in
        indent
            + row.enumerated().map { column, cell in
                column == row.count - 1
                    ? cell : cell.padding(toLength: widths[column] + 2, withPad: " ", startingAt: 0)
            }.joined()
    }
}

/// How many times more idle CPU the polling scanner used than boltd, or nil when boltd used none.
func idleRatio(_ section: Section) -> (ratio: Double?, daemon: IdleFigure, poller: IdleFigure)? {
    guard let daemon = section.idle.first(where: { $0.subject.hasPrefix("boltd") }),
        let poller = section.idle.first(where: { $0.subject.hasPrefix("polling") })
    else { return nil }
    return (
        daemon.cpuMicroseconds > 0 ? poller.cpuMicroseconds / daemon.cpuMicroseconds : nil, daemon, poller
    )
}

/// Judges the run against the issue's goals: on the host's figures (the VM runs under
/// emulation), except idle cost, which emulation does not change and is judged in both places.
func evaluateGoals(host: Section, vm: Section?) -> [GoalResult] {
    var goals: [GoalResult] = []
    let sections = [host] + (vm.map { [$0] } ?? [])

    // Idle.
    var idleParts: [String] = []
    var idleMet = true
    var idleMeasured = false
    for section in sections {
        guard let daemon = section.idle.first(where: { $0.subject.hasPrefix("boltd") }) else { continue }
        idleMeasured = true
        let scans = daemon.scans.map { "\($0) scans" } ?? "scans not counted"
        idleParts.append(
            "\(section.place) \(String(format: "%.4f", daemon.corePercent)) %, \(scans), "
                + "wake-ups: \(daemon.wakeups) in \(Int(daemon.seconds.rounded())) s")
        if daemon.corePercent > 0.1 || (daemon.scans ?? 1) != 0 { idleMet = false }
    }
    goals.append(
        GoalResult(
            goal: "idle ≤ 0.1 % of a core, no periodic keypad work",
            measured: idleMeasured ? idleParts.joined(separator: "; ") : "-",
            verdict: idleMeasured ? (idleMet ? "met" : "missed") : "not measured"))

    // Key latency.
    let boltwork = host.latency.filter { $0.debounceMilliseconds != nil }
    if boltwork.isEmpty {
        goals.append(
            GoalResult(
                goal: "key edge → event ≤ debounce + 1 ms at p99", measured: "-", verdict: "not measured"))
    } else {
        var parts: [String] = []
        var met = true
        for figure in boltwork {
            let debounce = figure.debounceMilliseconds ?? 0
            parts.append("debounce \(formatDebounce(debounce)): p99 \(milliseconds(figure.latency.p99))")
            if figure.latency.p99 > (debounce + 1) * 1000 || figure.latency.misses > 0 { met = false }
        }
        if let vm {
            let vmParts = vm.latency.filter { $0.debounceMilliseconds != nil }.map {
                "\(formatDebounce($0.debounceMilliseconds ?? 0)) → \(milliseconds($0.latency.p99))"
            }
            if !vmParts.isEmpty { parts.append("VM, emulated: " + vmParts.joined(separator: ", ")) }
        }
        goals.append(
            GoalResult(
                goal: "key edge → event ≤ debounce + 1 ms at p99",
                measured: "host " + parts.joined(separator: "; "),
                verdict: met ? "met" : "missed"))
    }

    // Unlock path.
    if let unlock = host.unlock {
        goals.append(
            GoalResult(
                goal: "PIN → motor ≤ 50 ms",
                measured:
                    "p50 \(milliseconds(unlock.path.p50)), p99 \(milliseconds(unlock.path.p99)) "
                    + "(hash alone p50 \(milliseconds(unlock.hash.p50)))",
                verdict: unlock.path.p99 <= 50_000 && unlock.path.misses == 0 && unlock.path.samples > 0
                    ? "met" : "missed"))
    } else {
        goals.append(GoalResult(goal: "PIN → motor ≤ 50 ms", measured: "-", verdict: "not measured"))
    }

    // Memory and start-up.
    if let daemon = host.daemon {
        goals.append(
            GoalResult(
                goal: "RSS ≤ 25 MB",
                measured:
                    "peak \(megabytes(daemon.peakResidentKiB)), idle \(megabytes(daemon.idleResidentKiB))",
                verdict: Double(daemon.peakResidentKiB) * 1024 <= 25e6 ? "met" : "missed"))
        goals.append(
            GoalResult(
                goal: "start → ready ≤ 300 ms",
                measured:
                    "p50 \(milliseconds(daemon.startToReady.p50)), max \(milliseconds(daemon.startToReady.max)) "
                    + "over \(daemon.startToReady.samples) starts",
                verdict: daemon.startToReady.samples > 0 && daemon.startToReady.max <= 300_000
                    ? "met" : "missed"))
    } else {
        goals.append(GoalResult(goal: "RSS ≤ 25 MB", measured: "-", verdict: "not measured"))
        goals.append(GoalResult(goal: "start → ready ≤ 300 ms", measured: "-", verdict: "not measured"))
    }

    // Against polling.
    var ratioParts: [String] = []
    var ratioMet = true
    var ratioMeasured = false
    for section in sections {
        guard let (ratio, _, poller) = idleRatio(section) else { continue }
        ratioMeasured = true
        if let ratio {
            ratioParts.append("\(section.place) \(String(format: "%.0f", ratio))× less")
            if ratio < 50 { ratioMet = false }
        } else {
            ratioParts.append(
                "\(section.place): boltd used no CPU at all, polling \(String(format: "%.3f", poller.corePercent)) %"
            )
        }
    }
    goals.append(
        GoalResult(
            goal: "≥ 50× less idle CPU than the polling baseline",
            measured: ratioMeasured ? ratioParts.joined(separator: "; ") : "-",
            verdict: ratioMeasured ? (ratioMet ? "met" : "missed") : "not measured"))
    return goals
}

func formatDebounce(_ milliseconds: Double) -> String {
    milliseconds == 0 ? "0" : String(format: "%g ms", milliseconds)
}

/// The human-readable table.
func render(_ report: Report) -> String {
    var lines: [String] = []
    let host = report.host
    lines.append("Boltwork benchmark, \(report.date) (\(report.build) build)")
    lines.append(
        "host: \(host.machine.cpu), \(host.machine.cores) cores, \(host.machine.memoryMiB / 1024) GiB, "
            + "\(host.machine.kernel), load average \(String(format: "%.2f", host.machine.loadAverage)) at start"
    )
    lines.append("      libgpiod \(host.libgpiod); keypad figures on \(host.backend)")
    if let vm = report.vm {
        lines.append("vm:   \(vm.machine.cpu), \(vm.machine.kernel); keypad figures on \(vm.backend)")
    } else {
        lines.append("vm:   not run: \(report.vmSkipped ?? "skipped")")
    }
    if report.build != "release" {
        lines.append("WARNING: a \(report.build) build; figures are not representative (use scripts/bench)")
    }
    let sections = [host] + (report.vm.map { [$0] } ?? [])

    lines.append("")
    let idleSeconds = sections.flatMap(\.idle).first.map { Int($0.seconds.rounded()) } ?? 0
    lines.append("Idle cost, \(idleSeconds) s without input (boltd's scans: since start)")
    lines.append(
        contentsOf: table(
            ["", "where", "CPU", "% of a core", "wake-ups", "scans", "threads", "RSS"],
            sections.flatMap { section in
                section.idle.map { figure in
                    [
                        figure.subject, section.place, milliseconds(figure.cpuMicroseconds),
                        String(format: "%.4f %%", figure.corePercent), grouped(figure.wakeups),
                        figure.scans.map(grouped) ?? "?",
                        "\(figure.threads)"
                            + (figure.threadsExited > 0 ? " (\(figure.threadsExited) ended)" : ""),
                        megabytes(figure.residentKiB),
                    ]
                }
            }))

    let presses = sections.flatMap(\.latency).first.map { $0.latency.samples + $0.latency.misses } ?? 0
    lines.append("")
    lines.append("Key latency, row edge → key event, \(grouped(presses)) presses each")
    lines.append(
        contentsOf: table(
            ["", "where", "p50", "p99", "max", "misses", "scans"],
            sections.flatMap { section in
                section.latency.map { figure in
                    [
                        figure.subject
                            + (figure.debounceMilliseconds.map { ", debounce \(formatDebounce($0))" } ?? ""),
                        section.place, milliseconds(figure.latency.p50), milliseconds(figure.latency.p99),
                        milliseconds(figure.latency.max), "\(figure.latency.misses)", grouped(figure.scans),
                    ]
                }
            }))

    lines.append("")
    lines.append("Scan cost, one full 4×4 scan (release all, then per column: drive, read all rows, release)")
    lines.append(
        contentsOf: table(
            ["", "where", "p50", "p99", "max", "GPIO calls"],
            sections.compactMap { section in
                section.scanCost.map { cost in
                    [
                        section.place == "vm" ? "gpio-sim" : "simulated",
                        section.place,
                        milliseconds(cost.duration.p50), milliseconds(cost.duration.p99),
                        milliseconds(cost.duration.max), String(format: "%.0f", cost.callsPerScan),
                    ]
                }
            }))

    if let unlock = host.unlock {
        lines.append("")
        lines.append(
            "Unlock path, last key of a valid code → motor driver's first output change "
                + "(\(unlock.path.samples) codes; \(unlock.store))")
        lines.append(
            contentsOf: table(
                ["", "p50", "p99", "max", "misses"],
                [
                    [
                        "keypad → code check → store → motor", milliseconds(unlock.path.p50),
                        milliseconds(unlock.path.p99), milliseconds(unlock.path.max), "\(unlock.path.misses)",
                    ],
                    [
                        "hash check alone (\(unlock.hash.samples)×)", milliseconds(unlock.hash.p50),
                        milliseconds(unlock.hash.p99), milliseconds(unlock.hash.max), "-",
                    ],
                    [
                        "code check alone (\(unlock.decision.samples)×: reads, hash, commit)",
                        milliseconds(unlock.decision.p50), milliseconds(unlock.decision.p99),
                        milliseconds(unlock.decision.max), "-",
                    ],
                    [
                        "store commit alone (\(unlock.commit.samples)×)", milliseconds(unlock.commit.p50),
                        milliseconds(unlock.commit.p99), milliseconds(unlock.commit.max), "-",
                    ],
                ]))
        lines.append("  hash: \(unlock.hashParameters)")
    }

    let daemons = sections.compactMap { section in section.daemon.map { (section.place, $0) } }
    if !daemons.isEmpty {
        lines.append("")
        lines.append("boltd memory and start-up")
        lines.append(
            contentsOf: table(
                [
                    "", "start → ready p50", "max", "RSS idle", "of which mapped files", "RSS peak",
                    "peak covers",
                ],
                daemons.map { place, daemon in
                    [
                        place, milliseconds(daemon.startToReady.p50), milliseconds(daemon.startToReady.max),
                        megabytes(daemon.idleResidentKiB), megabytes(daemon.idleFileKiB),
                        megabytes(daemon.peakResidentKiB), daemon.peakIncludes,
                    ]
                }))
        lines.append(
            "  mapped files: pages of the executable and the shared libraries (Swift runtime, Foundation), "
                + "shared with any other Swift process")
    }

    if let endurance = host.endurance {
        lines.append("")
        lines.append(
            "Endurance, \(grouped(endurance.cycles)) lock/unlock cycles on the simulator (virtual time; "
                + "\(endurance.store))")
        lines.append(
            "  \(String(format: "%.0f", endurance.cyclesPerSecond)) cycles/s: "
                + "\(String(format: "%.1f", endurance.virtualHours)) h of virtual time in "
                + "\(String(format: "%.1f", endurance.seconds)) s; \(endurance.failedCycles) moves failed")
        lines.append(
            "  RSS after "
                + endurance.residentKiB.map { "\(grouped($0.cycles)): \(megabytes($0.residentKiB))" }
                .joined(separator: ", "))
        let first = endurance.residentKiB.first.map { grouped($0.cycles) } ?? "-"
        lines.append(
            "  growth \(first) → \(grouped(endurance.cycles)) cycles: \(megabytes(endurance.growthKiB)); over the "
                + "second half: \(megabytes(endurance.lateGrowthKiB))")
    }

    lines.append("")
    lines.append("Boltwork vs polling, same backend and harness")
    for section in sections {
        var parts: [String] = []
        if let (ratio, _, _) = idleRatio(section) {
            parts.append(
                ratio.map { "idle CPU \(String(format: "%.0f", $0))× less" } ?? "idle CPU: boltd used none")
        }
        if let poll = section.latency.first(where: { $0.debounceMilliseconds == nil }) {
            for figure in section.latency where figure.debounceMilliseconds != nil {
                parts.append(
                    "latency with debounce \(formatDebounce(figure.debounceMilliseconds ?? 0)): p50 "
                        + relative(figure.latency.p50, poll.latency.p50) + ", p99 "
                        + relative(figure.latency.p99, poll.latency.p99))
            }
        }
        if !parts.isEmpty { lines.append("  \(section.place): " + parts.joined(separator: "; ")) }
    }

    lines.append("")
    lines.append("Goals")
    lines.append(
        contentsOf: table(
            ["", "measured", "verdict"], report.goals.map { [$0.goal, $0.measured, $0.verdict] }))

    let notes = sections.flatMap { section in section.notes.map { "\(section.place): \($0)" } }
    if !notes.isEmpty {
        lines.append("")
        lines.append("Notes")
        for note in notes { lines.append("  - " + note) }
    }
    return lines.joined(separator: "\n")
}

/// "0.52× the polling time" style comparison of Boltwork's figure with polling's.
private func relative(_ boltwork: Double, _ polling: Double) -> String {
    guard boltwork > 0, polling > 0 else { return "-" }
    return String(format: "%.2f× polling's", boltwork / polling)
}
