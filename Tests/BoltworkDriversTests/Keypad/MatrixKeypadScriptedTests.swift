import BoltworkDrivers
import BoltworkHAL
import BoltworkSimulation
import Testing

/// Pin-exact sequences of the scan, against Linux matrix_keypad's order: release every column,
/// then per column activate it, read all rows in one call, release it; re-activate every column
/// to wait for edges.
@Suite("Matrix keypad pin sequences")
struct MatrixKeypadScriptedTests {
    let clock = VirtualClock()
    let a = LineValue.active
    let i = LineValue.inactive

    func keypad(rows: ScriptedLineRequest, columns: ScriptedLineRequest, wiring: GPIOKeypadMatrix.Wiring)
        throws -> (MatrixKeypad, Protected<[KeyEvent]>, Protected<[DeviceError]>)
    {
        let backend = GPIOKeypadMatrix(rows: rows, columns: columns, wiring: wiring)
        let keypad = try MatrixKeypad(backend: backend, keyMap: KeyMap.phone3x4, clock: clock)
        let events = Protected([KeyEvent]())
        let errors = Protected([DeviceError]())
        keypad.setKeyHandler { event in events.withLock { $0.append(event) } }
        keypad.setErrorHandler { error in errors.withLock { $0.append(error) } }
        return (keypad, events, errors)
    }

    func edge(row: Int) -> EdgeEvent {
        EdgeEvent(kind: .rising, index: row, offset: UInt32(row), timestamp: clock.now, sequence: 1)
    }

    /// One pass over three columns in open-drain mode; `rows[c]` is what the rows read while
    /// column c is active.
    func openDrainScan(
        _ columns: ScriptedLineRequest, _ rowRequest: ScriptedLineRequest, rows: [[LineValue]],
        releaseAllFirst: Bool
    ) {
        if releaseAllFirst { columns.expect(.write([i, i, i], at: [0, 1, 2])) }
        for column in 0..<3 {
            columns.expect(.write([a], at: [column]))
            rowRequest.expect(.read(rows[column]))
            columns.expect(.write([i], at: [column]))
        }
    }

    @Test("open-drain columns: idle, one scan that finds 5, a confirmed release, back to idle")
    func openDrainSequence() throws {
        let rows = ScriptedLineRequest(offsets: [0, 1, 2, 3], [])
        let columns = ScriptedLineRequest(offsets: [4, 5, 6], [])
        let (keypad, events, errors) = try keypad(rows: rows, columns: columns, wiring: .init())
        // start(): every column active (one write), then the rows are read back once.
        columns.expect(.write([a, a, a], at: [0, 1, 2]))
        rows.expect(.read([i, i, i, i]))
        try keypad.start()
        try rows.verify()
        try columns.verify()

        // A row edge: 5 ms debounce, then release all, scan columns 0, 1, 2; key 5 is row 1,
        // column 1.
        let nothing = [i, i, i, i]
        let row1 = [i, a, i, i]
        openDrainScan(columns, rows, rows: [nothing, row1, nothing], releaseAllFirst: true)
        rows.emit(edge(row: 1))
        clock.advance(by: .milliseconds(4))
        #expect(events.withLock { $0.isEmpty }, "nothing before the debounce time")
        clock.advance(by: .milliseconds(1))
        try rows.verify()
        try columns.verify()
        #expect(events.withLock { $0 } == [KeyEvent(key: "5", kind: .press, timestamp: instant(5))])

        // 20 ms later the poll sees it released (columns are already released: no extra write);
        // 5 ms later a confirming scan agrees, the release is reported, all columns are
        // re-activated and the rows read back.
        openDrainScan(columns, rows, rows: [nothing, nothing, nothing], releaseAllFirst: false)
        openDrainScan(columns, rows, rows: [nothing, nothing, nothing], releaseAllFirst: false)
        columns.expect(.write([a, a, a], at: [0, 1, 2]))
        rows.expect(.read(nothing))
        clock.advance(by: .milliseconds(25))
        try rows.verify()
        try columns.verify()
        #expect(
            events.withLock { $0 } == [
                KeyEvent(key: "5", kind: .press, timestamp: instant(5)),
                KeyEvent(key: "5", kind: .release, timestamp: instant(30)),
            ])
        #expect(keypad.isIdle)
        #expect(clock.pendingCount == 0)
        #expect(errors.withLock { $0.isEmpty })
    }

    @Test("input mode: inactive columns are switched to inputs, the active one is a push-pull output")
    func inputModeSequence() throws {
        let wiring = GPIOKeypadMatrix.Wiring(activeLevel: .low, inactiveColumns: .inputs)
        let out = LineSettings.output(initial: .active, activeLow: true, drive: .pushPull)
        let input = LineSettings.input(bias: .disabled, activeLow: true)
        #expect(wiring.columnSettings(active: true) == out)
        #expect(wiring.columnSettings(active: false) == input)
        #expect(wiring.rowSettings == .input(bias: .pullUp, activeLow: true, edges: .both, debounce: nil))
        let rows = ScriptedLineRequest(offsets: [0, 1, 2, 3], [])
        let columns = ScriptedLineRequest(offsets: [4, 5, 6], [])
        let (keypad, events, _) = try keypad(rows: rows, columns: columns, wiring: wiring)
        columns.expect(.reconfigure([out, out, out]))
        rows.expect(.read([i, i, i, i]))
        try keypad.start()

        let hash = [i, i, i, a]  // '#' is row 3, column 2
        columns.expect(.reconfigure([input, input, input]))
        for column in 0..<3 {
            columns.expect(.reconfigure((0..<3).map { $0 == column ? out : input }))
            rows.expect(.read(column == 2 ? hash : [i, i, i, i]))
            columns.expect(.reconfigure([input, input, input]))
        }
        rows.emit(edge(row: 3))
        clock.advance(by: .milliseconds(5))
        try rows.verify()
        try columns.verify()
        #expect(events.withLock { $0.map(\.key) } == ["#"])
        keypad.stop()
    }

    @Test("a read error in the middle of a scan is reported, then every column is re-activated")
    func errorMidScan() throws {
        let rows = ScriptedLineRequest(offsets: [0, 1, 2, 3], [])
        let columns = ScriptedLineRequest(offsets: [4, 5, 6], [])
        let (keypad, events, errors) = try keypad(rows: rows, columns: columns, wiring: .init())
        columns.expect(.write([a, a, a], at: [0, 1, 2]))
        rows.expect(.read([i, i, i, i]))
        try keypad.start()

        columns.expect(.write([i, i, i], at: [0, 1, 2]))
        columns.expect(.write([a], at: [0]))
        rows.expect(.read([]), throwing: GPIOError(.io, errno: 5, chip: "/dev/gpiochip0", detail: "scripted"))
        // Column 0 is still active; recovery activates the other two, with no readback (a
        // persistent fault must not become a scanning loop).
        columns.expect(.write([a, a], at: [1, 2]))
        rows.emit(edge(row: 0))
        clock.advance(by: .milliseconds(5))
        try rows.verify()
        try columns.verify()
        let seen = errors.withLock { $0 }
        #expect(seen.count == 1)
        #expect(seen.first?.kind == .hardware)
        #expect(seen.first?.description.contains("cannot read the keypad rows") == true)
        #expect(seen.first?.description.contains("errno 5 EIO") == true)
        #expect(events.withLock { $0.isEmpty })
        #expect(keypad.isIdle)
        #expect(clock.pendingCount == 0)
    }

    func instant(_ milliseconds: Int64) -> MonotonicInstant {
        MonotonicInstant(nanoseconds: milliseconds * 1_000_000)
    }
}
