import BoltworkHAL

/// A key matrix wired to a ``SimulatedGPIOChip``'s row and column lines, with its electrics:
/// it watches what the columns do and drives the rows accordingly, so a keypad driver scans it
/// exactly as it scans real hardware.
///
/// - With diodes, row r is pulled to the active level when some pressed key (r, c) has its
///   column c actively driving that level.
/// - Without diodes, pressed keys join rows and columns into connected groups, and a row is
///   driven when any column of its group drives the active level. Three keys at the corners of
///   a rectangle therefore make the fourth corner read as pressed: real ghosting, produced by the
///   wiring rather than by a flag.
///
/// A column counts as driving when the chip reports it `.driving(level)`: an input or a released
/// open-drain column drives nothing, and the model holds such a column at the inactive level. Without diodes, a group in which one column drives the
/// active level and another the inactive level is a short circuit between two outputs; the model
/// counts these in ``shortCircuitCount`` so tests can show a driver never causes one.
///
/// Timed actions (``tap(_:holdFor:)``, ``hold(_:for:)``, ``bounce(_:transitions:within:)``,
/// ``type(_:holdFor:gap:)``) are scheduled on the chip's clock.
///
/// ```swift
/// let chip = SimulatedGPIO(clock: clock).addChip(
///     label: "sim", lineNames: ["ROW0", "ROW1", "ROW2", "ROW3", "COL0", "COL1", "COL2"])
/// let keypad = try SimulatedKeypad(
///     chip: chip, rows: ["ROW0", "ROW1", "ROW2", "ROW3"], columns: ["COL0", "COL1", "COL2"],
///     keyMap: [["1", "2", "3"], ["4", "5", "6"], ["7", "8", "9"], ["*", "0", "#"]])
/// keypad.type("1234#")            // one key every 250 ms
/// clock.advance(by: .seconds(2))  // the driver under test scans and reports
/// ```
public final class SimulatedKeypad: Sendable {
    private struct State {
        var pressed: Set<Key> = []
        var broken: Set<Key> = []
        var driven: [PinLevel?]
        var shorted = false
        var shortCircuits = 0
        var observer: UInt64?
    }

    private struct Key: Hashable {
        var row: Int
        var column: Int
    }

    /// The chip the matrix is wired to.
    public let chip: SimulatedGPIOChip
    /// The key map, rows × columns.
    public let keyMap: [[Character]]
    /// The level an active column drives and a closed key passes to its row.
    public let activeLevel: PinLevel
    /// Whether every key has a diode.
    public let hasDiodes: Bool
    private let rowOffsets: [UInt32]
    private let columnOffsets: [UInt32]
    private let state: Protected<State>

    /// Wires a matrix to the lines named `rows` and `columns` on `chip`. Throws `noSuchLine`
    /// (with near matches) for a name the chip does not have, and `invalidArgument` when the key
    /// map is not rows × columns.
    public init(
        chip: SimulatedGPIOChip, rows: [String], columns: [String], keyMap: [[Character]],
        activeLevel: PinLevel = .low, hasDiodes: Bool = false
    ) throws(GPIOError) {
        var rowOffsets: [UInt32] = []
        var columnOffsets: [UInt32] = []
        for name in rows { rowOffsets.append(try chip.resolve(.name(name))) }
        for name in columns { columnOffsets.append(try chip.resolve(.name(name))) }
        guard !rows.isEmpty, !columns.isEmpty, keyMap.count == rows.count,
            keyMap.allSatisfy({ $0.count == columns.count })
        else {
            throw GPIOError(
                .invalidArgument, chip: chip.info.path,
                detail: "the key map has \(keyMap.count) rows of \(keyMap.map(\.count)) keys for "
                    + "\(rows.count) row lines and \(columns.count) column lines")
        }
        self.chip = chip
        self.keyMap = keyMap
        self.activeLevel = activeLevel
        self.hasDiodes = hasDiodes
        self.rowOffsets = rowOffsets
        self.columnOffsets = columnOffsets
        self.state = Protected(State(driven: Array(repeating: nil, count: rows.count)))
        let watched = Set(columnOffsets)
        let token = chip.observe { [weak self] changed in
            guard let self, changed.contains(where: watched.contains) else { return }
            update()
        }
        state.withLock { $0.observer = token }
        // Undriven columns (inputs, released open-drain outputs) rest at the inactive level, so
        // that switching a column between driven and undriven is a visible change.
        for offset in columnOffsets { chip.drive(offset: offset, to: activeLevel.inverted) }
    }

    /// Disconnects the model from the chip: it stops watching and releases the rows.
    public func detach() {
        let token = state.withLock { state -> UInt64? in
            defer {
                state.observer = nil
                state.pressed = []
            }
            return state.observer
        }
        if let token { chip.removeObserver(token) }
        update()
        for offset in columnOffsets { chip.drive(offset: offset, to: nil) }
    }

    deinit {
        if let token = state.withLock({ $0.observer }) { chip.removeObserver(token) }
    }

    // MARK: Keys

    /// The keys held down now.
    public var pressedKeys: Set<Character> {
        state.withLock { state in Set(state.pressed.map { keyMap[$0.row][$0.column] }) }
    }

    /// How many times a connected group began to contain a column driving the active level and
    /// a column driving the inactive level (two outputs shorted through keys).
    public var shortCircuitCount: Int { state.withLock { $0.shortCircuits } }

    /// Presses `key` now (does nothing for a character that is not on the key map).
    public func press(_ key: Character) { press([key]) }

    /// Presses several keys at the same instant.
    public func press(_ keys: [Character]) {
        let positions = keys.compactMap(position(of:))
        state.withLock { state in for position in positions { state.pressed.insert(position) } }
        update()
    }

    /// Releases `key` now.
    public func release(_ key: Character) { release([key]) }

    /// Releases several keys at the same instant.
    public func release(_ keys: [Character]) {
        let positions = keys.compactMap(position(of:))
        state.withLock { state in for position in positions { state.pressed.remove(position) } }
        update()
    }

    /// Breaks `key`'s switch (a cracked contact, a cut trace): pressing it closes nothing, while
    /// the other keys on its row and column keep working. Break every key of a row or column to
    /// model a dead row or column wire.
    public func breakKey(_ key: Character) {
        guard let position = position(of: key) else { return }
        state.withLock { _ = $0.broken.insert(position) }
        update()
    }

    /// Releases every key now.
    public func releaseAll() {
        state.withLock { $0.pressed = [] }
        update()
    }

    /// Presses `key` now and releases it after `duration`.
    public func hold(_ key: Character, for duration: Duration) {
        press(key)
        chip.clock.schedule(after: duration) { [weak self] in self?.release(key) }
    }

    /// A quick press: presses `key` now and releases it after `holdFor` (100 ms by default).
    public func tap(_ key: Character, holdFor: Duration = .milliseconds(100)) {
        hold(key, for: holdFor)
    }

    /// Types `keys` one after the other: each held `holdFor`, with `gap` between a release and
    /// the next press. The first press is now.
    public func type(
        _ keys: String, holdFor: Duration = .milliseconds(100), gap: Duration = .milliseconds(150)
    ) {
        var offset = Duration.zero
        for key in keys {
            chip.clock.schedule(after: offset) { [weak self] in self?.press(key) }
            chip.clock.schedule(after: offset + holdFor) { [weak self] in self?.release(key) }
            offset += holdFor + gap
        }
    }

    /// Toggles the contact of `key` `transitions` times, evenly spaced from now until `within`
    /// later (the first toggle now, the last at `within`): an odd count is a bouncy press (or
    /// release, if the key is down), an even count a glitch that ends where it started.
    public func bounce(_ key: Character, transitions: Int, within: Duration) {
        guard let position = position(of: key), transitions > 0 else { return }
        let spacing = transitions > 1 ? within / (transitions - 1) : .zero
        for index in 0..<transitions {
            let toggle: @Sendable () -> Void = { [weak self] in self?.toggle(position) }
            if index == 0 {
                toggle()
            } else {
                chip.clock.schedule(after: spacing * index, toggle)
            }
        }
    }

    private func toggle(_ position: Key) {
        state.withLock { state in
            if state.pressed.contains(position) {
                state.pressed.remove(position)
            } else {
                state.pressed.insert(position)
            }
        }
        update()
    }

    private func position(of key: Character) -> Key? {
        for (row, keys) in keyMap.enumerated() {
            if let column = keys.firstIndex(of: key) { return Key(row: row, column: column) }
        }
        return nil
    }

    // MARK: Electrics

    /// Recomputes which rows are driven and drives the ones that changed (outside the lock: the
    /// chip calls observers, this one included, while it settles).
    private func update() {
        let columnStates = columnOffsets.map { chip.lineState(offset: $0) }
        let activeColumns = columnStates.map { $0 == .driving(activeLevel) }
        let inactiveColumns = columnStates.map { $0 == .driving(activeLevel.inverted) }
        let changes = state.withLock { state -> [(UInt32, PinLevel?)] in
            let attached = state.observer != nil
            let closed = state.pressed.subtracting(state.broken)
            let rowsActive: [Bool]
            var shorted = false
            if !attached {
                rowsActive = Array(repeating: false, count: rowOffsets.count)
            } else if hasDiodes {
                rowsActive = rowOffsets.indices.map { row in
                    closed.contains { $0.row == row && activeColumns[$0.column] }
                }
            } else {
                // Nodes: rows 0..<R, then columns R..<R+C; each pressed key joins its row and column.
                var groups = UnionFind(count: rowOffsets.count + columnOffsets.count)
                for key in closed { groups.union(key.row, rowOffsets.count + key.column) }
                var active = Set<Int>()
                var inactive = Set<Int>()
                for column in columnOffsets.indices {
                    let root = groups.find(rowOffsets.count + column)
                    if activeColumns[column] { active.insert(root) }
                    if inactiveColumns[column] { inactive.insert(root) }
                }
                shorted = !active.isDisjoint(with: inactive)
                rowsActive = rowOffsets.indices.map { active.contains(groups.find($0)) }
            }
            if shorted && !state.shorted { state.shortCircuits += 1 }
            state.shorted = shorted
            var changes: [(UInt32, PinLevel?)] = []
            for row in rowOffsets.indices {
                let level: PinLevel? = rowsActive[row] ? activeLevel : nil
                if state.driven[row] != level {
                    state.driven[row] = level
                    changes.append((rowOffsets[row], level))
                }
            }
            return changes
        }
        for (offset, level) in changes { chip.drive(offset: offset, to: level) }
    }
}

/// Disjoint sets over `0..<count` with path compression.
private struct UnionFind {
    private var parent: [Int]

    init(count: Int) {
        parent = Array(0..<count)
    }

    mutating func find(_ node: Int) -> Int {
        var root = node
        while parent[root] != root { root = parent[root] }
        var current = node
        while parent[current] != root {
            let next = parent[current]
            parent[current] = root
            current = next
        }
        return root
    }

    mutating func union(_ a: Int, _ b: Int) {
        let rootA = find(a)
        let rootB = find(b)
        if rootA != rootB { parent[rootA] = rootB }
    }
}
