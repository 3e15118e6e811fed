import BoltworkBoard
import BoltworkDaemon
import BoltworkDoctor
import BoltworkHAL
import BoltworkLock
import Foundation
import Testing

/// Each red flag seeded on a real lock on the simulated board, and a healthy lock that stays
/// quiet.
@Suite("Doctor on a lock")
struct DoctorLockTests {
    @Test("a healthy lock has no findings at all")
    func healthy() throws {
        let bench = try DoctorBench()
        try bench.calibrate(lock: 1500, unlock: 1500)
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        let now = bench.now
        try bench.access.addUser(name: "Ada", role: .resident, pin: "135790", by: .installer)
        try bench.access.addUser(
            name: "Tom", role: .guest,
            schedules: [
                .dateRange(start: now.addingTimeInterval(-86_400), end: now.addingTimeInterval(7 * 86_400))
            ],
            pin: "112233", by: .installer)
        try bench.access.addUser(
            name: "Plumber", role: .service, kind: .disposable, pin: "445566", by: .installer)
        try bench.access.addUser(
            name: "Backup", role: .resident, kind: .emergency, pin: "998877", by: .installer)
        bench.lock.controller.bolt.lock(source: .button)
        bench.wait(5)
        bench.type("998877#")  // the emergency code, tested
        bench.wait(40)
        bench.type("135790#")
        bench.wait(40)
        bench.type("112233#")
        bench.wait(40)
        bench.type("111111#")  // one mistyped code is not a burst
        for _ in 0..<3 { bench.cycle() }

        let findings = bench.findings()
        #expect(findings.isEmpty, "a healthy lock has no findings: \(findings.ids)")
        #expect(bench.report().exitCode == 0)
        let entries = try bench.store.auditRecords(AuditQuery(actions: [.unlocked])).filter {
            $0.event.source == .keypad
        }
        #expect(entries.count == 3)
        #expect(
            entries.allSatisfy { BoltMoveReport(auditDetail: $0.event.detail) != nil }, "every move is timed")
    }

    @Test("no admin code is critical")
    func adminCodeMissing() throws {
        let bench = try DoctorBench()
        let finding = try #require(bench.findings()["admin-code-missing"])
        #expect(finding.severity == .critical)
        #expect(bench.report().exitCode == 1)
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        #expect(bench.findings()["admin-code-missing"] == nil)
    }

    @Test("codes set before the minimum was raised are flagged by their recorded length")
    func shortCodes() throws {
        let store = MemoryLockStore()
        do {
            let before = try DoctorBench(config: DoctorBench.config { $0.pinMinimumLength = 4 }, store: store)
            try before.access.initializeAdmin(name: "admin", pin: "2468")
            try before.access.addUser(name: "Ada", role: .resident, pin: "13579", by: .installer)
            try before.access.addUser(name: "Bo", role: .resident, pin: "1122334", by: .installer)
            #expect(before.findings()["code-too-short"] == nil, "valid under the minimum in force")
        }
        // The lock restarts with the minimum raised to 6 (the default).
        let after = try DoctorBench(store: store)
        let finding = try #require(after.findings()["code-too-short"])
        #expect(finding.severity == .warning)
        #expect(finding.detail.contains("'admin' (#1): 4 digits"))
        #expect(finding.detail.contains("'Ada' (#2): 5 digits"))
        #expect(!finding.detail.contains("Bo"))
        for code in ["2468", "13579"] {
            #expect(!finding.detail.contains(code) && !finding.fix.contains(code), "never the code")
        }
    }

    @Test("users named like a group are flagged as shared")
    func sharedNames() throws {
        let bench = try DoctorBench()
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        var pin = 300_000
        for name in ["Cleaners", "The Smiths", "Tom & Anna", "Kids", "James", "Agnes", "Andrew"] {
            pin += 1111
            try bench.access.addUser(name: name, role: .resident, pin: String(pin), by: .installer)
        }
        let finding = try #require(bench.findings()["shared-user-name"])
        #expect(finding.severity == .warning)
        for flagged in ["'Cleaners'", "'The Smiths'", "'Tom & Anna'", "'Kids'"] {
            #expect(finding.detail.contains(flagged), "\(flagged) is flagged")
        }
        for person in ["James", "Agnes", "Andrew"] {
            #expect(!finding.detail.contains(person), "\(person) is one person")
        }
    }

    @Test("usage of one code at many hours and many times a day suggests several people")
    func sharedUsage() throws {
        let bench = try DoctorBench()
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        let many = try bench.access.addUser(name: "Ada", role: .resident, pin: "135790", by: .installer)
        let busy = try bench.access.addUser(name: "Bob", role: .resident, pin: "224466", by: .installer)
        let one = try bench.access.addUser(name: "Cy", role: .resident, pin: "557799", by: .installer)
        let start = bench.now.addingTimeInterval(-27 * 86_400)
        var events: [AuditEvent] = []
        for day in 0..<27 {
            let midnight = start.addingTimeInterval(Double(day) * 86_400 - 8 * 3600)
            // Ada's code: 9 entries a day, spread over 16 hours: several people.
            for index in 0..<9 {
                let hour = 6 + (day + index * 2) % 16
                events.append(
                    DoctorBench.entry(many, at: midnight.addingTimeInterval(Double(hour) * 3600 + 600)))
            }
            // Bob: 8 a day, all around 8:00 and 18:00 (a courier's code, say): volume only.
            for index in 0..<8 {
                let hour = index < 4 ? 8 : 18
                events.append(
                    DoctorBench.entry(
                        busy, at: midnight.addingTimeInterval(Double(hour) * 3600 + Double(index) * 300)))
            }
            // Cy: twice a day, one person's routine.
            for hour in [7, 19] {
                events.append(DoctorBench.entry(one, at: midnight.addingTimeInterval(Double(hour) * 3600)))
            }
        }
        try bench.seed(events)
        let finding = try #require(bench.findings()["shared-user-usage"])
        #expect(finding.severity == .warning, "two signals for Ada")
        #expect(finding.detail.contains("'Ada' (#2): 243 entries on 27 days, 9.0 entries a day"))
        #expect(finding.detail.contains("different hours of the day"))
        #expect(finding.detail.contains("'Bob' (#3)"))
        #expect(!finding.detail.contains("'Cy'"))
    }

    @Test("one signal alone is a note, not a warning")
    func sharedUsageOneSignal() throws {
        let bench = try DoctorBench()
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        let user = try bench.access.addUser(name: "Bob", role: .resident, pin: "224466", by: .installer)
        let start = bench.now.addingTimeInterval(-10 * 86_400)
        try bench.seed(
            (0..<10).flatMap { day in
                (0..<8).map { index in
                    DoctorBench.entry(
                        user, at: start.addingTimeInterval(Double(day) * 86_400 + Double(index) * 600))
                }
            })
        let finding = try #require(bench.findings()["shared-user-usage"])
        #expect(finding.severity == .info)
        #expect(bench.report().exitCode == 0, "a note alone does not fail the check")
    }

    @Test("guest and service codes without an end are flagged; an end date, single use or expiry is enough")
    func guestWithoutExpiry() throws {
        let bench = try DoctorBench()
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        let now = bench.now
        try bench.access.addUser(name: "Tom", role: .guest, pin: "112233", by: .installer)
        try bench.access.addUser(
            name: "Window cleaner", role: .service,
            schedules: [.weekly(days: [.monday], startMinute: 540, endMinute: 720)], pin: "223344",
            by: .installer)
        try bench.access.addUser(
            name: "Eve", role: .guest,
            schedules: [.dateRange(start: now, end: now.addingTimeInterval(86_400))],
            pin: "334455", by: .installer)
        try bench.access.addUser(
            name: "Fay", role: .guest, kind: .expiring(minutes: 60), pin: "445566", by: .installer)
        try bench.access.addUser(
            name: "Gus", role: .service, kind: .disposable, pin: "556677", by: .installer)
        let finding = try #require(bench.findings()["guest-code-no-expiry"])
        #expect(finding.detail.contains("'Tom' (#2), guest"))
        #expect(finding.detail.contains("'Window cleaner' (#3), service"), "a weekly window never ends")
        for name in ["Eve", "Fay", "Gus"] { #expect(!finding.detail.contains(name)) }
    }

    @Test("guest and service codes unused for over 90 days are flagged")
    func unusedCodes() throws {
        let bench = try DoctorBench()
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        let now = bench.now
        let year = [AccessSchedule.dateRange(start: now, end: now.addingTimeInterval(365 * 86_400))]
        try bench.access.addUser(
            name: "Plumber", role: .service, schedules: year, pin: "223344", by: .installer)
        try bench.access.addUser(name: "Tom", role: .guest, schedules: year, pin: "112233", by: .installer)
        bench.type("223344#")
        // The same lock, restarted 60 days later, then 100 days later.
        #expect(
            try DoctorBench(store: bench.store, epoch: DoctorBench.later(days: 60)).findings()["code-unused"]
                == nil)
        let later = try DoctorBench(store: bench.store, epoch: DoctorBench.later(days: 100))
        later.type("112233#")  // Tom came by recently
        let finding = try #require(later.findings()["code-unused"])
        #expect(finding.detail.contains("'Plumber' (#2): last used 2027-01-15 (100 days ago)"))
        #expect(!finding.detail.contains("Tom"))
    }

    @Test("an emergency code untested for over a year is flagged until it is used")
    func emergencyUntested() throws {
        let bench = try DoctorBench()
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        #expect(bench.findings()["emergency-code-missing"]?.severity == .info)
        try bench.access.addUser(
            name: "Backup", role: .resident, kind: .emergency, pin: "998877", by: .installer)
        #expect(bench.findings()["emergency-untested"] == nil)
        let later = try DoctorBench(store: bench.store, epoch: DoctorBench.later(days: 366))
        let finding = try #require(later.findings()["emergency-untested"])
        #expect(finding.severity == .warning)
        #expect(finding.detail.contains("'Backup' (#2): never tested since it was set up 2027-01-15"))
        later.type("998877#")
        #expect(later.findings()["emergency-untested"] == nil, "using the code tests it")
    }

    @Test("a low battery is a warning, a critical one is critical")
    func batteryLevel() throws {
        let bench = try DoctorBench()
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        bench.board.battery.setStateOfCharge(20)
        bench.lock.controller.battery?.refresh()
        #expect(bench.findings()["battery-low"]?.severity == .warning)
        bench.board.battery.setStateOfCharge(8)
        bench.lock.controller.battery?.refresh()
        let findings = bench.findings()
        #expect(findings["battery-critical"]?.severity == .critical)
        #expect(findings["battery-low"] == nil)
    }

    @Test("a board without a fuel gauge is flagged")
    func gaugeMissing() throws {
        let bench = try DoctorBench(board: { $0.gauge = nil })
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        #expect(bench.findings()["battery-gauge-missing"]?.severity == .warning)
    }

    @Test("a gauge that stops answering is flagged")
    func gaugeFault() throws {
        let bench = try DoctorBench()
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        bench.board.buses[1]?.detach(at: I2CAddress(constant: 0x36))
        bench.lock.controller.battery?.refresh()
        let finding = try #require(bench.findings()["battery-gauge-fault"])
        #expect(finding.detail.contains("MAX17048"))
    }

    @Test("an implausible voltage or charge is flagged")
    func implausibleReading() throws {
        let bench = try DoctorBench()
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        let gauge = bench.replaceGauge()
        gauge.force(0x02, to: 0xF000)  // VCELL 4.8 V: under the driver's 5 V limit, over any Li-ion cell
        bench.lock.controller.battery?.refresh()
        let finding = try #require(bench.findings()["battery-reading-implausible"])
        #expect(finding.detail.contains("4800 mV per cell"))

        // A charge over 100 % never passes the drivers; the doctor still refuses it.
        var input = DoctorInput.gather(
            controller: bench.lock.controller, store: bench.store, now: bench.now, timeZone: .gmt,
            pinMinimumLength: 6, moveTimeoutMilliseconds: 3000, system: FixedFacts.healthy(now: bench.now))
        input.battery?.reading?.percent = 130
        input.battery?.reading?.millivolts = 3900
        let pure = try #require(Doctor.examine(input)["battery-reading-implausible"])
        #expect(pure.detail.contains("a charge of 130.0 %"))
        #expect(!pure.detail.contains("mV per cell"))
    }

    @Test("a gauge whose percentage does not move for days while the motor runs is flagged")
    func gaugeStuck() throws {
        let bench = try DoctorBench()
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        let gauge = bench.replaceGauge()
        gauge.force(0x04, to: 0x4000)  // SOC 64 %, whatever the battery does
        for _ in 0..<8 {
            bench.cycle()
            bench.wait(days: 0.5)
        }
        let finding = try #require(bench.findings()["battery-gauge-stuck"])
        #expect(finding.detail.contains("64.0 %"))

        // The same moves with a working gauge: the charge falls, nothing is stuck.
        let working = try DoctorBench()
        try working.access.initializeAdmin(name: "admin", pin: "246810")
        for _ in 0..<8 {
            working.cycle()
            working.wait(days: 0.5)
        }
        #expect(working.findings()["battery-gauge-stuck"] == nil)
    }

    @Test("throws slower than the calibration (a misaligned strike) are flagged")
    func slowThrows() throws {
        let bench = try DoctorBench(config: DoctorBench.config { $0.moveTimeoutMilliseconds = 6000 })
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        try bench.calibrate(lock: 1500, unlock: 1500)
        for _ in 0..<3 { bench.cycle() }
        #expect(bench.findings()["bolt-slow"] == nil, "a free bolt moves at its calibrated speed")
        bench.board.mechanism.misalignStrike(from: 50, slowdown: 2.5)
        for _ in 0..<3 { bench.cycle() }
        let finding = try #require(bench.findings()["bolt-slow"])
        #expect(finding.detail.contains("Locking takes"))
        #expect(finding.detail.contains("the calibrated 1500 ms"))
        let last = try #require(try bench.store.auditRecords(AuditQuery(actions: [.locked])).last)
        let report = try #require(BoltMoveReport(auditDetail: last.event.detail))
        #expect(report.durationMilliseconds > 2250, "the audit event carries the throw time")
    }

    @Test("without a calibration, a note; slowness is judged against the move timeout")
    func uncalibrated() throws {
        let bench = try DoctorBench()
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        bench.cycle()
        let findings = bench.findings()
        #expect(findings["bolt-not-calibrated"]?.severity == .info)
        #expect(findings["bolt-slow"] == nil)
        try bench.store.commit(StoreChange(settings: [Doctor.lockThrowSettingKey: "fast"]))
        #expect(bench.findings()["bolt-calibration-invalid"]?.detail.contains("'fast'") == true)
    }

    @Test("a lock that went in only on its retry is flagged")
    func retries() throws {
        let bench = try DoctorBench()
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        bench.board.mechanism.jam(at: 50)
        bench.lock.controller.bolt.lock(source: .button)
        bench.wait(4.2)  // the first attempt timed out and the bolt retracted; the retry waits
        bench.board.mechanism.clearJam()
        bench.wait(5)
        #expect(bench.lock.controller.bolt.state == .locked)
        let finding = try #require(bench.findings()["bolt-retries"])
        #expect(finding.detail.contains("attempt 2"))
        #expect(bench.findings()["bolt-jammed"] == nil, "it did lock")
    }

    @Test("a jam in the recent log is flagged")
    func jams() throws {
        let bench = try DoctorBench()
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        bench.board.mechanism.jam(at: 50)
        bench.lock.controller.bolt.lock(source: .button)
        bench.wait(15)
        let finding = try #require(bench.findings()["bolt-jammed"])
        #expect(finding.detail.contains("jammed: locking stopped at between ends"))
        let later = try DoctorBench(store: bench.store, epoch: DoctorBench.later(days: 31))
        #expect(later.findings()["bolt-jammed"] == nil, "only the recent log counts")
    }

    @Test("ten wrong codes typed within a day are a burst")
    func wrongCodeBurst() throws {
        let bench = try DoctorBench()
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        for round in 0..<2 {
            for guess in 0..<5 { bench.type("\(round)1111\(guess)#") }
            bench.wait(65)
        }
        let finding = try #require(bench.findings()["wrong-code-burst"])
        #expect(finding.detail.contains("10 wrong codes (all on the keypad) and 2 lockouts"))
    }

    @Test("three lockouts within a day are a burst")
    func lockoutBurst() throws {
        let bench = try DoctorBench(config: DoctorBench.config { $0.lockoutAttempts = 2 })
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        for round in 0..<2 {
            bench.type("\(round)11111#")
            bench.type("\(round)22222#")
            bench.wait(130)
        }
        #expect(bench.findings()["wrong-code-burst"] == nil, "4 wrong codes and 2 lockouts")
        bench.type("333333#")
        bench.type("444444#")
        let finding = try #require(bench.findings()["wrong-code-burst"])
        #expect(finding.detail.contains("6 wrong codes (all on the keypad) and 3 lockouts"))
    }

    @Test("a disabled keypad is flagged")
    func keypadDisabled() throws {
        let bench = try DoctorBench(
            config: DoctorBench.config {
                $0.lockoutAttempts = 2
                $0.keypadDisableAfter = 3
            })
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        bench.type("111111#")
        bench.type("222222#")
        bench.wait(40)
        bench.type("333333#")
        #expect(bench.findings()["keypad-disabled"]?.severity == .warning)
    }

    @Test("an entry at night is flagged when the history has none; a night-shift history is not")
    func unusualHours() throws {
        let bench = try DoctorBench()
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        let ada = try bench.access.addUser(name: "Ada", role: .resident, pin: "135790", by: .installer)
        let nurse = try bench.access.addUser(name: "Nurse", role: .resident, pin: "224466", by: .installer)
        let midnight = Date(timeIntervalSince1970: 1_800_000_000 - 8 * 3600)  // 2027-01-15 00:00 UTC
        var events: [AuditEvent] = []
        for day in 8..<60 {
            let date = midnight.addingTimeInterval(-Double(day) * 86_400)
            events.append(DoctorBench.entry(ada, at: date.addingTimeInterval(8 * 3600)))
            events.append(DoctorBench.entry(ada, at: date.addingTimeInterval(18 * 3600)))
        }
        try bench.seed(events)
        #expect(bench.findings()["unusual-hour-entry"] == nil, "no night entry")
        try bench.seed([DoctorBench.entry(ada, at: midnight.addingTimeInterval(-2 * 86_400 + 3 * 3600 + 720))]
        )
        let finding = try #require(bench.findings()["unusual-hour-entry"])
        #expect(finding.detail.contains("2027-01-13 03:12 by Ada (keypad)"))
        #expect(finding.detail.contains("104 entries"))

        // A history with regular night entries makes them usual.
        try bench.seed(
            stride(from: 9, to: 60, by: 3).map { day in
                DoctorBench.entry(nurse, at: midnight.addingTimeInterval(-Double(day) * 86_400 + 2 * 3600))
            })
        #expect(bench.findings()["unusual-hour-entry"] == nil)
    }

    @Test("a broken audit chain is critical")
    func auditChainBroken() throws {
        let bench = try DoctorBench()
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        bench.store.tamper(sequence: 2) { $0.event.detail = "edited" }
        let finding = try #require(bench.findings()["audit-chain-broken"])
        #expect(finding.severity == .critical)
        #expect(finding.detail.contains("Record 2"))
    }
}
