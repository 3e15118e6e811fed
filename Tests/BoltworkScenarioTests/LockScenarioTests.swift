import BoltworkBoard
import BoltworkDrivers
import BoltworkHAL
import BoltworkLock
import BoltworkSimulation
import Foundation
import Testing

/// The whole lock on the simulated board: the real controller over the real drivers and the
/// behavioural models, on virtual time.
final class LockBench: Sendable {
    /// What a restart of the lock keeps: the clock, the simulated hardware and the wall clock.
    struct World: Sendable {
        let clock: VirtualClock
        let sim: SimulatedBoard
        let wall: LinkedWallClock
    }

    let clock: VirtualClock
    let sim: SimulatedBoard
    let hardware: LockHardware
    let store: any LockStore
    let wall: LinkedWallClock
    let controller: LockController

    /// The hardware and clocks, for building the lock again over them.
    var world: World { World(clock: clock, sim: sim, wall: wall) }

    /// Builds the lock on a new simulated board, or with `world`, on the board, clock and wall
    /// clock of an earlier lock (whose drivers must have been released): a restart.
    /// `bolt` replaces the default bolt settings (which only set `autoRelock`).
    init(
        store: any LockStore = MemoryLockStore(), batteryPercent: Double = 80,
        autoRelock: Duration = .seconds(30), bolt: BoltController.Configuration? = nil,
        access: AccessConfiguration = AccessConfiguration(hashing: .testing),
        batteryPolicy: BatteryPolicy = BatteryPolicy(),
        epoch: Date = Date(timeIntervalSince1970: 1_800_000_000), world: World? = nil
    )
        throws
    {
        if let world {
            clock = world.clock
            sim = world.sim
            wall = world.wall
        } else {
            let boards = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("Boards/simulator.yaml")
            let board = try BoardFile.load(path: boards.path)
            let clock = VirtualClock()
            self.clock = clock
            sim = try SimulatedBoard(board: board, clock: clock, batteryPercent: batteryPercent)
            wall = LinkedWallClock(clock: clock, epoch: epoch)
        }
        let clock = self.clock
        hardware = try sim.hardware()
        self.store = store
        let access = try AccessController(store: store, wallClock: wall, configuration: access)
        let battery = hardware.gauge.map { BatteryMonitor(gauge: $0, clock: clock, policy: batteryPolicy) }
        let bolt = try BoltController(
            motor: hardware.motor, sensor: hardware.bolt, door: hardware.door, clock: clock,
            configuration: bolt ?? BoltController.Configuration(autoRelockDelay: autoRelock),
            canMove: { _, _ in battery?.moveRefusal() })
        controller = try LockController(
            access: access, bolt: bolt, battery: battery, keypad: hardware.keypad, door: hardware.door,
            buzzer: hardware.buzzer, led: hardware.led, store: store, wallClock: wall, clock: clock)
        try hardware.keypad.start()
    }

    func type(_ keys: String) {
        sim.keypad.type(keys)
        clock.advance(by: .milliseconds(250 * keys.count + 500))
    }

    func actions() throws -> [AuditAction] {
        try store.auditRecords(AuditQuery()).map(\.event.action)
    }

    func shutdown() {
        controller.shutdown()
        hardware.shutdown()
    }
}

@Suite("Lock scenarios on the simulated board")
struct LockScenarioTests {
    @Test("no default code; after init a valid code unlocks, and auto-relock locks again")
    func validCodeUnlockAndRelock() throws {
        let bench = try LockBench()
        defer { bench.shutdown() }
        // The bolt starts retracted on the simulator; lock it first.
        #expect(bench.controller.start() == .unlocked)
        bench.controller.bolt.lock(source: .button)
        bench.clock.advance(by: .seconds(3))
        #expect(bench.controller.bolt.state == .locked)

        bench.type("123456#")
        #expect(try bench.actions().contains(.noAdminCode))
        #expect(bench.controller.bolt.state == .locked, "no code works before an admin code is set")

        _ = try bench.controller.access.initializeAdmin(name: "Ada", pin: "246810")
        bench.type("246810#")
        bench.clock.advance(by: .seconds(3))
        #expect(bench.controller.bolt.state == .unlocked)
        let unlock = try #require(try bench.store.auditRecords(AuditQuery(actions: [.unlocked])).last)
        #expect(unlock.event.userName == "Ada")
        #expect(unlock.event.source == .keypad)

        bench.clock.advance(by: .seconds(35))
        #expect(bench.controller.bolt.state == .locked)
        #expect(try bench.store.auditRecords(AuditQuery(actions: [.locked])).last?.event.source == .auto)
        #expect(bench.sim.mechanism.percent > 97)
    }

    @Test("wrong codes lock the keypad out, and the lockout survives a restart")
    func lockoutSurvivesRestart() throws {
        let store = MemoryLockStore()
        do {
            let bench = try LockBench(store: store)
            defer { bench.shutdown() }
            bench.controller.start()
            _ = try bench.controller.access.initializeAdmin(name: "Ada", pin: "246810")
            for _ in 0..<5 { bench.type("111111#") }
            #expect(try bench.actions().contains(.lockoutStarted))
        }
        let restarted = try LockBench(store: store)
        defer { restarted.shutdown() }
        restarted.controller.start()
        restarted.type("246810#")
        #expect(try store.auditRecords(AuditQuery()).last?.event.action == .lockedOut)
        #expect(restarted.controller.bolt.state == .unlocked, "even the right code waits out the lockout")
        #expect(restarted.controller.status().lockout.consecutiveFailures == 5)
    }

    @Test("a jam on lock is reported with where the bolt stopped, and the motor is left off")
    func jamOnLock() throws {
        let bench = try LockBench()
        defer { bench.shutdown() }
        bench.controller.start()
        bench.sim.mechanism.jam(at: 50)
        bench.controller.bolt.lock(source: .remote)
        bench.clock.advance(by: .seconds(20))
        let jam = try #require(try bench.store.auditRecords(AuditQuery(actions: [.jammed])).last)
        #expect(jam.event.detail.contains("locking stopped at"))
        #expect(jam.event.source == .remote)
        let chip = try #require(bench.sim.gpio.chip(labelled: "boltwork-sim"))
        #expect(chip.level(of: "MOTOR_IN1") == chip.level(of: "MOTOR_IN2"), "the bridge is not driving")
    }

    @Test("a remote unlock with a code goes through the access layer and records the user")
    func remoteUnlockWithCode() async throws {
        let bench = try LockBench()
        defer { bench.shutdown() }
        bench.controller.start()
        bench.controller.bolt.lock(source: .button) { _ in }
        bench.clock.advance(by: .seconds(3))
        _ = try bench.controller.access.initializeAdmin(name: "Ada", pin: "246810")
        let wrong = await bench.controller.unlock(source: .remote, code: "000000")
        guard case .refused(.invalidCode, _) = wrong else {
            Issue.record("a wrong code was not refused as invalid: \(wrong)")
            return
        }
        let pending = Task { await bench.controller.unlock(source: .remote, code: "246810") }
        // The request hops onto the clock: run it (bounded) until the bolt starts moving.
        for _ in 0..<10_000 where bench.controller.bolt.state != .unlocking {
            bench.clock.runUntilIdle()
            await Task.yield()
        }
        #expect(bench.controller.bolt.state == .unlocking)
        bench.clock.advance(by: .seconds(3))
        #expect(await pending.value == .done(.unlocked))
        #expect(try bench.store.auditRecords(AuditQuery(actions: [.unlocked])).last?.event.userName == "Ada")
    }

    @Test("the bolt is never thrown into an open door")
    func doorOpenBlocksLocking() throws {
        let bench = try LockBench()
        defer { bench.shutdown() }
        bench.controller.start()
        bench.sim.mechanism.openDoor()
        bench.clock.advance(by: .milliseconds(100))
        bench.controller.bolt.lock(source: .remote)
        bench.clock.advance(by: .seconds(3))
        #expect(bench.controller.bolt.state == .unlocked)
        #expect(try bench.actions().contains(.doorOpen))
        #expect(bench.sim.mechanism.percent < 3)
    }

    @Test("below the battery reserve a move is refused as insufficient battery")
    func insufficientBattery() throws {
        let bench = try LockBench(batteryPercent: 3)
        defer { bench.shutdown() }
        bench.controller.start()
        bench.controller.bolt.lock(source: .remote)
        bench.clock.advance(by: .seconds(3))
        #expect(bench.controller.bolt.state == .unlocked)
        #expect(try bench.actions().contains(.insufficientBattery))
        #expect(try bench.actions().contains(.batteryCritical))
    }

    @Test("no audit field ever contains a code")
    func codesNeverRecorded() throws {
        let bench = try LockBench()
        defer { bench.shutdown() }
        bench.controller.start()
        _ = try bench.controller.access.initializeAdmin(name: "Ada", pin: "246810")
        bench.type("246810#")
        bench.type("135791#")
        let text = try bench.store.auditRecords(AuditQuery()).map {
            String(decoding: AuditChain.canonicalJSON($0.event), as: UTF8.self)
        }
        .joined(separator: "\n")
        #expect(!text.contains("246810"))
        #expect(!text.contains("135791"))
        #expect(
            try bench.store.verifyAudit()
                == .intact(records: try bench.store.auditRecords(AuditQuery()).count))
    }
}
