import BoltworkControl
import BoltworkDoctor
import BoltworkLock
import Foundation

extension RunningLock {
    /// Examines this lock (see ``Doctor``): its users, the audit log of the last months, the
    /// battery, the bolt's throw times, and the system facts from `facts`. On the simulated
    /// board the device, udev and service-user checks are skipped (there are no device nodes).
    public func doctorReport(facts: any SystemFactsSource = LinuxSystemFacts()) -> DoctorReport {
        let policy = DoctorPolicy(softwareMaxAgeDays: config.softwareMaxAgeDays)
        let input = DoctorInput.gather(
            controller: controller, store: store, now: wallClock.now,
            timeZone: config.timeZone.flatMap(TimeZone.init(identifier:)) ?? .current,
            pinMinimumLength: config.pinMinimumLength,
            moveTimeoutMilliseconds: config.moveTimeoutMilliseconds,
            system: facts.gather(hardware: simulation == nil), policy: policy)
        return Doctor.report(input, policy: policy)
    }
}

extension ControlHandler {
    /// `doctor`: the lock's findings, most severe first, as
    /// `{version, checkedAt, findings: [{id, severity, title, detail, fix}]}` (see
    /// ``DoctorReport``). Severity is `critical`, `warning` or `info`; `id` is stable.
    static func doctor(
        _ context: ControlContext, facts: any SystemFactsSource = LinuxSystemFacts()
    ) throws(ControlFailure) -> JSONValue {
        let report = context.lock.doctorReport(facts: facts)
        guard let data = try? report.json(),
            let result = try? ControlCoding.decoder.decode(JSONValue.self, from: data)
        else {
            throw ControlFailure(code: "internal", message: "the doctor's report could not be encoded")
        }
        return result
    }
}
