import BoltworkBoard
import BoltworkDaemon
import BoltworkDoctor
import BoltworkDrivers
import BoltworkHAL
import BoltworkLock
import BoltworkSimulation
import Foundation

/// System facts given by the test (the hardware part is returned even for the simulated board,
/// so the device checks run through the real lock's path).
struct FixedFacts: SystemFactsSource {
    var facts: SystemFacts

    func gather(hardware: Bool) -> SystemFacts { facts }

    /// A well-set-up board at `now`: synchronised clock, a month-old release, the service user
    /// in the devices' group, the udev rule installed, the daemon not root.
    static func healthy(now: Date) -> SystemFacts {
        let service = Account(name: "boltwork", uid: 990, groupIDs: [990])
        return SystemFacts(
            clock: .synchronized(source: "adjtimex"),
            software: SoftwareVersion(version: "0.1.0", releaseDate: now.addingTimeInterval(-30 * 86_400)),
            hardware: HardwareFacts(
                serviceUser: service, processUser: service, udevRule: "/etc/udev/rules.d/60-boltwork.rules",
                udevRuleSearched: ["/etc/udev/rules.d/60-boltwork.rules"],
                devices: [
                    DeviceNode(
                        path: "/dev/gpiochip0", ownerID: 0, groupID: 990, groupName: "boltwork", mode: 0o660),
                    DeviceNode(
                        path: "/dev/i2c-1", ownerID: 0, groupID: 990, groupName: "boltwork", mode: 0o660),
                ]))
    }
}

/// A whole lock on the simulated board (real drivers, real controller, the daemon's
/// `RunningLock`) over a memory store, on virtual time, with the doctor on top.
final class DoctorBench {
    static let epoch = Date(timeIntervalSince1970: 1_800_000_000)  // 2027-01-15 08:00 UTC

    /// `days` after ``epoch``.
    static func later(days: Double) -> Date { epoch.addingTimeInterval(days * 86_400) }
    static let boardPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Boards/simulator.yaml").path

    let clock = VirtualClock()
    let board: SimulatedBoard
    let store: MemoryLockStore
    let lock: RunningLock

    /// The default lock config with the UTC time zone (so "hours" are stable), edited by
    /// `edit`.
    static func config(_ edit: (inout LockConfigFile) -> Void = { _ in }) -> LockConfigFile {
        var config = LockConfigFile()
        config.timeZone = "UTC"
        edit(&config)
        return config
    }

    /// A lock started at `epoch` on `store` (pass another bench's store and a later epoch for
    /// "the same lock, restarted months later", without simulating the months between).
    init(
        config: LockConfigFile = DoctorBench.config(), store: MemoryLockStore = MemoryLockStore(),
        epoch: Date = DoctorBench.epoch, board edit: (inout BoardFile) -> Void = { _ in }
    ) throws {
        var file = try BoardFile.load(path: Self.boardPath)
        edit(&file)
        board = try SimulatedBoard(board: file, clock: clock)
        self.store = store
        lock = try RunningLock(
            hardware: try board.hardware(), store: store,
            wallClock: LinkedWallClock(clock: clock, epoch: epoch),
            clock: clock, config: config, hashing: .testing, simulation: board)
        try lock.start()
        clock.runUntilIdle()
    }

    var access: AccessController { lock.controller.access }
    var now: Date { lock.wallClock.now }

    /// Types keys on the keypad and lets the entry and the move finish.
    func type(_ keys: String) {
        board.keypad.type(keys)
        clock.advance(by: .milliseconds(250 * keys.count + 500))
    }

    /// Lets `seconds` of virtual time pass.
    func wait(_ seconds: Double) { clock.advance(by: .milliseconds(Int(seconds * 1000))) }

    /// Lets `days` pass (the battery monitor keeps reading the gauge meanwhile).
    func wait(days: Double) { wait(days * 86_400) }

    /// Locks with the inside button and unlocks remotely, each move confirmed.
    func cycle() {
        lock.controller.bolt.lock(source: .button)
        wait(5)
        lock.controller.bolt.unlock(source: .remote)
        wait(5)
    }

    /// Stores the calibrated throw times, as the self-test's calibration does.
    func calibrate(lock lockMilliseconds: Int, unlock unlockMilliseconds: Int) throws {
        try store.commit(
            StoreChange(settings: [
                Doctor.lockThrowSettingKey: String(lockMilliseconds),
                Doctor.unlockThrowSettingKey: String(unlockMilliseconds),
            ]))
    }

    /// Appends audit events as if they had happened (usage patterns spread over weeks).
    func seed(_ events: [AuditEvent]) throws {
        try store.commit(StoreChange(events: events))
    }

    /// An entry (a keypad unlock) by `user` at `date`.
    static func entry(_ user: User, at date: Date, source: OperationSource = .keypad) -> AuditEvent {
        AuditEvent(time: date, action: .unlocked, source: source, userID: user.id, userName: user.name)
    }

    /// The doctor's findings now, with `facts` (healthy ones by default).
    func findings(_ facts: SystemFacts? = nil) -> [Finding] {
        report(facts).findings
    }

    /// The doctor's report now.
    func report(_ facts: SystemFacts? = nil) -> DoctorReport {
        lock.doctorReport(facts: FixedFacts(facts: facts ?? FixedFacts.healthy(now: now)))
    }

    /// Replaces the board's fuel gauge chip with one the test controls (same battery, same
    /// address).
    func replaceGauge() -> SimulatedMAX17048 {
        let gauge = SimulatedMAX17048(battery: board.battery)
        let address = I2CAddress(constant: 0x36)
        board.buses[1]?.detach(at: address)
        board.buses[1]?.attach(gauge, at: address)
        return gauge
    }

    deinit {
        lock.shutdown()
    }
}

extension [Finding] {
    /// The finding with `id`, if any.
    subscript(id: String) -> Finding? { first { $0.id == id } }

    /// The ids, for messages.
    var ids: [String] { map(\.id) }
}
