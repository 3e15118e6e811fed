import ArgumentParser
import BoltworkControl
import BoltworkDoctor
import Foundation

/// `boltctl doctor`: asks the running daemon to examine the lock and prints the findings,
/// grouped by severity, each with its fix.
struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect the running lock: what is wrong, how much it matters, and the fix.",
        discussion: """
            Checks the codes (admin code, short or shared codes, guest codes without an end, unused \
            and untested codes), wrong-code bursts and entries at unusual hours, the battery and its \
            gauge, the bolt's throw times and jams, the clock, the device permissions, udev rule and \
            service user, the audit chain and the software's age.

            Exit status: 0 when nothing is critical or a warning (notes alone are fine), 1 when \
            something is, 2 when boltd cannot be asked.
            """)

    @Option(help: "The daemon's control socket.")
    var socket = "/run/boltwork/control.sock"

    @Flag(help: "Print the report as JSON (findings with id, severity, title, detail, fix).")
    var json = false

    func run() throws {
        let report: DoctorReport
        do {
            let response = try ControlClient(path: socket).send("doctor")
            guard response.ok, let result = response.result else {
                throw response.error ?? ControlFailure(code: "internal", message: "boltd sent no report")
            }
            report = try DoctorReport(json: ControlCoding.encoder.encode(result))
        } catch {
            FileHandle.standardError.write(Data("boltctl doctor: \(error)\n".utf8))
            throw ExitCode(2)
        }
        print(json ? String(decoding: try report.json(pretty: true), as: UTF8.self) : report.render())
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }
}
