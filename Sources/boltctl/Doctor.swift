import ArgumentParser
import BoltworkControl
import BoltworkDoctor
import Foundation

/// `boltctl doctor`: asks the running daemon to examine the lock and prints the findings,
/// grouped by severity, each with its fix (the checks and the text are in BoltworkDoctor).
struct Doctor: ControlCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect the running lock: what is wrong, how much it matters, and the fix.",
        discussion: """
            Checks the codes (admin code, short or shared codes, guest codes without an end, unused \
            and untested codes), wrong-code bursts and entries at unusual hours, the battery and its \
            gauge, the bolt's throw times and jams, the clock, the device permissions, udev rule and \
            service user, the audit chain and the software's age.

            --json prints {version, checkedAt, findings: [{id, severity, title, detail, fix}]}; \
            severity is critical, warning or info, and id is stable.

            Exit status: 0 when nothing is critical or a warning (notes alone are fine), 1 when \
            something is; 3, 4 and 5 as for every command (boltd not running, permission denied, \
            protocol error).
            """)

    @OptionGroup var global: GlobalOptions

    func execute(_ connection: Connection) throws(CLIFailure) {
        let result = try connection.call("doctor")
        let report: DoctorReport
        do {
            report = try DoctorReport(json: ControlCoding.encoder.encode(result))
        } catch {
            throw CLIFailure(
                status: .internalError, code: "protocol",
                message: "boltd sent a doctor report this boltctl cannot read (\(error)): update both",
                json: global.json)
        }
        show(result) { report.render() }
        if report.needsAttention {
            throw CLIFailure(
                status: .refused, code: "needs-attention",
                message: "the lock needs attention: see the findings above", json: false)
        }
    }
}
