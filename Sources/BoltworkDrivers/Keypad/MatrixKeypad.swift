import BoltworkHAL

/// Key maps for common keypads: rows of characters, top to bottom, each row left to right.
public enum KeyMap {
    /// The 3×4 telephone keypad: 4 rows, 3 columns.
    public static let phone3x4: [[Character]] = [
        ["1", "2", "3"], ["4", "5", "6"], ["7", "8", "9"], ["*", "0", "#"],
    ]
    /// The 4×4 keypad with a column of letters: 4 rows, 4 columns.
    public static let keypad4x4: [[Character]] = [
        ["1", "2", "3", "A"], ["4", "5", "6", "B"], ["7", "8", "9", "C"], ["*", "0", "#", "D"],
    ]
}

/// A matrix keypad of any size, scanned like Linux's `matrix_keypad`: interrupt-driven, so an
/// idle keypad costs nothing.
///
/// - Idle: every column is active and the rows wait for edges; nothing is scheduled on the clock.
/// - A row edge: further edges are ignored, the keypad waits ``Options/debounce``, then scans
///   column by column (activate one, wait ``Options/columnSettleDelay`` if non-zero, read all
///   rows in one call, deactivate) and reports the differences as ``KeyEvent``s stamped with the
///   time the scan started.
/// - While any key is down it scans every ``Options/scanInterval``. A change seen by such a scan
///   is reported only when the next scan, one debounce period later, agrees (so a bouncing
///   release is one release).
/// - When every key is up it activates all columns and returns to waiting for edges.
///
/// Without diodes, three keys at the corners of a rectangle make the fourth read as pressed
/// (ghosting): a scan in which two columns share more than one pressed row is discarded, as
/// Chrome OS's `cros_ec_keyb` does. ``Options/hasDiodes`` allows true multi-key use.
///
/// A key held longer than ``Options/stuckKeyLimit`` is reported once as ``KeyEvent/Kind/stuck``
/// and ignored until it is released; its release is reported. A hardware error during a scan
/// goes to the error handler; keys believed down are reported released (the driver can no
/// longer vouch for them) and the keypad returns to waiting for edges.
///
/// Ownership: the keypad never releases its backend's lines. ``stop()`` ends scanning, turns
/// detection off, deactivates the columns and removes its row handler; the backend's owner
/// releases the lines (``GPIOKeypadMatrix/release()``).
///
/// All callbacks run on the clock, serially.
public final class MatrixKeypad: KeypadDevice {
    /// Timing and matrix options. Units are in the names' documentation, as in the device tree
    /// (`debounce-delay-ms`, `col-scan-delay-us`).
    public struct Options: Sendable, Hashable {
        /// Wait between the first row edge and the scan (device-tree `debounce-delay-ms`), also the
        /// spacing of the confirming scan; 5 ms by default. Zero scans at once, as `matrix_keypad`
        /// does with `debounce-delay-ms = <0>` (for keypads with clean contacts or an RC filter).
        public var debounce: Duration
        /// Wait between activating a column and reading the rows (`col-scan-delay-us`); zero by
        /// default (a userspace GPIO write already takes microseconds).
        public var columnSettleDelay: Duration
        /// Interval between scans while a key is down; 20 ms by default.
        public var scanInterval: Duration
        /// How long a key may stay down before it is reported stuck; 30 s by default.
        public var stuckKeyLimit: Duration
        /// Whether every key has a diode: then any combination of keys is real and no scan is
        /// discarded as ghosting.
        public var hasDiodes: Bool
        /// After a hardware error, how often to retry activating the columns when that failed too
        /// (a removed chip, a loose expander); 1 s by default.
        public var recoveryInterval: Duration

        /// Creates options; the defaults suit a membrane keypad without diodes.
        public init(
            debounce: Duration = .milliseconds(5), columnSettleDelay: Duration = .zero,
            scanInterval: Duration = .milliseconds(20), stuckKeyLimit: Duration = .seconds(30),
            hasDiodes: Bool = false, recoveryInterval: Duration = .seconds(1)
        ) {
            self.debounce = debounce
            self.columnSettleDelay = columnSettleDelay
            self.scanInterval = scanInterval
            self.stuckKeyLimit = stuckKeyLimit
            self.hasDiodes = hasDiodes
            self.recoveryInterval = recoveryInterval
        }
    }

    private enum Phase {
        case stopped
        case idle
        case debouncing
        case scanning
        case polling
        case recovering
    }

    /// A key's position: row and column.
    private struct Position: Hashable {
        var row: Int
        var column: Int
    }

    private struct Held {
        var since: MonotonicInstant
        var stuck: Bool
    }

    private struct State {
        var phase = Phase.stopped
        var generation: UInt64 = 0
        var work: (any ScheduledWork)?
        var held: [Position: Held] = [:]
        var lastRaw: [[Bool]]?
        var scanRaw: [[Bool]] = []
        var scanStart = MonotonicInstant.zero
        var scanAfterEdge = false
        var keyHandler: (@Sendable (KeyEvent) -> Void)?
        var errorHandler: (@Sendable (DeviceError) -> Void)?
        var scans = 0
        var ghostScans = 0
    }

    /// What to deliver once the lock is dropped.
    private struct Outbox {
        enum Item {
            case event(KeyEvent)
            case error(DeviceError)
        }
        var items: [Item] = []

        mutating func send(_ event: KeyEvent) { items.append(.event(event)) }
        mutating func report(_ error: DeviceError) { items.append(.error(error)) }
    }

    /// The device name used in errors.
    public let name: String
    /// The key map, rows × columns.
    public let keyMap: [[Character]]
    /// The options.
    public let options: Options
    private let backend: any KeypadMatrixBackend
    private let clock: any BoltClock
    private let state = Protected(State())

    /// Creates a keypad over `backend` with `keyMap` (rows × columns, matching the backend).
    /// Throws `configuration` for an empty or mis-sized key map, a negative debounce or settle
    /// delay, or a non-positive scan interval, stuck-key limit or recovery interval.
    public init(
        backend: any KeypadMatrixBackend, keyMap: [[Character]] = KeyMap.phone3x4, clock: any BoltClock,
        options: Options = Options(), name: String = "keypad"
    ) throws(DeviceError) {
        let rows = backend.rowCount
        let columns = backend.columnCount
        guard rows > 0, columns > 0 else {
            throw DeviceError(
                .configuration, device: name,
                detail: "a key matrix needs at least one row and one column (got \(rows)×\(columns))")
        }
        guard keyMap.count == rows, keyMap.allSatisfy({ $0.count == columns }) else {
            throw DeviceError(
                .configuration, device: name,
                detail:
                    "the key map has \(keyMap.count) rows of \(keyMap.map(\.count)) keys, but the matrix "
                    + "has \(rows) row lines and \(columns) column lines: give one character per key, "
                    + "one array per row")
        }
        guard options.debounce >= .zero, options.scanInterval > .zero, options.stuckKeyLimit > .zero,
            options.recoveryInterval > .zero, options.columnSettleDelay >= .zero
        else {
            throw DeviceError(
                .configuration, device: name,
                detail:
                    "scan interval, stuck-key limit and recovery interval must be positive, the debounce and "
                    + "settle delay not negative")
        }
        self.backend = backend
        self.keyMap = keyMap
        self.clock = clock
        self.options = options
        self.name = name
    }

    // MARK: Public API

    /// Installs the function that receives key events, on the clock.
    public func setKeyHandler(_ handler: (@Sendable (KeyEvent) -> Void)?) {
        state.withLock { $0.keyHandler = handler }
    }

    /// Installs the function told about hardware errors during scanning, on the clock.
    public func setErrorHandler(_ handler: (@Sendable (DeviceError) -> Void)?) {
        state.withLock { $0.errorHandler = handler }
    }

    /// How many scans have run since creation (discarded ones included).
    public var scanCount: Int { state.withLock { $0.scans } }

    /// How many scans were discarded as ghosting.
    public var ghostScanCount: Int { state.withLock { $0.ghostScans } }

    /// The keys reported down now (stuck keys included).
    public var pressedKeys: Set<Character> {
        state.withLock { state in Set(state.held.keys.map { keyMap[$0.row][$0.column] }) }
    }

    /// Whether the keypad is waiting for edges with nothing scheduled.
    public var isIdle: Bool { state.withLock { $0.phase == .idle && $0.work == nil } }

    /// Activates all columns and waits for key presses. If a key is already down, a scan
    /// follows after the debounce time. Starting a started keypad does nothing.
    public func start() throws(DeviceError) {
        let result = state.withLock { state -> Result<Outbox, DeviceError> in
            guard state.phase == .stopped else { return .success(Outbox()) }
            state.generation &+= 1
            state.held = [:]
            state.lastRaw = nil
            backend.setRowChangeHandler { [weak self] in self?.rowChanged() }
            var outbox = Outbox()
            do throws(DeviceError) {
                try enterIdle(&state, &outbox, readBack: true)
            } catch {
                state.phase = .stopped
                backend.setRowChangeHandler(nil)
                return .failure(error)
            }
            return .success(outbox)
        }
        switch result {
        case .success(let outbox): deliver(outbox)
        case .failure(let error): throw error
        }
    }

    /// Stops scanning: cancels scheduled work, turns detection off, deactivates the columns and
    /// removes the row handler. Keys down are forgotten without events. Releases no lines (see
    /// the type's ownership note). A GPIO error while deactivating goes to the error handler.
    public func stop() {
        let outbox = state.withLock { state -> Outbox in
            guard state.phase != .stopped else { return Outbox() }
            state.generation &+= 1
            state.work?.cancel()
            state.work = nil
            state.phase = .stopped
            state.held = [:]
            state.lastRaw = nil
            backend.setRowChangeHandler(nil)
            var outbox = Outbox()
            do throws(DeviceError) {
                try backend.setDetectMode(false)
                try backend.deactivateAllColumns()
            } catch {
                outbox.report(error)
            }
            return outbox
        }
        deliver(outbox)
    }

    // MARK: State machine (runs with the lock held; delivers after)

    private func perform(_ body: (inout State, inout Outbox) -> Void) {
        let outbox = state.withLock { state -> Outbox in
            var outbox = Outbox()
            body(&state, &outbox)
            return outbox
        }
        deliver(outbox)
    }

    private func deliver(_ outbox: Outbox) {
        guard !outbox.items.isEmpty else { return }
        let (keyHandler, errorHandler) = state.withLock { ($0.keyHandler, $0.errorHandler) }
        for item in outbox.items {
            switch item {
            case .event(let event): keyHandler?(event)
            case .error(let error): errorHandler?(error)
            }
        }
    }

    /// Schedules `body` after `delay`, unless the keypad moved on (stopped, recovered) first.
    private func schedule(
        _ state: inout State, after delay: Duration,
        _ body: @escaping @Sendable (inout State, inout Outbox) -> Void
    ) {
        let generation = state.generation
        state.work = clock.schedule(after: delay) { [weak self] in
            self?.perform { state, outbox in
                guard state.generation == generation else { return }
                state.work = nil
                body(&state, &outbox)
            }
        }
    }

    private func enterIdle(_ state: inout State, _ outbox: inout Outbox, readBack: Bool) throws(DeviceError) {
        state.phase = .idle
        state.work = nil
        state.lastRaw = nil
        try backend.activateAllColumns()
        try backend.setDetectMode(true)
        // Closes the window between the last scan and detection coming back on: a key that went
        // down in between raised its edge while edges were ignored.
        if readBack, try backend.readRows().contains(true) {
            beginDebounce(&state, &outbox)
        }
    }

    private func rowChanged() {
        perform { state, outbox in
            guard state.phase == .idle else { return }
            beginDebounce(&state, &outbox)
        }
    }

    private func beginDebounce(_ state: inout State, _ outbox: inout Outbox) {
        state.phase = .debouncing
        do throws(DeviceError) {
            try backend.setDetectMode(false)
        } catch {
            outbox.report(error)
        }
        schedule(&state, after: options.debounce) { [self] state, outbox in
            beginScan(&state, &outbox, afterEdge: true)
        }
    }

    private func beginScan(_ state: inout State, _ outbox: inout Outbox, afterEdge: Bool) {
        state.phase = .scanning
        state.scans += 1
        state.scanStart = clock.now
        state.scanAfterEdge = afterEdge
        state.scanRaw = []
        do throws(DeviceError) {
            try backend.deactivateAllColumns()
        } catch {
            fail(&state, &outbox, error)
            return
        }
        beginColumn(&state, &outbox, 0)
    }

    private func beginColumn(_ state: inout State, _ outbox: inout Outbox, _ column: Int) {
        do throws(DeviceError) {
            try backend.driveColumn(column)
        } catch {
            fail(&state, &outbox, error)
            return
        }
        if options.columnSettleDelay > .zero {
            schedule(&state, after: options.columnSettleDelay) { [self] state, outbox in
                finishColumn(&state, &outbox, column)
            }
        } else {
            finishColumn(&state, &outbox, column)
        }
    }

    private func finishColumn(_ state: inout State, _ outbox: inout Outbox, _ column: Int) {
        do throws(DeviceError) {
            let rows = try backend.readRows()
            try backend.deactivateAllColumns()
            state.scanRaw.append(rows)
        } catch {
            fail(&state, &outbox, error)
            return
        }
        if column + 1 < backend.columnCount {
            beginColumn(&state, &outbox, column + 1)
        } else {
            completeScan(&state, &outbox)
        }
    }

    private func completeScan(_ state: inout State, _ outbox: inout Outbox) {
        // scanRaw is column-major: scanRaw[column][row].
        let raw = state.scanRaw
        state.phase = .polling
        if !options.hasDiodes && Self.hasGhosting(raw) {
            state.ghostScans += 1
            schedulePoll(&state, after: options.scanInterval)
            return
        }
        let confirmed = state.scanAfterEdge || state.lastRaw == raw
        state.lastRaw = raw
        guard confirmed else {
            schedulePoll(&state, after: options.debounce)
            return
        }
        report(raw, &state, &outbox)
        if raw.allSatisfy({ !$0.contains(true) }) {
            do throws(DeviceError) {
                try enterIdle(&state, &outbox, readBack: true)
            } catch {
                fail(&state, &outbox, error)
            }
        } else {
            schedulePoll(&state, after: options.scanInterval)
        }
    }

    private func schedulePoll(_ state: inout State, after delay: Duration) {
        schedule(&state, after: delay) { [self] state, outbox in
            beginScan(&state, &outbox, afterEdge: false)
        }
    }

    private func report(_ raw: [[Bool]], _ state: inout State, _ outbox: inout Outbox) {
        let now = state.scanStart
        var down: [Position] = []
        for (column, rows) in raw.enumerated() {
            for (row, pressed) in rows.enumerated() where pressed {
                down.append(Position(row: row, column: column))
            }
        }
        let downSet = Set(down)
        for position in state.held.keys.sorted(by: Self.order) where !downSet.contains(position) {
            state.held[position] = nil
            outbox.send(KeyEvent(key: key(at: position), kind: .release, timestamp: now))
        }
        for position in down.sorted(by: Self.order) {
            if var held = state.held[position] {
                if !held.stuck && now - held.since >= options.stuckKeyLimit {
                    held.stuck = true
                    state.held[position] = held
                    outbox.send(KeyEvent(key: key(at: position), kind: .stuck, timestamp: now))
                }
            } else {
                state.held[position] = Held(since: now, stuck: false)
                outbox.send(KeyEvent(key: key(at: position), kind: .press, timestamp: now))
            }
        }
    }

    /// Reports the error, releases the keys believed down and returns to waiting for edges. Does
    /// not read the rows back: a persistent fault must not turn into a scanning loop; the next
    /// edge starts a fresh scan.
    private func fail(_ state: inout State, _ outbox: inout Outbox, _ error: DeviceError) {
        outbox.report(error)
        state.generation &+= 1
        state.work?.cancel()
        state.work = nil
        let now = clock.now
        for position in state.held.keys.sorted(by: Self.order) {
            outbox.send(KeyEvent(key: key(at: position), kind: .release, timestamp: now))
        }
        state.held = [:]
        do throws(DeviceError) {
            try enterIdle(&state, &outbox, readBack: false)
        } catch {
            outbox.report(
                DeviceError(
                    error.kind, device: name,
                    detail: "cannot return to waiting for keys (retrying every "
                        + "\(options.recoveryInterval)): \(error.detail)",
                    underlying: error.underlying))
            retryIdle(&state)
        }
    }

    /// Retries activating the columns until it works, quietly (the first failure was reported).
    private func retryIdle(_ state: inout State) {
        state.phase = .recovering
        schedule(&state, after: options.recoveryInterval) { [self] state, outbox in
            do throws(DeviceError) {
                try enterIdle(&state, &outbox, readBack: true)
            } catch {
                retryIdle(&state)
            }
        }
    }

    private func key(at position: Position) -> Character {
        keyMap[position.row][position.column]
    }

    private static func order(_ a: Position, _ b: Position) -> Bool {
        (a.row, a.column) < (b.row, b.column)
    }

    /// Whether two columns share more than one pressed row (`raw[column][row]`).
    static func hasGhosting(_ raw: [[Bool]]) -> Bool {
        for first in raw.indices {
            for second in raw.indices where second > first {
                let shared = zip(raw[first], raw[second]).filter { $0 && $1 }.count
                if shared > 1 { return true }
            }
        }
        return false
    }
}
