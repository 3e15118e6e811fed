import BoltworkDrivers
import BoltworkHAL
import BoltworkLinux
import BoltworkSimulation
import Dispatch

#if canImport(Glibc)
    import Glibc
#endif

/// A line request that counts the calls made through it (each is one ioctl on Linux), so the
/// scan cost can say how many GPIO calls a scan takes.
final class CountingLineRequest: GPIOLineRequest {
    private let base: any GPIOLineRequest
    private let count = Protected(0)

    init(_ base: any GPIOLineRequest) { self.base = base }

    /// Calls so far.
    var calls: Int { count.withLock { $0 } }
    var chip: GPIOChipInfo { base.chip }
    var offsets: [UInt32] { base.offsets }

    func values() throws(GPIOError) -> [LineValue] {
        count.withLock { $0 += 1 }
        return try base.values()
    }

    func setValues(_ values: [LineValue], at indices: [Int]) throws(GPIOError) {
        count.withLock { $0 += 1 }
        try base.setValues(values, at: indices)
    }

    func reconfigure(_ settings: [LineSettings]) throws(GPIOError) {
        count.withLock { $0 += 1 }
        try base.reconfigure(settings)
    }

    func setEdgeHandler(_ handler: (@Sendable (EdgeEvent) -> Void)?) { base.setEdgeHandler(handler) }
    func release() { base.release() }
}

/// A 4×4 key matrix on ROW0-3 / COL0-3 of some chip: the same GPIO backend (`GPIOKeypadMatrix`)
/// for Boltwork's keypad and for the polling baseline, over counting requests.
final class KeypadRig {
    static let rowNames = ["ROW0", "ROW1", "ROW2", "ROW3"]
    static let columnNames = ["COL0", "COL1", "COL2", "COL3"]
    static let keyMap = KeyMap.keypad4x4

    let clock: SystemClock
    let rows: CountingLineRequest
    let columns: CountingLineRequest
    let matrix: GPIOKeypadMatrix

    /// Requests the lines on `chip` with the settings `GPIOKeypadMatrix` documents (active-low
    /// rows pulled up with edges on both edges, open-drain columns starting active).
    init(chip: any GPIOChip, clock: SystemClock, consumer: String) throws(BenchError) {
        let wiring = GPIOKeypadMatrix.Wiring()
        do {
            let rowRequest = try chip.requestLines(
                Self.rowNames.map { LineConfig(.name($0), wiring.rowSettings) }, consumer: consumer)
            let columnRequest: any GPIOLineRequest
            do {
                columnRequest = try chip.requestLines(
                    Self.columnNames.map { LineConfig(.name($0), wiring.columnSettings(active: true)) },
                    consumer: consumer)
            } catch {
                rowRequest.release()
                throw error
            }
            rows = CountingLineRequest(rowRequest)
            columns = CountingLineRequest(columnRequest)
        } catch {
            throw BenchError("cannot request the keypad lines on \(chip.info.path): \(error)")
        }
        self.clock = clock
        matrix = GPIOKeypadMatrix(rows: rows, columns: columns, wiring: wiring, name: "bench keypad")
    }

    /// GPIO calls made through the rig so far.
    var calls: Int { rows.calls + columns.calls }

    /// Releases the lines.
    func release() {
        matrix.release()
        rows.release()
        columns.release()
    }
}

/// What presses the keys: the simulated matrix's outside world, or gpio-sim's pull attribute.
protocol KeyStimulus {
    /// Distinct keys (or rows) it presses in turn.
    var keyCount: Int { get }
    /// Presses key `index`; returns the monotonic time just before the row's level changed.
    func press(_ index: Int) throws(BenchError) -> Int64
    /// Releases key `index`.
    func release(_ index: Int) throws(BenchError)
}

/// The simulated backend on the real clock: `SimulatedGPIO` on a `SystemClock`, with the
/// simulated matrix's electrics (`SimulatedKeypad`) driving the rows from the columns.
final class SimulatedKeypadBench: KeyStimulus {
    let clock = SystemClock()
    let gpio: SimulatedGPIO
    let model: SimulatedKeypad
    let rig: KeypadRig

    init() throws(BenchError) {
        gpio = SimulatedGPIO(clock: clock)
        let chip = gpio.addChip(label: "bench-keypad", lineNames: KeypadRig.rowNames + KeypadRig.columnNames)
        do {
            model = try SimulatedKeypad(
                chip: chip, rows: KeypadRig.rowNames, columns: KeypadRig.columnNames, keyMap: KeypadRig.keyMap
            )
        } catch {
            throw BenchError("cannot wire the simulated keypad: \(error)")
        }
        rig = try KeypadRig(chip: chip, clock: clock, consumer: "boltwork-bench")
    }

    var keyCount: Int { 16 }

    private func key(_ index: Int) -> Character { KeypadRig.keyMap[index / 4 % 4][index % 4] }

    func press(_ index: Int) throws(BenchError) -> Int64 {
        let start = monotonicNanoseconds()
        model.press(key(index))
        return start
    }

    func release(_ index: Int) throws(BenchError) { model.release(key(index)) }

    func shutdown() {
        rig.release()
        clock.shutdown()
    }
}

/// The real kernel: `LinuxGPIO` on gpio-sim's `boltwork-sim` chip in the kernel-tier VM. A key
/// press is a row pulled low through gpio-sim's `pull` attribute (gpio-sim has no matrix, so
/// every column then reads that row: four keys of one row go down together).
final class GPIOSimKeypadBench: KeyStimulus {
    let clock = SystemClock()
    let gpio: LinuxGPIO
    let rig: KeypadRig
    private let pullFiles: [String]

    init(label: String, sysfs: String) throws(BenchError) {
        gpio = LinuxGPIO(clock: clock)
        let chip: any GPIOChip
        do {
            chip = try gpio.openChip(.label(label))
            pullFiles = try KeypadRig.rowNames.map { name throws(GPIOError) in
                "\(sysfs)/sim_gpio\(try chip.resolve(.name(name)))/pull"
            }
        } catch {
            gpio.shutdown()
            clock.shutdown()
            throw BenchError("cannot open gpio-sim's \(label): \(error)")
        }
        rig = try KeypadRig(chip: chip, clock: clock, consumer: "boltwork-bench")
    }

    var keyCount: Int { 4 }

    func press(_ index: Int) throws(BenchError) -> Int64 {
        try writeAttribute(pullFiles[index % 4], "pull-down")
    }

    func release(_ index: Int) throws(BenchError) {
        try writeAttribute(pullFiles[index % 4], "pull-up")
    }

    func shutdown() {
        rig.release()
        gpio.shutdown()
        clock.shutdown()
    }
}

/// A keypad scanner under test.
protocol KeyScanner: AnyObject {
    /// Starts scanning; `onPress` runs when a key goes down, `onAllUp` when the last key is up.
    func start(onPress: @escaping @Sendable () -> Void, onAllUp: @escaping @Sendable () -> Void)
        throws(BenchError)
    /// Stops scanning.
    func stop()
    /// Scans performed so far.
    var scans: Int { get }
}

/// Boltwork's keypad driver: interrupt-driven, it scans only after a row edge and while a key
/// is down.
final class BoltworkScanner: KeyScanner {
    let keypad: MatrixKeypad

    init(rig: KeypadRig, debounce: Duration) throws(BenchError) {
        do {
            keypad = try MatrixKeypad(
                backend: rig.matrix, keyMap: KeypadRig.keyMap, clock: rig.clock,
                options: MatrixKeypad.Options(debounce: debounce))
        } catch {
            throw BenchError("cannot create the keypad: \(error)")
        }
    }

    func start(onPress: @escaping @Sendable () -> Void, onAllUp: @escaping @Sendable () -> Void)
        throws(BenchError)
    {
        keypad.setKeyHandler { [weak keypad] event in
            switch event.kind {
            case .press: onPress()
            case .release: if keypad?.pressedKeys.isEmpty ?? true { onAllUp() }
            case .stuck: break
            }
        }
        do {
            try keypad.start()
        } catch {
            throw BenchError("cannot start the keypad: \(error)")
        }
    }

    func stop() {
        keypad.stop()
        keypad.setKeyHandler(nil)
    }

    var scans: Int { keypad.scanCount }
}

/// The baseline: a plain polling scanner as polling keypad libraries work (the Arduino Keypad
/// library, most MicroPython and CircuitPython keypad code): every 10 ms, drive each column in
/// turn and read the rows, and report any change at once; the scan interval is the debounce.
/// It runs on the same clock and the same GPIO backend as Boltwork's keypad.
final class PollingScanner: KeyScanner, Sendable {
    private struct State {
        var running = false
        var work: (any ScheduledWork)?
        var down: Set<Int> = []
        var scans = 0
        var errors = 0
        var onPress: (@Sendable () -> Void)?
        var onAllUp: (@Sendable () -> Void)?
    }

    let backend: any KeypadMatrixBackend
    let clock: any BoltClock
    let interval: Duration
    private let state = Protected(State())

    init(backend: any KeypadMatrixBackend, clock: any BoltClock, interval: Duration = .milliseconds(10)) {
        self.backend = backend
        self.clock = clock
        self.interval = interval
    }

    func start(onPress: @escaping @Sendable () -> Void, onAllUp: @escaping @Sendable () -> Void)
        throws(BenchError)
    {
        do {
            // Polling libraries leave the columns released between scans.
            try backend.setDetectMode(false)
            try backend.deactivateAllColumns()
        } catch {
            throw BenchError("cannot release the columns: \(error)")
        }
        state.withLock { state in
            state.running = true
            state.down = []
            state.onPress = onPress
            state.onAllUp = onAllUp
        }
        schedule(at: clock.now + interval)
    }

    func stop() {
        let work = state.withLock { state -> (any ScheduledWork)? in
            state.running = false
            defer { state.work = nil }
            return state.work
        }
        work?.cancel()
    }

    var scans: Int { state.withLock { $0.scans } }

    /// Scans that failed with a GPIO error.
    var errors: Int { state.withLock { $0.errors } }

    private func schedule(at deadline: MonotonicInstant) {
        let work = clock.schedule(at: deadline) { [weak self] in self?.tick(deadline) }
        let keep = state.withLock { state -> Bool in
            if state.running { state.work = work }
            return state.running
        }
        if !keep { work.cancel() }
    }

    private func tick(_ deadline: MonotonicInstant) {
        guard state.withLock({ $0.running }) else { return }
        var down = Set<Int>()
        var failed = false
        do throws(DeviceError) {
            for column in 0..<backend.columnCount {
                try backend.driveColumn(column)
                for (row, active) in try backend.readRows().enumerated() where active {
                    down.insert(row * backend.columnCount + column)
                }
            }
            try backend.deactivateAllColumns()
        } catch {
            failed = true
        }
        let (pressHandler, upHandler) = state.withLock {
            state -> ((@Sendable () -> Void)?, (@Sendable () -> Void)?) in
            state.scans += 1
            if failed {
                state.errors += 1
                return (nil, nil)
            }
            let previous = state.down
            state.down = down
            return (
                down.subtracting(previous).isEmpty ? nil : state.onPress,
                !previous.isEmpty && down.isEmpty ? state.onAllUp : nil
            )
        }
        pressHandler?()
        upHandler?()
        var next = deadline + interval
        let now = clock.now
        while next <= now { next = next + interval }
        schedule(at: next)
    }
}

/// Hands the first key event after the stimulus from the scanner's thread to the benchmark's.
final class EventGate: Sendable {
    private struct State {
        var waitingForPress = false
        var pressedAt: Int64?
        var waitingForUp = false
    }

    private let state = Protected(State())
    private let pressSignal = DispatchSemaphore(value: 0)
    private let upSignal = DispatchSemaphore(value: 0)

    /// Expects a press next.
    func arm() {
        state.withLock { state in
            state.waitingForPress = true
            state.pressedAt = nil
            state.waitingForUp = false
        }
    }

    /// A key went down (called by the scanner): the time is taken first.
    func pressed() {
        let now = monotonicNanoseconds()
        let first = state.withLock { state -> Bool in
            guard state.waitingForPress else { return false }
            state.waitingForPress = false
            state.pressedAt = now
            state.waitingForUp = true
            return true
        }
        if first { pressSignal.signal() }
    }

    /// The last key went up (called by the scanner).
    func allUp() {
        let first = state.withLock { state -> Bool in
            defer { state.waitingForUp = false }
            return state.waitingForUp
        }
        if first { upSignal.signal() }
    }

    /// The time of the press, nil when none came within `limit`.
    func waitForPress(limit: Duration) -> Int64? {
        if pressSignal.wait(timeout: .now() + .milliseconds(Int(limit.totalMilliseconds))) == .success {
            return state.withLock { $0.pressedAt }
        }
        let raced = state.withLock { state -> Bool in
            defer { state.waitingForPress = false }
            return !state.waitingForPress
        }
        guard raced else { return nil }
        pressSignal.wait()
        return state.withLock { $0.pressedAt }
    }

    /// Whether every key was reported up within `limit`.
    @discardableResult
    func waitForAllUp(limit: Duration) -> Bool {
        if upSignal.wait(timeout: .now() + .milliseconds(Int(limit.totalMilliseconds))) == .success {
            return true
        }
        let raced = state.withLock { state -> Bool in
            defer { state.waitingForUp = false }
            return !state.waitingForUp
        }
        if raced { upSignal.wait() }
        return raced
    }
}

/// Presses keys `presses` times, each at a random moment (so a polling scanner's phase is
/// random), and measures row edge → key event.
func measureLatency(
    _ subject: String, scanner: any KeyScanner, stimulus: any KeyStimulus, presses: Int,
    debounce: Duration?
) throws(BenchError) -> LatencyFigure {
    let gate = EventGate()
    try scanner.start(onPress: { gate.pressed() }, onAllUp: { gate.allUp() })
    defer { scanner.stop() }
    let scansBefore = scanner.scans
    var samples: [Int64] = []
    var misses = 0
    var generator = SystemRandomNumberGenerator()
    for index in 0..<presses {
        pause(microseconds: Int64.random(in: 0..<10_000, using: &generator))
        gate.arm()
        let start = try stimulus.press(index)
        if let end = gate.waitForPress(limit: .seconds(2)) {
            samples.append(end - start)
        } else {
            misses += 1
        }
        try stimulus.release(index)
        gate.waitForAllUp(limit: .seconds(2))
    }
    return LatencyFigure(
        subject: subject, debounceMilliseconds: debounce.map { Double($0.totalMicroseconds) / 1000 },
        latency: Distribution(nanoseconds: samples, misses: misses), scans: scanner.scans - scansBefore)
}

/// Times full scans as `MatrixKeypad` makes them (release every column, then for each column:
/// drive it, read all rows in one call, release it), starting from the idle state.
func measureScanCost(rig: KeypadRig, scans: Int) throws(BenchError) -> ScanCostFigure {
    var samples: [Int64] = []
    var calls = 0
    let matrix = rig.matrix
    do throws(DeviceError) {
        for _ in 0..<scans {
            try matrix.activateAllColumns()
            let before = rig.calls
            let start = monotonicNanoseconds()
            try matrix.deactivateAllColumns()
            for column in 0..<matrix.columnCount {
                try matrix.driveColumn(column)
                _ = try matrix.readRows()
                try matrix.deactivateAllColumns()
            }
            samples.append(monotonicNanoseconds() - start)
            calls += rig.calls - before
        }
        try matrix.activateAllColumns()
    } catch {
        throw BenchError("a scan failed: \(error)")
    }
    return ScanCostFigure(
        matrix: "4×4", callsPerScan: Double(calls) / Double(max(1, scans)),
        duration: Distribution(nanoseconds: samples))
}

/// Key latency of Boltwork's keypad (debounce 0 and the default) and of the polling baseline,
/// and the scan cost, on one rig.
func keypadFigures(rig: KeypadRig, stimulus: any KeyStimulus, presses: Int, scanCostScans: Int)
    throws(BenchError) -> (latency: [LatencyFigure], scanCost: ScanCostFigure)
{
    var figures: [LatencyFigure] = []
    let defaultDebounce = MatrixKeypad.Options().debounce
    for debounce in [Duration.zero, defaultDebounce] {
        progress(
            "key latency: Boltwork keypad, debounce \(debounce.totalMilliseconds) ms, \(presses) presses")
        let scanner = try BoltworkScanner(rig: rig, debounce: debounce)
        figures.append(
            try measureLatency(
                "Boltwork keypad", scanner: scanner, stimulus: stimulus, presses: presses, debounce: debounce)
        )
    }
    progress("key latency: polling scanner every 10 ms, \(presses) presses")
    let poller = PollingScanner(backend: rig.matrix, clock: rig.clock)
    figures.append(
        try measureLatency(
            "polling scanner, 10 ms", scanner: poller, stimulus: stimulus, presses: presses, debounce: nil))
    progress("scan cost: \(scanCostScans) full 4×4 scans")
    let cost = try measureScanCost(rig: rig, scans: scanCostScans)
    return (figures, cost)
}
