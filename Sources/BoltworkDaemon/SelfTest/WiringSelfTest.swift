import BoltworkBoard
import BoltworkDrivers
import BoltworkHAL
import BoltworkLock

/// The wiring self-test and calibration a maker runs before trusting a new build (`boltd
/// selftest`): every line in the board file exists and is free; the fuel gauge and the AS5600
/// answer with their identity; each key, pressed when asked, is the key the map says; the motor
/// moves the bolt the way the board file says, and the throw time in each direction (and, for
/// an AS5600, the raw angle at each end) is measured and stored for the daemon.
///
/// It runs over the real drivers (``BoardAssembly``) on any GPIO provider and I2C buses, lets
/// time pass through a ``SelfTestTimeline`` and talks to the person through a
/// ``SelfTestOperator``, so tests run it on the simulated board in virtual time.
///
/// The motor is never left running: every move ends in a stop, on every path; the lines are
/// released (the motor in its safe state) when ``run()`` returns; ``abort()`` (for SIGINT)
/// stops the motor at once from any thread and makes the run end.
public final class WiringSelfTest: Sendable {
    /// Timeouts and choices.
    public struct Options: Sendable, Hashable {
        /// Leave out the keypad check (nobody at the keypad).
        public var skipKeypad: Bool
        /// How long to wait for each prompted key.
        public var keyTimeout: Duration
        /// How long a move may show no sensor change before the motor counts as not moving.
        public var noMovementTimeout: Duration
        /// The pause between moves (the motor's dead time, the switches' debounce).
        public var settleTime: Duration
        /// AS5600: the bolt is at an end when its angle has not changed for this long.
        public var stillTime: Duration
        /// The consumer name the lines are requested with.
        public var consumer: String

        /// Creates options: 15 s per key, 2 s without sensor change, 300 ms between moves,
        /// 300 ms still at an end.
        public init(
            skipKeypad: Bool = false, keyTimeout: Duration = .seconds(15),
            noMovementTimeout: Duration = .seconds(2),
            settleTime: Duration = .milliseconds(300), stillTime: Duration = .milliseconds(300),
            consumer: String = "boltwork-selftest"
        ) {
            self.skipKeypad = skipKeypad
            self.keyTimeout = keyTimeout
            self.noMovementTimeout = noMovementTimeout
            self.settleTime = settleTime
            self.stillTime = stillTime
            self.consumer = consumer
        }
    }

    /// The board file under test.
    public let board: BoardFile
    /// The lock policy (for the move timeout the calibration gives).
    public let config: LockConfigFile
    /// The options.
    public let options: Options
    private let gpio: any GPIOProvider
    private let i2c: @Sendable (Int) throws(I2CError) -> any I2CBus
    private let timeline: any SelfTestTimeline
    private let store: any LockStore
    private let wallClock: any WallClock
    private let person: any SelfTestOperator
    private let state = Protected(RunState())

    private struct RunState {
        var aborted = false
        var motor: HBridgeMotor?
    }

    /// Prepares a self-test of `board` over `gpio` and `i2c`; the calibration goes to `store`
    /// with an audit record dated by `wallClock`.
    public init(
        board: BoardFile, config: LockConfigFile = LockConfigFile(), gpio: any GPIOProvider,
        i2c: @escaping @Sendable (Int) throws(I2CError) -> any I2CBus, timeline: any SelfTestTimeline,
        store: any LockStore, wallClock: any WallClock, operator person: any SelfTestOperator,
        options: Options = Options()
    ) {
        self.board = board
        self.config = config
        self.gpio = gpio
        self.i2c = i2c
        self.timeline = timeline
        self.store = store
        self.wallClock = wallClock
        self.person = person
        self.options = options
    }

    /// Stops the motor now (from any thread, a signal handler's queue included) and makes the
    /// run end at its next wait. The motor refuses to run again.
    public func abort() {
        state.withLock { state in
            state.aborted = true
            state.motor?.shutdown()
        }
        timeline.wake()
    }

    private var isAborted: Bool { state.withLock { $0.aborted } }

    // MARK: The run

    /// Runs every step, reporting each finding to the operator as it is made, and returns
    /// the report. The lines are released when it returns.
    public func run() -> SelfTestReport {
        let record = Recorder(person: person)
        defer { record.person.show(record.report.passed ? "self-test passed" : "self-test FAILED") }
        func skip(from step: SelfTestStep, _ why: String) {
            let steps = SelfTestStep.allCases
            guard let start = steps.firstIndex(of: step) else { return }
            for later in steps[start...] { record.add(later, .skipped, why) }
        }

        guard checkLines(record) else {
            skip(from: .devices, "the lines are not usable")
            return record.report
        }
        let hardware: LockHardware
        do {
            hardware = try BoardAssembly.assemble(
                assemblyBoard, gpio: gpio, i2c: i2c, clock: timeline.clock, consumer: options.consumer)
        } catch {
            record.add(
                .lines, .failed, "cannot request the lines: \(error)",
                fix: Self.busyHolder(of: error).map(Self.busyFix)
                    ?? "fix the part the message names, then run the self-test again")
            skip(from: .devices, "the lines could not be requested")
            return record.report
        }
        let early = state.withLock { state -> Bool in
            state.motor = hardware.motor
            return state.aborted
        }
        defer {
            state.withLock { $0.motor = nil }
            hardware.shutdown()
        }
        if early { hardware.motor.shutdown() }
        record.add(.lines, .passed, "every part's lines were requested (\(options.consumer))")

        let sensorWorks = checkDevices(hardware, record)
        if interrupted(record) { return record.report }

        if options.skipKeypad {
            record.add(.keypad, .skipped, "--skip-keypad")
        } else {
            checkKeypad(hardware, record)
        }
        if interrupted(record) { return record.report }

        guard sensorWorks else {
            skip(from: .motor, "the bolt sensor does not work")
            return record.report
        }
        let travel =
            "The motor will now move the bolt to its ends. Open the door and keep hands and "
            + "objects clear of the bolt. Go ahead?"
        guard person.confirm(travel) else {
            skip(from: .motor, "not confirmed")
            return record.report
        }
        let measured: BoltCalibration?
        if let sensor = hardware.bolt as? AS5600BoltSensor {
            measured = calibrateAngles(hardware, sensor: sensor, record)
        } else {
            measured = jogMotor(hardware, record)
        }
        if interrupted(record) { return record.report }
        storeCalibration(measured, record)
        return record.report
    }

    private func interrupted(_ record: Recorder) -> Bool {
        guard isAborted else { return false }
        if !record.report.interrupted {
            record.report.interrupted = true
            record.person.show("interrupted: the motor is stopped and the lines are released")
        }
        return true
    }

    /// The board as assembled for the test: an AS5600 without end angles gets placeholders
    /// (the test reads raw angles only), so that a new build can be calibrated.
    private var assemblyBoard: BoardFile {
        guard case .as5600(let bus, let address, let retracted, let extended) = board.bolt,
            retracted == nil || extended == nil
        else { return board }
        var copy = board
        copy.bolt = .as5600(bus: bus, address: address, retractedAngle: 0, extendedAngle: 2048)
        return copy
    }

    // MARK: Lines

    private func checkLines(_ record: Recorder) -> Bool {
        let lines = board.namedLines
        record.person.show("Lines: checking the \(lines.count) GPIO lines of \(board.name)")
        var chips: [GPIOChipID: any GPIOChip] = [:]
        var missingChips: Set<GPIOChipID> = []
        var failed = false
        for (key, line) in lines {
            let id = line.chip ?? board.defaultChip
            if missingChips.contains(id) {
                failed = true
                continue
            }
            let chip: any GPIOChip
            if let open = chips[id] {
                chip = open
            } else {
                do {
                    chip = try gpio.openChip(id)
                    chips[id] = chip
                } catch {
                    missingChips.insert(id)
                    failed = true
                    // The error says what to do (the chips that exist, the udev rule).
                    record.add(.lines, .failed, "\(key) (\(line)): \(error)")
                    continue
                }
            }
            do {
                let offset = try chip.resolve(line.line)
                let info = try chip.lineInfo(at: offset)
                if info.isUsed {
                    failed = true
                    let holder = info.consumer.isEmpty ? "an unnamed consumer" : "'\(info.consumer)'"
                    record.add(
                        .lines, .failed, "\(key) (\(line)) is busy: held by \(holder)",
                        fix: Self.busyFix(holder: info.consumer))
                }
            } catch {
                failed = true
                record.add(
                    .lines, .failed, "\(key) (\(line)): \(error)",
                    fix: "fix \(key) in the board file (`boltwork-probe lines --chip LABEL` lists the names)")
            }
        }
        if !failed {
            let labels = chips.values.map(\.info.label).sorted().joined(separator: ", ")
            record.add(.lines, .passed, "all \(lines.count) lines exist and are free (\(labels))")
        }
        return !failed
    }

    /// The holder named by a busy-line error under a device error, if that is what it is.
    static func busyHolder(of error: DeviceError) -> String? {
        guard let gpio = error.underlying as? GPIOError, gpio.kind == .lineBusy else { return nil }
        guard let range = gpio.detail.range(of: "held by '") else { return "" }
        return String(gpio.detail[range.upperBound...].prefix { $0 != "'" })
    }

    /// What to do about a line held by `holder`.
    static func busyFix(holder: String) -> String {
        if holder.isEmpty || holder.contains("boltd") || holder == "boltwork" {
            return "stop boltd first: systemctl stop boltd"
        }
        return "stop '\(holder)' or remove the overlay or kernel driver that claims the pin (see "
            + "`gpioinfo`); if it is boltd: stop boltd first: systemctl stop boltd"
    }

    // MARK: Devices

    /// Checks the gauge's identity, the bolt sensor and the door; returns whether the bolt
    /// sensor can be used for the motor step.
    private func checkDevices(_ hardware: LockHardware, _ record: Recorder) -> Bool {
        record.person.show("Devices: asking each I2C device who it is, reading the sensors")
        if let wiring = board.gauge, let gauge = hardware.gauge {
            do {
                var identity = ""
                if let max = gauge as? MAX17048 {
                    let version = try max.version()
                    identity = "VERSION \(hex(version)), "
                } else if let bq = gauge as? BQ27441 {
                    let type = try bq.verifyDeviceType()
                    identity = "DEVICE_TYPE \(hex(type)), "
                }
                let reading = try gauge.read()
                record.add(
                    .devices, .passed,
                    "\(gauge.name) answers: \(identity)\(reading.millivolts) mV, \(Int(reading.percent.rounded())) %"
                )
            } catch {
                var silent = false
                if let i2c = error.underlying as? I2CError, case .noAcknowledge = i2c.kind { silent = true }
                record.add(
                    .devices, .failed,
                    silent ? "\(gauge.name) does not answer" : "\(gauge.name): \(error.detail)",
                    fix: gaugeFix(error, wiring))
            }
        } else {
            record.add(.devices, .skipped, "no fuel gauge in the board file")
        }

        var sensorWorks = true
        if let sensor = hardware.bolt as? AS5600BoltSensor {
            do {
                let magnet = try sensor.magnetStatus()
                if magnet == .ok {
                    let raw = try sensor.rawAngle()
                    record.add(
                        .devices, .passed,
                        "AS5600 at \(sensor.address) on \(sensor.bus.name) answers: magnet detected, raw angle \(raw)"
                    )
                } else {
                    sensorWorks = false
                    record.add(
                        .devices, .failed, "AS5600 at \(sensor.address) on \(sensor.bus.name): \(magnet)",
                        fix: "fix the magnet, then run the self-test again")
                }
            } catch {
                sensorWorks = false
                record.add(
                    .devices, .failed, "AS5600 at \(sensor.address) on \(sensor.bus.name) does not answer",
                    fix:
                        "check SDA/SCL, 3V3 and GND to the AS5600 and bolt.bus/bolt.address (`boltwork-probe i2c --bus N` lists who answers); \(error)"
                )
            }
        } else {
            do {
                let position = try hardware.bolt.position()
                if case .fault(let why) = position {
                    sensorWorks = false
                    record.add(
                        .devices, .failed, "the bolt's end switches: \(why)",
                        fix:
                            "check bolt.active (low for switches to ground) and that \(switchLines) are not shorted together"
                    )
                } else {
                    record.add(.devices, .passed, "the bolt's end switches read \(position)")
                }
            } catch {
                sensorWorks = false
                record.add(.devices, .failed, "cannot read the bolt's end switches: \(error)")
            }
        }
        if let door = hardware.door {
            do {
                let closed = try door.state() == .closed
                record.add(.devices, .passed, "the door contact reads \(closed ? "closed" : "open")")
            } catch {
                record.add(.devices, .failed, "cannot read the door contact: \(error)")
            }
        }
        return sensorWorks
    }

    private func gaugeFix(_ error: DeviceError, _ wiring: GaugeWiring) -> String {
        let bus = wiring.bus.map(String.init) ?? "N"
        if error.kind == .implausible {
            return "another chip answers at \(wiring.address.map { "\($0)" } ?? "this address"): "
                + "check gauge.type and gauge.address in the board file"
        }
        if let i2c = error.underlying as? I2CError {
            switch i2c.kind {
            case .noAcknowledge:
                return "nothing answers at \(wiring.address.map { "\($0)" } ?? "the address") on bus \(bus): "
                    + "check the gauge's SDA/SCL, 3V3 and GND wires and gauge.address "
                    + "(`boltwork-probe i2c --bus \(bus)` lists who answers)"
            case .noSuchDevice:
                return "there is no /dev/i2c-\(bus): enable I2C (on a Raspberry Pi: dtparam=i2c_arm=on) "
                    + "or fix gauge.bus"
            case .permissionDenied:
                return "install the udev rule (udev/) and add yourself to the i2c group, or run as root"
            default:
                break
            }
        }
        return "check the gauge's wiring (SDA, SCL, pull-ups, power)"
    }

    private func hex(_ value: UInt16) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return "0x" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    private var switchLines: String {
        guard case .switches(let retracted, let extended, _, _) = board.bolt else { return "the switches" }
        return [retracted.map { "bolt.retracted (\($0))" }, extended.map { "bolt.extended (\($0))" }]
            .compactMap { $0 }.joined(separator: " and ")
    }

    // MARK: Keypad

    private enum KeyOutcome: Hashable {
        case pressed
        case wrong(Character)
        case silent
        case stuck
    }

    private func checkKeypad(_ hardware: LockHardware, _ record: Recorder) {
        let keys = board.keypad.keys
        let count = keys.reduce(0) { $0 + $1.count }
        record.person.show(
            "Keypad: press each key when asked (\(count) keys, \(options.keyTimeout.totalMilliseconds / 1000) s each)"
        )
        let events = Protected([KeyEvent]())
        let timeline = self.timeline
        hardware.keypad.setKeyHandler { event in
            events.withLock { $0.append(event) }
            timeline.wake()
        }
        defer {
            hardware.keypad.stop()
            hardware.keypad.setKeyHandler(nil)
        }
        do {
            try hardware.keypad.start()
        } catch {
            record.add(.keypad, .failed, "cannot start the keypad: \(error)")
            return
        }
        var outcomes: [[KeyOutcome]] = keys.map { Array(repeating: .silent, count: $0.count) }
        for (row, rowKeys) in keys.enumerated() {
            for (column, key) in rowKeys.enumerated() {
                // Nothing held from the key before.
                _ = timeline.wait(
                    until: { hardware.keypad.pressedKeys.isEmpty || isAborted }, timeout: options.keyTimeout)
                if isAborted { return }
                events.withLock { $0.removeAll() }
                person.askToPress(key)
                _ = timeline.wait(
                    until: { isAborted || events.withLock { $0.contains { $0.kind != .release } } },
                    timeout: options.keyTimeout)
                if isAborted { return }
                let first = events.withLock { $0.first { $0.kind != .release } }
                let outcome: KeyOutcome
                switch first?.kind {
                case .press?: outcome = first?.key == key ? .pressed : .wrong(first?.key ?? key)
                case .stuck?: outcome = .stuck
                default: outcome = .silent
                }
                outcomes[row][column] = outcome
                switch outcome {
                case .pressed: record.person.show("  \(key): ok")
                case .wrong(let got): record.person.show("  \(key): got \(got)")
                case .silent: record.person.show("  \(key): no key press")
                case .stuck: record.person.show("  \(key): stuck")
                }
                // Let the key come up before the next prompt.
                _ = timeline.wait(
                    until: { hardware.keypad.pressedKeys.isEmpty || isAborted }, timeout: options.keyTimeout)
            }
        }
        for finding in diagnoseKeypad(outcomes) { record.add(finding) }
    }

    private func rowName(_ row: Int) -> String { "keypad.rows[\(row)] (\(board.keypad.rows[row]))" }
    private func columnName(_ column: Int) -> String {
        "keypad.columns[\(column)] (\(board.keypad.columns[column]))"
    }

    /// Turns each key's outcome into findings: dead rows and columns, single dead keys, swapped
    /// rows or columns, a key map that does not match.
    private func diagnoseKeypad(_ outcomes: [[KeyOutcome]]) -> [SelfTestFinding] {
        let keys = board.keypad.keys
        let rows = outcomes.count
        let columns = outcomes.first?.count ?? 0
        func keyList(_ list: [Character]) -> String { list.map(String.init).joined(separator: " ") }
        let all = outcomes.flatMap { $0 }
        if all.allSatisfy({ $0 == .pressed }) {
            return [SelfTestFinding(.keypad, .passed, "all \(all.count) keys answer as mapped")]
        }
        if all.allSatisfy({ $0 == .silent }) {
            return [
                SelfTestFinding(
                    .keypad, .failed, "no key press was seen at all",
                    fix:
                        "check the keypad's connector and keypad.active (low when the rows are pulled up and "
                        + "a key connects its row to an active-low column); rows must be the inputs, columns the outputs"
                )
            ]
        }
        var findings: [SelfTestFinding] = []
        let deadRows = (0..<rows).filter { row in outcomes[row].allSatisfy { $0 == .silent } }
        let deadColumns = (0..<columns).filter { column in
            (0..<rows).allSatisfy { outcomes[$0][column] == .silent }
        }
        for row in deadRows where columns > 1 {
            findings.append(
                SelfTestFinding(
                    .keypad, .failed, "no key on row \(row + 1) (\(keyList(keys[row]))) answers",
                    fix:
                        "the row line \(rowName(row)) is dead: check its wire, connector pin and solder joint, and its name in the board file"
                ))
        }
        for column in deadColumns where rows > 1 {
            findings.append(
                SelfTestFinding(
                    .keypad, .failed,
                    "no key in column \(column + 1) (\(keyList(keys.map { $0[column] }))) answers",
                    fix:
                        "the column line \(columnName(column)) is dead: check its wire, connector pin and solder joint, and its name in the board file"
                ))
        }
        var swappedColumns: Set<[Int]> = []
        var swappedRows: Set<[Int]> = []
        for row in 0..<rows {
            for column in 0..<columns {
                let key = keys[row][column]
                switch outcomes[row][column] {
                case .pressed:
                    break
                case .silent:
                    let coveredByLine =
                        (deadRows.contains(row) && columns > 1) || (deadColumns.contains(column) && rows > 1)
                    if !coveredByLine {
                        findings.append(
                            SelfTestFinding(
                                .keypad, .failed,
                                "key \(key) gave no key press (row \(row + 1) on \(rowName(row)), column \(column + 1) on \(columnName(column)))",
                                fix:
                                    "the other keys on those lines work, so the lines are fine: the key's switch or its trace is broken"
                            ))
                    }
                case .stuck:
                    findings.append(
                        SelfTestFinding(
                            .keypad, .failed, "key \(key) reads as held down",
                            fix:
                                "free the key, or look for a short between \(rowName(row)) and \(columnName(column))"
                        ))
                case .wrong(let got):
                    let found = keys.enumerated().lazy.compactMap { index, keysInRow in
                        keysInRow.firstIndex(of: got).map { (index, $0) }
                    }.first
                    if let (gotRow, gotColumn) = found, gotRow == row, gotColumn != column {
                        swappedColumns.insert([column, gotColumn].sorted())
                    } else if let (gotRow, gotColumn) = found, gotColumn == column, gotRow != row {
                        swappedRows.insert([row, gotRow].sorted())
                    } else {
                        findings.append(
                            SelfTestFinding(
                                .keypad, .failed, "pressing \(key) gave \(got)",
                                fix:
                                    "keypad.keys does not match this keypad: write the characters as printed on it, one string per row"
                            ))
                    }
                }
            }
        }
        for pair in swappedColumns.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            findings.append(
                SelfTestFinding(
                    .keypad, .failed,
                    "columns \(pair[0] + 1) and \(pair[1] + 1) read swapped (a key gave its neighbour in the same row)",
                    fix:
                        "swap \(columnName(pair[0])) and \(columnName(pair[1])) in the board file, or the two wires"
                ))
        }
        for pair in swappedRows.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            findings.append(
                SelfTestFinding(
                    .keypad, .failed,
                    "rows \(pair[0] + 1) and \(pair[1] + 1) read swapped (a key gave its neighbour in the same column)",
                    fix:
                        "swap \(rowName(pair[0])) and \(rowName(pair[1])) in the board file, or the two wires"
                ))
        }
        return findings
    }

    // MARK: Motor

    /// Collects the bolt sensor's changes and the motor's own stops during a move.
    private final class MoveWatch: Sendable {
        private struct State {
            var start: BoltPosition = .between(percent: nil)
            var events: [BoltPositionEvent] = []
            var stop: MotorStopReason?
        }

        private let state = Protected(State())

        func reset(to position: BoltPosition) {
            state.withLock { $0 = State(start: position) }
        }

        func record(_ event: BoltPositionEvent) { state.withLock { $0.events.append(event) } }
        func stopped(_ reason: MotorStopReason) { state.withLock { $0.stop = reason } }

        var changes: Int { state.withLock { $0.events.count } }
        var latest: BoltPosition { state.withLock { $0.events.last?.position ?? $0.start } }
        var stopReason: MotorStopReason? { state.withLock { $0.stop } }

        func firstTime(at position: BoltPosition) -> MonotonicInstant? {
            state.withLock { $0.events.first { $0.position == position }?.timestamp }
        }
    }

    private enum MoveOutcome {
        case reached(Duration)
        case wrongWay
        case noChange(MotorStopReason?)
        case incomplete(BoltPosition, MotorStopReason?)
        case sensorFault(String)
        case motorFailed(DeviceError)
        case aborted
    }

    /// Runs the motor with the abort check and the run in one step, so that an abort cannot
    /// slip between them.
    private func runMotor(_ direction: BoltDirection, _ hardware: LockHardware) throws(DeviceError) {
        let result = state.withLock { state -> Result<Void, DeviceError> in
            guard !state.aborted else {
                return .failure(
                    DeviceError(.invalidState, device: "motor", detail: "the self-test was interrupted"))
            }
            do throws(DeviceError) {
                try hardware.motor.run(direction)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }

    /// Stops the motor; if the stop fails, shuts it down (safe state, lines released).
    private func stopMotor(_ hardware: LockHardware) {
        do {
            try hardware.motor.stop()
        } catch {
            hardware.motor.shutdown()
        }
    }

    private var maximumRun: Duration { .milliseconds(board.motor.maxRunMilliseconds) }

    /// Drives `direction` until the sensor shows the target end, the wrong end, a fault, the
    /// motor stops by itself, or nothing changes within `movementTimeout`. Always stops.
    private func move(
        _ direction: BoltDirection, _ hardware: LockHardware, _ watch: MoveWatch, movementTimeout: Duration
    ) -> MoveOutcome {
        let target: BoltPosition = direction == .extend ? .extended : .retracted
        let wrongEnd: BoltPosition = direction == .extend ? .retracted : .extended
        let start = (try? hardware.bolt.position()) ?? .between(percent: nil)
        watch.reset(to: start)
        let started = timeline.clock.now
        do {
            try runMotor(direction, hardware)
        } catch {
            stopMotor(hardware)
            return isAborted ? .aborted : .motorFailed(error)
        }
        defer { stopMotor(hardware) }
        let moved = timeline.wait(
            until: { watch.changes > 0 || watch.stopReason != nil || isAborted }, timeout: movementTimeout)
        if isAborted { return .aborted }
        guard moved, watch.changes > 0 else { return .noChange(watch.stopReason) }
        let limit = maximumRun + .seconds(1) - (timeline.clock.now - started)
        _ = timeline.wait(
            until: {
                let position = watch.latest
                if case .fault = position { return true }
                return position == target || (position == wrongEnd && start != wrongEnd)
                    || watch.stopReason != nil || isAborted
            }, timeout: limit)
        stopMotor(hardware)
        if isAborted { return .aborted }
        let position = watch.latest
        if position == target, let reached = watch.firstTime(at: target) {
            return .reached(reached - started)
        }
        if position == wrongEnd && start != wrongEnd { return .wrongWay }
        if case .fault(let why) = position { return .sensorFault(why) }
        return .incomplete(position, watch.stopReason)
    }

    private static func describe(_ direction: BoltDirection) -> String {
        direction == .extend ? "extend (lock)" : "retract (unlock)"
    }

    private static func end(_ direction: BoltDirection) -> String {
        direction == .extend ? "extended" : "retracted"
    }

    private func wrongWay(_ direction: BoltDirection, detail: String) -> SelfTestFinding {
        let in1 = board.motor.in1
        let in2 = board.motor.in2
        return SelfTestFinding(
            .motor, .failed,
            "the bolt moved the wrong way (asked to \(Self.describe(direction)), \(detail))",
            fix:
                "swap IN1/IN2 in the board file (motor.in1/motor.in2: \(in1)/\(in2)), or write `extend: \(board.motor.forwardExtends ? "reverse" : "forward")` under motor, then run the self-test again"
        )
    }

    private func noChange(
        _ direction: BoltDirection, _ reason: MotorStopReason?, within: Duration, otherWayToo: Bool
    ) -> SelfTestFinding {
        let seconds = Double(within.totalMilliseconds) / 1000
        let enable =
            board.motor.enable.map { "the H-bridge enable line (motor.enable: \($0))" }
            ?? "the H-bridge enable (nSLEEP, STBY or EN tied to its supply)"
        var message =
            "no bolt sensor change within \(Self.seconds(seconds)) s of driving the motor to \(Self.describe(direction))"
        if otherWayToo { message += ", nor the other way" }
        if reason == .stall { message += "; the stall input fired" }
        return SelfTestFinding(
            .motor, .failed, message,
            fix:
                "check the motor supply and \(enable), the motor's wires to the driver outputs, and the bolt sensor (\(switchLines))"
        )
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    private func failure(_ outcome: MoveOutcome, _ direction: BoltDirection) -> SelfTestFinding? {
        switch outcome {
        case .reached, .aborted:
            return nil
        case .wrongWay:
            return wrongWay(direction, detail: "the sensor saw it \(Self.end(direction.opposite))")
        case .noChange(let reason):
            return noChange(direction, reason, within: options.noMovementTimeout, otherWayToo: false)
        case .incomplete(let position, let reason):
            var why = ""
            if reason == .maximumRunTime {
                why = " (stopped by motor.max-run-ms, \(board.motor.maxRunMilliseconds) ms)"
            } else if reason == .stall {
                why = " (the stall input fired)"
            }
            return SelfTestFinding(
                .motor, .failed,
                "asked to \(Self.describe(direction)), the bolt started but did not reach the \(Self.end(direction)) end: the sensor says \(position)\(why)",
                fix:
                    "look for a jam or a misaligned strike, and check that the \(Self.end(direction)) end's sensor closes at the end of travel (\(switchLines))"
            )
        case .sensorFault(let why):
            return SelfTestFinding(
                .motor, .failed, "the bolt sensor reported a fault while moving: \(why)",
                fix: "check the bolt sensor's wiring (\(switchLines))")
        case .motorFailed(let error):
            return SelfTestFinding(
                .motor, .failed, "cannot drive the motor: \(error)",
                fix: "check motor.in1, motor.in2 and the enable line in the board file")
        }
    }

    /// With the bolt at an end and no change when driven away from it: drives the other way
    /// briefly. If the bolt then leaves the end, the wiring is reversed; it is driven back.
    private func movesTheOtherWay(_ direction: BoltDirection, _ hardware: LockHardware, _ watch: MoveWatch)
        -> Bool
    {
        let start = (try? hardware.bolt.position()) ?? .between(percent: nil)
        timeline.pause(options.settleTime)
        watch.reset(to: start)
        do {
            try runMotor(direction.opposite, hardware)
        } catch {
            stopMotor(hardware)
            return false
        }
        let moved = timeline.wait(
            until: { watch.changes > 0 || watch.stopReason != nil || isAborted },
            timeout: options.noMovementTimeout)
        stopMotor(hardware)
        guard moved, watch.changes > 0, !isAborted else { return false }
        // Driving the asked direction brings it back, the wiring being reversed.
        timeline.pause(options.settleTime)
        watch.reset(to: watch.latest)
        do {
            try runMotor(direction, hardware)
            _ = timeline.wait(
                until: { watch.latest == start || watch.stopReason != nil || isAborted },
                timeout: maximumRun + .seconds(1))
        } catch {}
        stopMotor(hardware)
        return true
    }

    /// End switches: confirms the direction against the sensors and measures both throws.
    private func jogMotor(_ hardware: LockHardware, _ record: Recorder) -> BoltCalibration? {
        let watch = MoveWatch()
        let timeline = self.timeline
        hardware.bolt.setChangeHandler { event in
            watch.record(event)
            timeline.wake()
        }
        hardware.motor.setStopHandler { reason, _ in
            watch.stopped(reason)
            timeline.wake()
        }
        defer {
            hardware.bolt.setChangeHandler(nil)
            hardware.motor.setStopHandler(nil)
            stopMotor(hardware)
        }
        guard case .switches(let retractedSwitch, let extendedSwitch, _, _) = board.bolt,
            retractedSwitch != nil, extendedSwitch != nil
        else {
            return singleSwitchCheck(hardware, watch, record)
        }
        var position: BoltPosition
        do {
            position = try hardware.bolt.position()
        } catch {
            record.add(.motor, .failed, "cannot read the bolt sensor: \(error)")
            return nil
        }
        if case .between = position {
            record.person.show("Motor: the bolt is between its ends; retracting it to a known end first")
            let outcome = move(.retract, hardware, watch, movementTimeout: maximumRun + .seconds(1))
            guard case .reached = outcome else {
                if case .noChange(let reason) = outcome {
                    record.add(noChange(.retract, reason, within: maximumRun, otherWayToo: false))
                } else if let finding = failure(outcome, .retract) {
                    record.add(finding)
                }
                return nil
            }
            position = .retracted
            timeline.pause(options.settleTime)
        }
        let first: BoltDirection = position == .extended ? .retract : .extend
        var times: [BoltDirection: Duration] = [:]
        for direction in [first, first.opposite] {
            record.person.show(
                "Motor: \(direction == .extend ? "extending (locking)" : "retracting (unlocking)") the bolt")
            let outcome = move(direction, hardware, watch, movementTimeout: options.noMovementTimeout)
            switch outcome {
            case .reached(let time):
                times[direction] = time
                record.person.show("  reached the \(Self.end(direction)) end in \(time.totalMilliseconds) ms")
            case .noChange(let reason):
                // At an end stop, a reversed motor pushes against it: try the other way.
                if direction == first, movesTheOtherWay(direction, hardware, watch) {
                    record.add(
                        wrongWay(
                            direction,
                            detail:
                                "it stayed \(Self.end(direction.opposite)), and asked the other way it left that end"
                        ))
                } else if !isAborted {
                    record.add(
                        noChange(
                            direction, reason, within: options.noMovementTimeout,
                            otherWayToo: direction == first))
                }
                return nil
            default:
                if let finding = failure(outcome, direction) { record.add(finding) }
                return nil
            }
            if direction == first {
                guard person.confirm("Did the bolt just \(Self.describe(direction))?") else {
                    record.add(
                        .motor, .failed,
                        "the end switches say the bolt \(Self.end(direction)) but you saw it go the other way",
                        fix:
                            "both the motor and the switches are reversed: swap motor.in1/motor.in2 and bolt.retracted/bolt.extended in the board file"
                    )
                    return nil
                }
            }
            timeline.pause(options.settleTime)
        }
        guard let lock = times[.extend], let unlock = times[.retract] else { return nil }
        record.add(
            .motor, .passed,
            "the bolt moves the right way: lock throw \(lock.totalMilliseconds) ms, unlock throw \(unlock.totalMilliseconds) ms"
        )
        warnAboutRunLimit(max(lock, unlock), record)
        return BoltCalibration(
            lockThrowMilliseconds: Int(lock.totalMilliseconds),
            unlockThrowMilliseconds: Int(unlock.totalMilliseconds))
    }

    private func warnAboutRunLimit(_ slowest: Duration, _ record: Recorder) {
        let needed = Int(slowest.totalMilliseconds) * BoltCalibration.moveTimeoutFactor
        if needed > board.motor.maxRunMilliseconds {
            record.add(
                .motor, .warning,
                "twice the slowest throw (\(needed) ms) is more than motor.max-run-ms (\(board.motor.maxRunMilliseconds) ms)",
                fix: "raise motor.max-run-ms in the board file to at least \(needed)")
        }
    }

    /// One end switch: only the direction away from it can be confirmed; no throw times.
    private func singleSwitchCheck(_ hardware: LockHardware, _ watch: MoveWatch, _ record: Recorder)
        -> BoltCalibration?
    {
        guard case .switches(let retracted, _, _, _) = board.bolt else { return nil }
        let switchEnd: BoltDirection = retracted != nil ? .retract : .extend
        let atSwitch: BoltPosition = switchEnd == .extend ? .extended : .retracted
        if (try? hardware.bolt.position()) != atSwitch {
            // Bring the bolt to the switch first.
            let outcome = move(switchEnd, hardware, watch, movementTimeout: maximumRun + .seconds(1))
            guard case .reached = outcome else {
                if case .noChange(let reason) = outcome {
                    record.add(noChange(switchEnd, reason, within: maximumRun, otherWayToo: false))
                } else if let finding = failure(outcome, switchEnd) {
                    record.add(finding)
                }
                return nil
            }
            timeline.pause(options.settleTime)
        }
        return confirmAway(from: switchEnd, hardware, watch, record)
    }

    private func confirmAway(
        from switchEnd: BoltDirection, _ hardware: LockHardware, _ watch: MoveWatch, _ record: Recorder
    ) -> BoltCalibration? {
        let away = switchEnd.opposite
        let outcome = move(away, hardware, watch, movementTimeout: options.noMovementTimeout)
        stopMotor(hardware)
        if case .noChange(let reason) = outcome {
            if movesTheOtherWay(away, hardware, watch) {
                record.add(wrongWay(away, detail: "it pushed into the \(Self.end(switchEnd)) end instead"))
            } else if !isAborted {
                record.add(noChange(away, reason, within: options.noMovementTimeout, otherWayToo: true))
            }
            return nil
        }
        // It left the switch: the direction is right. Bring it back.
        timeline.pause(options.settleTime)
        _ = move(switchEnd, hardware, watch, movementTimeout: maximumRun + .seconds(1))
        record.add(
            .motor, .passed, "the bolt leaves the \(Self.end(switchEnd)) switch the right way")
        record.add(
            .motor, .warning, "with one end switch the throw times cannot be measured",
            fix: "fit a switch at the other end, or set move-timeout-ms in the lock config by hand")
        return nil
    }

    // MARK: AS5600

    private struct StillResult {
        var moved: Bool
        var raw: UInt16
        var duration: Duration
    }

    private enum StillOutcome {
        case done(StillResult)
        case failed(SelfTestFinding)
    }

    /// Shortest distance between two raw angles around the circle.
    static func angleDistance(_ a: UInt16, _ b: UInt16) -> Int {
        let difference = abs(Int(a & 0x0FFF) - Int(b & 0x0FFF))
        return min(difference, 4096 - difference)
    }

    /// Drives `direction` until the raw angle stops changing (the bolt at its end stop) or does
    /// not change at all within the no-movement timeout. Always stops.
    private func runUntilStill(
        _ direction: BoltDirection, _ hardware: LockHardware, _ sensor: AS5600BoltSensor, _ stops: MoveWatch
    ) -> StillOutcome {
        var last: UInt16
        do {
            last = try sensor.rawAngle()
        } catch {
            return .failed(SelfTestFinding(.motor, .failed, "cannot read the AS5600: \(error)"))
        }
        stops.reset(to: .between(percent: nil))
        let started = timeline.clock.now
        var lastChange = started
        var moved = false
        var readError: DeviceError?
        do {
            try runMotor(direction, hardware)
        } catch {
            stopMotor(hardware)
            return .failed(
                failure(.motorFailed(error), direction) ?? SelfTestFinding(.motor, .failed, "\(error)"))
        }
        defer { stopMotor(hardware) }
        let noise = 2
        let still = options.stillTime
        let noMovement = options.noMovementTimeout
        let clock = timeline.clock
        _ = timeline.wait(
            until: {
                if isAborted || stops.stopReason != nil { return true }
                let raw: UInt16
                do throws(DeviceError) {
                    raw = try sensor.rawAngle()
                } catch {
                    readError = error
                    return true
                }
                let now = clock.now
                if Self.angleDistance(raw, last) > noise {
                    last = raw
                    lastChange = now
                    moved = true
                }
                return moved ? now - lastChange >= still : now - started >= noMovement
            }, timeout: maximumRun + .seconds(1))
        stopMotor(hardware)
        // The angle at rest (the last changes were within the noise margin).
        if moved, let settled = try? sensor.rawAngle() { last = settled }
        if let readError {
            return .failed(
                SelfTestFinding(.motor, .failed, "cannot read the AS5600 while moving: \(readError)"))
        }
        if moved, stops.stopReason == .maximumRunTime,
            let finding = failure(.incomplete(.between(percent: nil), .maximumRunTime), direction)
        {
            return .failed(finding)
        }
        return .done(StillResult(moved: moved, raw: last, duration: lastChange - started))
    }

    /// AS5600: records the raw angle at both ends and both throw times, checking the
    /// direction against the reference angles (the board file's or the stored ones) or,
    /// without them, by asking.
    private func calibrateAngles(_ hardware: LockHardware, sensor: AS5600BoltSensor, _ record: Recorder)
        -> BoltCalibration?
    {
        let stops = MoveWatch()
        let timeline = self.timeline
        hardware.motor.setStopHandler { reason, _ in
            stops.stopped(reason)
            timeline.wake()
        }
        defer {
            hardware.motor.setStopHandler(nil)
            stopMotor(hardware)
        }
        record.person.show("Motor: moving the bolt to each end to record the AS5600's angles")
        // To the retracted end first (it may be there already), then a timed throw each way.
        var results: [StillResult] = []
        for (index, direction) in [BoltDirection.retract, .extend, .retract].enumerated() {
            record.person.show(
                "Motor: \(direction == .extend ? "extending (locking)" : "retracting (unlocking)") the bolt")
            switch runUntilStill(direction, hardware, sensor, stops) {
            case .failed(let finding):
                if !isAborted { record.add(finding) }
                return nil
            case .done(let result):
                if isAborted { return nil }
                if index > 0 && !result.moved {
                    record.add(
                        noChange(
                            direction, stops.stopReason, within: options.noMovementTimeout, otherWayToo: false
                        ))
                    return nil
                }
                if index > 0 {
                    record.person.show(
                        "  still at raw angle \(result.raw) after \(result.duration.totalMilliseconds) ms")
                }
                results.append(result)
            }
            if direction == .extend {
                let locked = results[1].raw
                if let reference = referenceAngles {
                    let nearUnlocked = Self.angleDistance(locked, UInt16(reference.retracted))
                    let nearLocked = Self.angleDistance(locked, UInt16(reference.extended))
                    if nearUnlocked < nearLocked {
                        record.add(
                            wrongWay(
                                .extend,
                                detail:
                                    "it stopped at raw angle \(locked), the retracted end's \(reference.retracted) (\(reference.source))"
                            ))
                        return nil
                    }
                } else if !person.confirm("Is the bolt now extended (locked)?") {
                    record.add(wrongWay(.extend, detail: "you saw it retract"))
                    return nil
                }
            }
            timeline.pause(options.settleTime)
        }
        let locked = results[1].raw
        let unlocked = results[2].raw
        let span = Self.angleDistance(locked, unlocked)
        guard span >= 40 else {
            record.add(
                .motor, .failed,
                "the magnet barely turns with the bolt: \(span) raw counts between the ends (\(unlocked) and \(locked))",
                fix:
                    "fix the magnet to the bolt's spindle or cam so that it turns with it, centred over the chip"
            )
            return nil
        }
        let lock = results[1].duration
        let unlock = results[2].duration
        record.add(
            .motor, .passed,
            "AS5600 ends: retracted (unlocked) raw \(unlocked), extended (locked) raw \(locked); lock throw \(lock.totalMilliseconds) ms, unlock throw \(unlock.totalMilliseconds) ms"
        )
        if case .as5600(_, _, let fileRetracted?, let fileExtended?) = board.bolt,
            Self.angleDistance(UInt16(fileRetracted), unlocked) > 20
                || Self.angleDistance(UInt16(fileExtended), locked) > 20
        {
            record.add(
                .motor, .warning,
                "the board file's angles (retracted-angle \(fileRetracted), extended-angle \(fileExtended)) differ from the measured ones; the board file's win",
                fix:
                    "write retracted-angle: \(unlocked) and extended-angle: \(locked), or remove both to use the calibration"
            )
        }
        warnAboutRunLimit(max(lock, unlock), record)
        return BoltCalibration(
            lockThrowMilliseconds: Int(lock.totalMilliseconds),
            unlockThrowMilliseconds: Int(unlock.totalMilliseconds),
            lockedAngle: Int(locked), unlockedAngle: Int(unlocked))
    }

    /// The end angles known before this run: the board file's, or else the stored ones.
    private var referenceAngles: (retracted: Int, extended: Int, source: String)? {
        if case .as5600(_, _, let retracted?, let extended?) = board.bolt {
            return (retracted, extended, "the board file")
        }
        if let stored = try? BoltCalibration.load(from: store), let retracted = stored.unlockedAngle,
            let extended = stored.lockedAngle
        {
            return (retracted, extended, "the stored calibration")
        }
        return nil
    }

    // MARK: Calibration

    private func storeCalibration(_ calibration: BoltCalibration?, _ record: Recorder) {
        guard let calibration, calibration.lockThrowMilliseconds != nil,
            calibration.unlockThrowMilliseconds != nil
        else {
            record.add(.calibration, .skipped, "nothing measured to store; any earlier calibration stays")
            return
        }
        record.report.calibration = calibration
        let event = AuditEvent(
            time: wallClock.now, action: .settingsChanged,
            detail: "wiring self-test calibration: \(calibration.summary), by the installer")
        do {
            try store.commit(StoreChange(events: [event], settings: calibration.settings))
        } catch {
            record.add(
                .calibration, .failed, "cannot store the calibration: \(error)",
                fix: "check that the state directory (--state) is writable")
            return
        }
        record.report.calibrationStored = true
        let timeout = calibration.moveTimeoutMilliseconds(for: config)
        let rule =
            config.moveTimeoutIsExplicit
            ? "the lock config's move-timeout-ms (\(timeout) ms) stays in force"
            : "boltd's bolt move timeout becomes \(timeout) ms (at least \(config.moveTimeoutMilliseconds) ms, "
                + "\(BoltCalibration.moveTimeoutFactor)× the slowest throw)"
        record.add(.calibration, .passed, "stored \(calibration.summary); \(rule)")
    }
}

/// Collects findings and passes each to the operator as it is made.
private final class Recorder {
    let person: any SelfTestOperator
    var report = SelfTestReport(findings: [], calibration: nil, calibrationStored: false, interrupted: false)

    init(person: any SelfTestOperator) {
        self.person = person
    }

    func add(_ finding: SelfTestFinding) {
        report.findings.append(finding)
        person.report(finding)
    }

    func add(_ step: SelfTestStep, _ status: SelfTestFinding.Status, _ message: String, fix: String? = nil) {
        add(SelfTestFinding(step, status, message, fix: fix))
    }
}
