import BoltworkControl
import BoltworkDaemon
import BoltworkDoctor
import BoltworkLock
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Doctor reports and the control command")
struct DoctorReportTests {
    static let sample = DoctorReport(
        version: "0.1.0", checkedAt: Date(timeIntervalSince1970: 1_800_000_000),
        findings: [
            Finding(
                id: "note", severity: .info, title: "A note", detail: "Worth knowing.", fix: "Nothing yet."),
            Finding(
                id: "first-warning", severity: .warning, title: "A warning",
                detail: String(repeating: "word ", count: 40), fix: "Fix it."),
            Finding(id: "crit", severity: .critical, title: "Critical", detail: "Bad.", fix: "Now."),
            Finding(id: "second-warning", severity: .warning, title: "Another", detail: "Also.", fix: "Too."),
        ])

    @Test("findings come most severe first, stable within a severity")
    func order() {
        #expect(Self.sample.findings.map(\.id) == ["crit", "first-warning", "second-warning", "note"])
    }

    @Test("the text groups findings by severity, each with its fix, wrapped")
    func render() {
        let text = Self.sample.render(width: 60)
        #expect(text.hasPrefix("Boltwork 0.1.0 doctor: 1 critical, 2 warnings, 1 note\n"))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let headings = ["CRITICAL", "WARNINGS", "NOTES"].map { lines.firstIndex(of: $0) ?? -1 }
        #expect(headings[0] >= 0 && headings[0] < headings[1] && headings[1] < headings[2])
        #expect(lines.contains("  A warning [first-warning]"))
        #expect(lines.contains("      Fix: Fix it."))
        #expect(lines.allSatisfy { $0.count <= 60 }, "wrapped at 60 columns")
        #expect(!text.contains("Nothing needs fixing."))
    }

    @Test("exit status: 1 with a critical or warning finding, 0 with notes only or nothing")
    func exitCode() {
        #expect(Self.sample.exitCode == 1)
        let notes = DoctorReport(
            version: "0.1.0", checkedAt: Date(),
            findings: Self.sample.findings.filter { $0.severity == .info })
        #expect(notes.exitCode == 0)
        #expect(notes.render().hasSuffix("Nothing needs fixing."))
        let clean = DoctorReport(version: "0.1.0", checkedAt: Date(), findings: [])
        #expect(clean.exitCode == 0)
        #expect(clean.render().hasPrefix("Boltwork 0.1.0 doctor: no problems found"))
    }

    @Test("the JSON carries every field and reads back")
    func json() throws {
        let data = try Self.sample.json()
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["version"] as? String == "0.1.0")
        #expect(object["checkedAt"] as? String == "2027-01-15T08:00:00Z")
        let first = try #require((object["findings"] as? [[String: Any]])?.first)
        #expect(Set(first.keys) == ["id", "severity", "title", "detail", "fix"])
        #expect(first["severity"] as? String == "critical")
        #expect(try DoctorReport(json: data) == Self.sample)
        #expect(try DoctorReport(json: Self.sample.json(pretty: true)) == Self.sample)
    }

    @Test("a move report reads back from its audit detail")
    func moveReport() {
        let report = BoltMoveReport(
            durationMilliseconds: 820, attempt: 2, batteryPercent: 76.44, batteryMillivolts: 3912)
        #expect(report.auditDetail == "moved in 820 ms (attempt 2); battery 76.4 %, 3912 mV")
        #expect(
            BoltMoveReport(auditDetail: report.auditDetail)
                == BoltMoveReport(
                    durationMilliseconds: 820, attempt: 2, batteryPercent: 76.4, batteryMillivolts: 3912))
        let bare = BoltMoveReport(durationMilliseconds: 1470)
        #expect(bare.auditDetail == "moved in 1470 ms")
        #expect(BoltMoveReport(auditDetail: bare.auditDetail) == bare)
        #expect(BoltMoveReport(auditDetail: "") == nil)
        #expect(BoltMoveReport(auditDetail: "bolt between ends") == nil)
    }

    @Test("the doctor control command answers through the handler and over the socket")
    func controlRoundTrip() throws {
        let bench = try DoctorBench()
        let lock = bench.lock
        let peer = ControlPeer(pid: getpid(), uid: getuid(), gid: getgid())
        let response = ControlHandler.handle(ControlRequest(id: 7, command: "doctor"), peer: peer, lock: lock)
        #expect(response.ok)
        #expect(response.id == 7)
        let result = try #require(response.result)
        let report = try DoctorReport(json: ControlCoding.encoder.encode(result))
        let missing = try #require(report.findings["admin-code-missing"])
        #expect(missing.severity == .critical)
        #expect(report.version == BoltworkVersion.version)
        #expect(report.checkedAt == DoctorBench.epoch, "the lock's wall clock")
        for id in ["device-access", "udev-rule-missing", "service-user-missing", "daemon-runs-as-root"] {
            #expect(report.findings[id] == nil, "the simulated board has no device nodes to check")
        }

        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "doctor-\(UUID().uuidString).sock"
        )
        .path
        let server = try ControlServer(path: path) { request, peer in
            ControlHandler.handle(request, peer: peer, lock: lock)
        }
        defer { server.close() }
        try bench.access.initializeAdmin(name: "admin", pin: "246810")
        let answer = try ControlClient(path: path).send("doctor")
        let remote = try DoctorReport(json: ControlCoding.encoder.encode(try #require(answer.result)))
        #expect(remote.findings["admin-code-missing"] == nil)
        #expect(remote.findings["emergency-code-missing"]?.severity == .info)
        #expect(!remote.render().contains("246810"))
    }
}
