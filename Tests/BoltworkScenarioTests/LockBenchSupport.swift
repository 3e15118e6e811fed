import BoltworkBoard
import BoltworkDrivers
import BoltworkHAL
import BoltworkLock
import BoltworkSimulation
import BoltworkStore
import Foundation
import Testing

/// The admin code the scenarios set; it must never appear in a record.
let adminCode = "246810"

/// A fresh directory under the system's temporary directory for a scenario's database,
/// removed by `cleanUp()`.
struct ScenarioDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("boltwork-scenario-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The lock's database path inside the directory.
    var database: String { url.appendingPathComponent("boltwork.db").path }

    func cleanUp() { try? FileManager.default.removeItem(at: url) }
}

/// One on-period of an output line: when it went high and for how long.
struct Pulse: Hashable {
    var start: MonotonicInstant
    var length: Duration
}

extension LockBench {
    /// The simulated chip the board puts every line on.
    var chip: SimulatedGPIOChip {
        get throws { try #require(sim.gpio.chip(labelled: "boltwork-sim")) }
    }

    /// Every audit event so far, oldest first.
    func events() throws -> [AuditEvent] {
        try store.auditRecords(AuditQuery()).map(\.event)
    }

    /// The audit events with one of `actions`, oldest first.
    func events(_ actions: AuditAction...) throws -> [AuditEvent] {
        try store.auditRecords(AuditQuery(actions: Set(actions))).map(\.event)
    }

    /// The latest audit record's sequence number (0 for none): a mark for ``events(after:)``.
    func mark() throws -> Int64 {
        try store.auditRecords(AuditQuery(limit: 1)).last?.sequence ?? 0
    }

    /// The audit events recorded after `mark`, oldest first.
    func events(after mark: Int64) throws -> [AuditEvent] {
        try store.auditRecords(AuditQuery(afterSequence: mark)).map(\.event)
    }

    /// The actions recorded after `mark`, oldest first.
    func actions(after mark: Int64) throws -> [AuditAction] {
        try events(after: mark).map(\.action)
    }

    /// Whether the motor is off in the model: the bridge neither drives forward nor in
    /// reverse, no current flows, and the bolt is still.
    var motorIsOff: Bool {
        let bridge = sim.mechanism.bridgeState
        return bridge != .forward && bridge != .reverse && sim.mechanism.loadMilliamps == 0
            && !sim.mechanism.isMoving
    }

    /// The bolt's position in the model, 0 (retracted) to 100 (extended).
    var percent: Double { sim.mechanism.percent }

    /// The periods `line` was high since `since` (one still high ends now).
    func pulses(of line: String, since: MonotonicInstant = .zero) throws -> [Pulse] {
        var pulses: [Pulse] = []
        var rise: MonotonicInstant?
        for change in try chip.history(of: line) {
            if change.level == .high, rise == nil {
                rise = change.time
            } else if change.level == .low, let start = rise {
                if start >= since { pulses.append(Pulse(start: start, length: change.time - start)) }
                rise = nil
            }
        }
        if let start = rise, start >= since { pulses.append(Pulse(start: start, length: clock.now - start)) }
        return pulses
    }

    /// The motor's runs since `since`: extending (IN1 high) and retracting (IN2 high).
    func motorRuns(since: MonotonicInstant = .zero) throws -> (extend: [Pulse], retract: [Pulse]) {
        (try pulses(of: "MOTOR_IN1", since: since), try pulses(of: "MOTOR_IN2", since: since))
    }

    /// The buzzer's pulse lengths since `since` (what someone at the keypad hears).
    func beeps(since: MonotonicInstant) throws -> [Duration] {
        try pulses(of: "BUZZER", since: since).map(\.length)
    }

    /// Types `keys` on the keypad without waiting for the entry to be decided.
    func press(_ keys: String) {
        sim.keypad.type(keys)
        clock.advance(by: .milliseconds(250 * keys.count))
    }

    /// Types `code` and `#` so that `#` is pressed at `date` on the wall clock (the entry is
    /// decided a few milliseconds later, after debouncing), then waits for the decision.
    func submit(_ code: String, at date: Date) throws {
        let keys = code + "#"
        let firstPress = date.addingTimeInterval(-0.25 * Double(keys.count - 1))
        let wait = firstPress.timeIntervalSince(wall.now)
        try #require(wait >= 0, "the wall clock is already past \(firstPress)")
        clock.advance(by: .nanoseconds(Int64((wait * 1e9).rounded())))
        type(keys)
    }

    /// The buzzer's pulse lengths from `since` for `window` (what someone at the keypad hears).
    func beeps(from since: MonotonicInstant, for window: Duration) throws -> [Duration] {
        try pulses(of: "BUZZER", since: since).filter { $0.start < since + window }.map(\.length)
    }

    /// The status LED's pulse lengths from `since` for `window`.
    func flashes(from since: MonotonicInstant, for window: Duration) throws -> [Duration] {
        try pulses(of: "LED", since: since).filter { $0.start < since + window }.map(\.length)
    }

    /// Starts the controller and throws the bolt from the inside button, as a lock in use is.
    func startLocked() throws {
        controller.start()
        controller.bolt.lock(source: .button)
        clock.advance(by: .seconds(3))
        try #require(controller.bolt.state == .locked)
    }

    /// Runs a remote request (which hops onto the clock) while advancing virtual time in small
    /// steps, until it returns or `limit` of virtual time has passed.
    func remote(
        limit: Duration = .seconds(60), _ request: @escaping @Sendable (LockController) async -> LockResult
    ) async throws -> LockResult {
        let result = Protected<LockResult?>(nil)
        let controller = self.controller
        let task = Task {
            let value = await request(controller)
            result.withLock { $0 = value }
        }
        let end = clock.now + limit
        while result.withLock({ $0 }) == nil, clock.now < end {
            clock.advance(by: .milliseconds(10))
            await Task.yield()
        }
        let answer = try #require(result.withLock { $0 }, "the request did not return in \(limit)")
        await task.value
        return answer
    }

    /// The process dies: nothing it does from now on reaches the store (a SQLite store is
    /// closed), its timers are gone and its lines are released. The model keeps its state.
    func crash() {
        if let sqlite = store as? SQLiteLockStore { try? sqlite.close() }
        controller.battery?.stop()
        controller.bolt.shutdown()
        hardware.shutdown()
    }
}
