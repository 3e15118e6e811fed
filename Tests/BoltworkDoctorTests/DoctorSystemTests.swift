import BoltworkBoard
import BoltworkDoctor
import BoltworkLock
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The system checks with injected facts, and the Linux facts against a temporary directory.
@Suite("Doctor on the system around the lock")
struct DoctorSystemTests {
    func bench() throws -> DoctorBench {
        let bench = try DoctorBench()
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        try bench.access.addUser(
            name: "Backup", role: .resident, kind: .emergency, pin: "998877", by: .installer)
        try bench.calibrate(lock: 1500, unlock: 1500)
        return bench
    }

    @Test("an unsynchronised clock is a warning naming the users whose codes depend on it")
    func clockUnsynchronised() throws {
        let bench = try bench()
        let now = bench.now
        try bench.access.addUser(
            name: "Tom", role: .guest,
            schedules: [.dateRange(start: now, end: now.addingTimeInterval(86_400))],
            pin: "112233", by: .installer)
        #expect(bench.findings().isEmpty, "synchronised: \(bench.findings().ids)")
        var facts = FixedFacts.healthy(now: now)
        facts.clock = .unsynchronized(source: "adjtimex (STA_UNSYNC)")
        let finding = try #require(bench.findings(facts)["clock-unsynchronised"])
        #expect(finding.severity == .warning)
        #expect(finding.detail.contains("adjtimex (STA_UNSYNC)"))
        #expect(finding.detail.contains("'Tom' (#3)"))
        facts.clock = .unknown(reason: "adjtimex failed: Operation not permitted; timedatectl could not run")
        let findings = bench.findings(facts)
        #expect(findings["clock-sync-unknown"]?.severity == .info)
        #expect(findings["clock-unsynchronised"] == nil)
    }

    @Test(
        "devices the service user cannot open, a missing rule, a missing user and a root daemon are flagged")
    func devicesAndUsers() throws {
        let bench = try bench()
        var facts = FixedFacts.healthy(now: bench.now)
        facts.hardware?.devices.append(
            DeviceNode(path: "/dev/gpiochip4", ownerID: 0, groupID: 0, groupName: "root", mode: 0o600))
        facts.hardware?.udevRule = nil
        var findings = bench.findings(facts)
        let access = try #require(findings["device-access"])
        #expect(access.detail.contains("/dev/gpiochip4 (mode 600, group root)"))
        #expect(!access.detail.contains("/dev/gpiochip0"))
        #expect(findings["udev-rule-missing"]?.severity == .warning)

        // Access through another group (Raspberry Pi OS's gpio group): the rule is only a note.
        facts = FixedFacts.healthy(now: bench.now)
        facts.hardware?.udevRule = nil
        facts.hardware?.devices = [
            DeviceNode(path: "/dev/gpiochip0", ownerID: 0, groupID: 997, groupName: "gpio", mode: 0o660)
        ]
        facts.hardware?.serviceUser?.groupIDs.append(997)
        findings = bench.findings(facts)
        #expect(findings["device-access"] == nil)
        #expect(findings["udev-rule-missing"]?.severity == .info)

        facts = FixedFacts.healthy(now: bench.now)
        facts.hardware?.serviceUser = nil
        facts.hardware?.processUser = Account(name: "root", uid: 0, groupIDs: [0])
        findings = bench.findings(facts)
        #expect(findings["service-user-missing"]?.severity == .warning)
        #expect(findings["daemon-runs-as-root"]?.severity == .warning)
        #expect(findings["device-access"] == nil, "root opens everything; no user to judge for")
    }

    @Test("software older than the configured age is flagged")
    func softwareAge() throws {
        let bench = try bench()
        var facts = FixedFacts.healthy(now: bench.now)
        facts.software.releaseDate = bench.now.addingTimeInterval(-400 * 86_400)
        let finding = try #require(bench.findings(facts)["software-outdated"])
        #expect(finding.title == "Boltwork 0.1.0 is 400 days old")

        let patient = try DoctorBench(config: DoctorBench.config { $0.softwareMaxAgeDays = 730 })
        #expect(patient.findings(facts)["software-outdated"] == nil)
    }

    @Test("the maximum age comes from the lock config file, checked like every key")
    func configKey() throws {
        let config = try LockConfigFile.parse("doctor:\n  software-max-age-days: 730\n", file: "lock.yaml")
        #expect(config.softwareMaxAgeDays == 730)
        #expect(try LockConfigFile.parse("", file: "lock.yaml").softwareMaxAgeDays == 365)
        let error = #expect(throws: BoardFileError.self) {
            try LockConfigFile.parse("doctor:\n  software-max-age-days: 5\n", file: "lock.yaml")
        }
        #expect(error?.problems.map(\.key) == ["doctor.software-max-age-days"])
    }

    @Test("the version constant is a real, past release date")
    func versionConstant() {
        #expect(BoltworkVersion.releaseDate <= Date())
        #expect(BoltworkVersion.current.version.split(separator: ".").count == 3)
    }

    @Test("device nodes: owner, group and other permissions decide access")
    func permissions() {
        let user = Account(name: "boltwork", uid: 990, groupIDs: [990, 997])
        func node(_ uid: UInt32, _ gid: UInt32, _ mode: UInt32) -> DeviceNode {
            DeviceNode(path: "/dev/x", ownerID: uid, groupID: gid, groupName: nil, mode: mode)
        }
        #expect(node(990, 0, 0o600).grantsReadWrite(to: user))
        #expect(
            !node(990, 990, 0o400).grantsReadWrite(to: user), "owner bits apply to the owner, not group bits")
        #expect(node(0, 997, 0o660).grantsReadWrite(to: user))
        #expect(!node(0, 997, 0o640).grantsReadWrite(to: user))
        #expect(!node(0, 0, 0o660).grantsReadWrite(to: user))
        #expect(node(0, 0, 0o666).grantsReadWrite(to: user))
        #expect(node(0, 0, 0o600).grantsReadWrite(to: Account(name: "root", uid: 0, groupIDs: [0])))
    }

    @Test("the Linux facts read device nodes, the udev rule and accounts from the given places")
    func linuxFacts() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "doctor-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let dev = directory.appendingPathComponent("dev").path
        try FileManager.default.createDirectory(atPath: dev, withIntermediateDirectories: true)
        for (name, mode) in [("gpiochip0", 0o660), ("gpiochip10", 0o600), ("i2c-1", 0o644), ("tty0", 0o666)] {
            #expect(FileManager.default.createFile(atPath: dev + "/" + name, contents: nil))
            #expect(chmod(dev + "/" + name, mode_t(mode)) == 0)
        }
        let rule = directory.appendingPathComponent("60-boltwork.rules").path
        let probe = ClockProbe(kernel: { .success(true) }, timesyncFlag: { false }, timedatectl: { nil })
        var source = LinuxSystemFacts(
            deviceDirectory: dev,
            udevRulePaths: [directory.appendingPathComponent("absent.rules").path, rule],
            serviceUserName: "no-such-user-\(getpid())", clock: probe)

        var facts = source.gather(hardware: true)
        #expect(facts.clock == .synchronized(source: "adjtimex"))
        let hardware = try #require(facts.hardware)
        #expect(hardware.devices.map(\.path) == ["gpiochip0", "gpiochip10", "i2c-1"].map { dev + "/" + $0 })
        #expect(hardware.devices.map(\.mode) == [0o660, 0o600, 0o644])
        #expect(hardware.devices.allSatisfy { $0.ownerID == getuid() })
        #expect(hardware.serviceUser == nil)
        #expect(hardware.processUser?.uid == getuid())
        #expect(hardware.udevRule == nil)

        #expect(FileManager.default.createFile(atPath: rule, contents: Data("# rule\n".utf8)))
        source.serviceUserName = try #require(hardware.processUser?.name)
        facts = source.gather(hardware: true)
        #expect(facts.hardware?.udevRule == rule)
        #expect(facts.hardware?.serviceUser?.uid == getuid())
        #expect(facts.hardware?.serviceUser?.groupIDs.contains(getgid()) == true)
        #expect(source.gather(hardware: false).hardware == nil)
    }

    @Test("the clock probe falls back from adjtimex to timesyncd's flag, then timedatectl")
    func clockProbe() {
        let denied: @Sendable () -> Result<Bool, ClockProbe.KernelError> = { .failure(.init(errno: EPERM)) }
        #expect(
            ClockProbe(kernel: { .success(false) }, timesyncFlag: { true }, timedatectl: { "yes" }).check()
                == .unsynchronized(source: "adjtimex (STA_UNSYNC)"), "the kernel's answer wins")
        #expect(
            ClockProbe(kernel: denied, timesyncFlag: { true }, timedatectl: { nil }).check()
                == .synchronized(source: "systemd-timesyncd"))
        #expect(
            ClockProbe(kernel: denied, timesyncFlag: { false }, timedatectl: { "no\n" }).check()
                == .unsynchronized(source: "timedatectl"))
        #expect(
            ClockProbe(kernel: denied, timesyncFlag: { false }, timedatectl: { "yes\n" }).check()
                == .synchronized(source: "timedatectl"))
        guard
            case .unknown(let reason) = ClockProbe(
                kernel: denied, timesyncFlag: { false }, timedatectl: { nil }
            ).check()
        else {
            Issue.record("no source: unknown")
            return
        }
        #expect(reason.contains("adjtimex failed: Operation not permitted"))
        #expect(reason.contains("timedatectl could not run"))
    }

    @Test("the real probe answers on this machine without failing")
    func realProbe() {
        switch ClockProbe.linux.check() {
        case .synchronized(let source), .unsynchronized(let source): #expect(!source.isEmpty)
        case .unknown(let reason): #expect(!reason.isEmpty)
        }
    }
}
