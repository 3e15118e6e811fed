import BoltworkBoard
import BoltworkDaemon
import BoltworkDrivers
import BoltworkHAL
import BoltworkLock
import BoltworkSimulation
import BoltworkStore
import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Records the first change of the motor driver's lines after it is armed.
private final class MotorWatch: Sendable {
    private let firstChange = Protected<(armed: Bool, at: Int64?)>((false, nil))
    private let signal = DispatchSemaphore(value: 0)

    func arm() { firstChange.withLock { $0 = (true, nil) } }

    func changed() {
        let now = monotonicNanoseconds()
        let first = firstChange.withLock { state -> Bool in
            guard state.armed else { return false }
            state = (false, now)
            return true
        }
        if first { signal.signal() }
    }

    func wait(limit: Duration) -> Int64? {
        if signal.wait(timeout: .now() + .milliseconds(Int(limit.totalMilliseconds))) == .success {
            return firstChange.withLock { $0.at }
        }
        let raced = firstChange.withLock { state -> Bool in
            defer { state.armed = false }
            return !state.armed
        }
        guard raced else { return nil }
        signal.wait()
        return firstChange.withLock { $0.at }
    }
}

/// The unlock path on the simulated board in real time, exactly as `boltd run --simulated`
/// assembles it (board file, drivers, controller, SQLite store, the standard PIN hash): a code
/// typed on the keypad, then `#`, timed from the `#` row edge to the motor driver's first
/// output change. The bolt's stroke is shortened to 150 ms so cycles are quick; the stroke
/// comes after the measured path.
func measureUnlockPath(board: BoardFile, samples: Int, hashSamples: Int, scratch: String) throws(BenchError)
    -> UnlockFigure
{
    let clock = SystemClock()
    defer { clock.shutdown() }
    let simulation: SimulatedBoard
    let lock: RunningLock
    let code = randomCode()
    let storePath = scratch + "/unlock/boltwork.db"
    do {
        simulation = try SimulatedBoard(board: board, clock: clock, travelTime: .milliseconds(150))
        let store = try SQLiteLockStore(path: storePath)
        lock = try RunningLock(
            hardware: try simulation.hardware(consumer: "boltwork-bench"), store: store,
            wallClock: SystemWallClock(), clock: clock, config: LockConfigFile(), hashing: .standard,
            simulation: simulation)
        _ = try lock.controller.access.initializeAdmin(name: "bench", pin: code)
        try lock.start()
    } catch {
        throw BenchError("cannot build the simulated lock: \(error)")
    }
    defer { lock.shutdown() }

    let chip = simulation.keypad.chip
    let motorLines = [board.motor.in1, board.motor.in2, board.motor.enable, board.motor.pwm].compactMap { $0 }
    var motorOffsets = Set<UInt32>()
    for line in motorLines {
        guard let offset = try? chip.resolve(line.line) else { continue }
        motorOffsets.insert(offset)
    }
    let watch = MotorWatch()
    let offsets = motorOffsets
    let token = chip.observe { changed in
        if changed.contains(where: offsets.contains) { watch.changed() }
    }
    defer { chip.removeObserver(token) }

    let keypad = lock.hardware.keypad
    let bolt = lock.controller.bolt
    func tap(_ key: Character) throws(BenchError) {
        simulation.keypad.press(key)
        guard waitUntil(limit: .seconds(1), { keypad.pressedKeys.contains(key) }) else {
            throw BenchError("the keypad did not report key \(key)")
        }
        simulation.keypad.release(key)
        guard waitUntil(limit: .seconds(1), { keypad.isIdle }) else {
            throw BenchError("the keypad did not return to idle after key \(key)")
        }
    }
    func settle(to state: BoltState) throws(BenchError) {
        guard waitUntil(limit: .seconds(5), { bolt.state == state }) else {
            throw BenchError("the bolt did not reach \(state) (it is \(bolt.state))")
        }
    }

    bolt.lock(source: .button)
    try settle(to: .locked)
    var times: [Int64] = []
    var misses = 0
    for _ in 0..<samples {
        for digit in code { try tap(digit) }
        watch.arm()
        let start = monotonicNanoseconds()
        simulation.keypad.press("#")
        if let moved = watch.wait(limit: .seconds(2)) {
            times.append(moved - start)
        } else {
            misses += 1
        }
        simulation.keypad.release("#")
        try settle(to: .unlocked)
        _ = waitUntil(limit: .seconds(1), { keypad.isIdle })
        bolt.lock(source: .button)
        try settle(to: .locked)
    }

    // The hash check alone, with the same parameters and a fresh install secret.
    var generator = SystemRandomNumberGenerator()
    let secret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
    let parameters = PINHasher.Parameters.standard
    var hashTimes: [Int64] = []
    do {
        let hasher = try PINHasher(installSecret: secret, parameters: parameters)
        for _ in 0..<hashSamples {
            let start = monotonicNanoseconds()
            _ = try hasher.credential(for: code)
            hashTimes.append(monotonicNanoseconds() - start)
        }
    } catch {
        throw BenchError("the hash check failed: \(error)")
    }

    // One durable store commit alone (an audit record; WAL, synchronous=FULL), in the same place.
    var commitTimes: [Int64] = []
    do {
        let store = try SQLiteLockStore(path: scratch + "/commit/boltwork.db")
        for _ in 0..<hashSamples {
            let start = monotonicNanoseconds()
            _ = try store.commit(
                StoreChange(events: [AuditEvent(time: Date(), action: .started, detail: "benchmark commit")]))
            commitTimes.append(monotonicNanoseconds() - start)
        }
    } catch {
        throw BenchError("the store commit failed: \(error)")
    }

    // The access layer's whole decision on a valid code (store reads, the hash, the granting
    // commit), as the keypad path calls it, on its own store in the same place.
    var decisionTimes: [Int64] = []
    do {
        let store = try SQLiteLockStore(path: scratch + "/decision/boltwork.db")
        let access = try AccessController(store: store, wallClock: SystemWallClock())
        _ = try access.initializeAdmin(name: "bench", pin: code)
        for _ in 0..<hashSamples {
            let start = monotonicNanoseconds()
            let decision = try access.authorize(digits: code, source: .keypad)
            decisionTimes.append(monotonicNanoseconds() - start)
            guard case .granted = decision else { throw BenchError("the access layer refused the code") }
        }
    } catch {
        throw BenchError("the code check failed: \(error)")
    }
    return UnlockFigure(
        path: Distribution(nanoseconds: times, misses: misses), hash: Distribution(nanoseconds: hashTimes),
        decision: Distribution(nanoseconds: decisionTimes), commit: Distribution(nanoseconds: commitTimes),
        hashParameters:
            "scrypt N=\(parameters.rounds) r=\(parameters.blockSize) p=\(parameters.parallelism) "
            + "(\(parameters.memoryBytes >> 20) MiB) over HMAC-SHA256(install secret, code)",
        store: "SQLite (WAL, synchronous=FULL) on \(fileSystem(of: scratch))")
}

/// Lock/unlock cycles on the scripted simulator (virtual time), with the SQLite store on tmpfs
/// when there is one; the resident set is read at each checkpoint.
func runEndurance(board: BoardFile, cycles: Int, checkpoints: [Int], scratch: String) throws(BenchError)
    -> EnduranceFigure
{
    let shm = "/dev/shm"
    let directory =
        access(shm, W_OK) == 0 ? (try? makeScratchDirectoryIn(shm, "boltwork-bench")) ?? scratch : scratch
    defer { if directory != scratch { try? FileManager.default.removeItem(atPath: directory) } }
    let simulator: ScriptedSimulator
    do {
        let store = try SQLiteLockStore(path: directory + "/boltwork.db")
        simulator = try ScriptedSimulator(boardFile: board, store: store) { _ in }
    } catch {
        throw BenchError("cannot build the simulator: \(error)")
    }
    let clock = simulator.clock
    let bolt = simulator.lock.controller.bolt
    func move(to state: BoltState) -> Bool {
        clock.advance(until: { bolt.state == state }, limit: .seconds(10), step: .milliseconds(100))
    }
    bolt.lock(source: .button)
    _ = move(to: .locked)
    var failed = 0
    var marks: [EnduranceFigure.Checkpoint] = []
    let wanted = Set(checkpoints + [cycles])
    let virtualStart = clock.now
    let start = monotonicNanoseconds()
    for cycle in 1...max(1, cycles) {
        bolt.unlock(source: .remote)
        if !move(to: .unlocked) { failed += 1 }
        bolt.lock(source: .button)
        if !move(to: .locked) { failed += 1 }
        if cycle % 200 == 0 {
            // The motor drains the simulated battery; swap it before moves are refused.
            simulator.board.battery.setStateOfCharge(80)
            simulator.lock.controller.battery?.refresh()
        }
        if wanted.contains(cycle) {
            let sample = ProcessSample.take()
            marks.append(
                .init(
                    cycles: cycle, residentKiB: sample.residentKiB, anonymousKiB: sample.anonymousKiB,
                    levelChangesKept: levelChangesKept(simulator.board.keypad.chip)))
        }
    }
    let seconds = Double(monotonicNanoseconds() - start) / 1e9
    simulator.lock.shutdown()
    return EnduranceFigure(
        cycles: cycles, failedCycles: failed, seconds: seconds, cyclesPerSecond: Double(cycles) / seconds,
        virtualHours: Double((clock.now - virtualStart).totalMilliseconds) / 3_600_000, residentKiB: marks,
        growthKiB: (marks.last?.residentKiB ?? 0) - (marks.first?.residentKiB ?? 0),
        lateGrowthKiB: (marks.last?.residentKiB ?? 0)
            - (marks.first { $0.cycles >= cycles / 2 }?.residentKiB ?? marks.last?.residentKiB ?? 0),
        store: "SQLite on \(fileSystem(of: directory))")
}

/// Level changes the simulated chip keeps in its lines' histories (its memory grows with them).
private func levelChangesKept(_ chip: SimulatedGPIOChip) -> Int {
    (0..<UInt32(chip.info.lineCount)).reduce(0) { total, offset in
        let name = (try? chip.lineInfo(at: offset).name) ?? ""
        return total + (name.isEmpty ? 0 : chip.history(of: name).count)
    }
}

/// Where a directory's files live (the file system type of its mount, from /proc/mounts),
/// for reading the store's figures: tmpfs is memory, anything else a disk.
func fileSystem(of path: String) -> String {
    var best: (point: String, type: String) = ("", "unknown")
    for line in (readText("/proc/mounts") ?? "").split(separator: "\n") {
        let fields = line.split(separator: " ")
        guard fields.count > 2 else { continue }
        let point = String(fields[1])
        let inside = path == point || path.hasPrefix(point == "/" ? "/" : point + "/")
        if inside && point.count >= best.point.count { best = (point, String(fields[2])) }
    }
    return "\(best.type) (\(path))"
}
