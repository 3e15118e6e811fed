import BoltworkLock
import Foundation

extension Doctor {
    static func clock(_ context: Context) -> Finding? {
        let restricted = context.activeUsers.filter(\.isTimeRestricted)
        let affected =
            restricted.isEmpty
            ? "No user's code is limited in time yet, but the audit log's times are wrong too."
            : "\(plural(restricted.count, "user")) with schedules or expiring codes depend on it: "
                + list(restricted.map(name), limit: 5) + "."
        switch context.input.system.clock {
        case .synchronized:
            return nil
        case .unsynchronized(let source):
            return Finding(
                id: "clock-unsynchronised", severity: .warning, title: "The clock is not synchronised",
                detail:
                    "According to \(source), no time service keeps the clock right, so schedules and date "
                    + "ranges open at the wrong times. " + affected,
                fix:
                    "Turn on time synchronisation (`sudo timedatectl set-ntp true`, or install chrony); on a "
                    + "board without a battery-backed clock, fit one (DS3231) so the time survives power cuts."
            )
        case .unknown(let reason):
            return Finding(
                id: "clock-sync-unknown", severity: .info,
                title: "Cannot tell whether the clock is synchronised",
                detail: "\(reason). " + affected,
                fix: "Check with `timedatectl` that 'System clock synchronized' says yes.")
        }
    }

    static func serviceUser(_ context: Context) -> Finding? {
        guard let hardware = context.input.system.hardware, hardware.serviceUser == nil else { return nil }
        let name = hardware.serviceUserName
        return Finding(
            id: "service-user-missing", severity: .warning,
            title: "The '\(name)' service user does not exist",
            detail:
                "The systemd unit (boltd.service) runs the daemon as '\(name)', and the udev rule gives "
                + "that group the GPIO and I2C devices; without it the unit cannot start.",
            fix:
                "Run `sudo scripts/install`, or create it: `sudo groupadd --system \(name) && sudo useradd "
                + "--system --gid \(name) --home-dir /var/lib/boltwork --shell /usr/sbin/nologin \(name)`.")
    }

    static func rootDaemon(_ context: Context) -> Finding? {
        guard let process = context.input.system.hardware?.processUser, process.uid == 0 else { return nil }
        return Finding(
            id: "daemon-runs-as-root", severity: .warning, title: "The daemon runs as root",
            detail:
                "A fault in the daemon, or in what it parses, would then own the whole board. It needs "
                + "only the GPIO and I2C devices and its state directory.",
            fix:
                "Run it through the systemd unit (`sudo systemctl enable --now boltd`), which runs it as "
                + "the '\(context.input.system.hardware?.serviceUserName ?? "boltwork")' user.")
    }

    /// The account whose device access matters: the service user, or (without one) the
    /// daemon's own non-root user.
    static func deviceAccount(_ context: Context) -> Account? {
        guard let hardware = context.input.system.hardware else { return nil }
        if let user = hardware.serviceUser { return user }
        if let process = hardware.processUser, process.uid != 0 { return process }
        return nil
    }

    static func deviceProblems(_ context: Context) -> [DeviceNode] {
        guard let hardware = context.input.system.hardware, let account = deviceAccount(context) else {
            return []
        }
        return hardware.devices.filter { !$0.grantsReadWrite(to: account) }
    }

    static func deviceAccess(_ context: Context) -> Finding? {
        let denied = deviceProblems(context)
        guard let account = deviceAccount(context), !denied.isEmpty else { return nil }
        return Finding(
            id: "device-access", severity: .warning,
            title: "'\(account.name)' cannot open \(plural(denied.count, "GPIO or I2C device"))",
            detail:
                list(denied.map { "\($0.path) (\($0.permissions))" })
                + ". The daemon must open the board's GPIO chips and I2C bus as '\(account.name)'; a chip it "
                + "cannot open stops it at the next start.",
            fix:
                "Install the udev rule (`sudo install -m 0644 udev/60-boltwork.rules /etc/udev/rules.d/`), "
                + "then `sudo udevadm control --reload && sudo udevadm trigger --subsystem-match=gpio "
                + "--subsystem-match=i2c-dev`; or add '\(account.name)' to the devices' group.")
    }

    static func udevRule(_ context: Context) -> Finding? {
        guard let hardware = context.input.system.hardware, hardware.udevRule == nil else { return nil }
        let needed = !deviceProblems(context).isEmpty
        return Finding(
            id: "udev-rule-missing", severity: needed ? .warning : .info,
            title: "The Boltwork udev rule is not installed",
            detail:
                "Looked in " + hardware.udevRuleSearched.joined(separator: ", ") + ". "
                + (needed
                    ? "Without it the devices keep permissions the daemon's user cannot use."
                    : "The devices are usable anyway (through another group), but that may change with the "
                        + "OS image."),
            fix:
                "`sudo install -m 0644 udev/60-boltwork.rules /etc/udev/rules.d/ && sudo udevadm control --reload`."
        )
    }

    static func softwareAge(_ context: Context) -> Finding? {
        let software = context.input.system.software
        let age = context.daysSince(software.releaseDate)
        let limit = context.policy.softwareMaxAgeDays
        guard age > limit else { return nil }
        return Finding(
            id: "software-outdated", severity: .warning,
            title: "Boltwork \(software.version) is \(age) days old",
            detail:
                "It was released on \(context.day(software.releaseDate)), more than the \(limit) days "
                + "`doctor.software-max-age-days` allows. Security fixes since then are missing.",
            fix: "Update: `git pull`, then `sudo scripts/install` and `sudo systemctl restart boltd`.")
    }
}
