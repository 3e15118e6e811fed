import BoltworkDrivers
import BoltworkHAL
import BoltworkSimulation

/// A keypad driver scanning a simulated matrix on a simulated chip, on virtual time.
struct KeypadRig {
    let clock = VirtualClock()
    let chip: SimulatedGPIOChip
    let matrix: SimulatedKeypad
    let backend: GPIOKeypadMatrix
    let keypad: MatrixKeypad
    let events = Protected([KeyEvent]())
    let errors = Protected([DeviceError]())

    static let rowNames = ["ROW0", "ROW1", "ROW2", "ROW3"]

    init(
        keyMap: [[Character]] = KeyMap.phone3x4, wiring: GPIOKeypadMatrix.Wiring = .init(),
        options: MatrixKeypad.Options = .init(), diodes: Bool = false
    ) throws {
        let columnNames = keyMap[0].indices.map { "COL\($0)" }
        let gpio = SimulatedGPIO(clock: clock)
        chip = gpio.addChip(label: "sim", lineNames: Self.rowNames + columnNames + ["BUZZER"])
        matrix = try SimulatedKeypad(
            chip: chip, rows: Self.rowNames, columns: columnNames, keyMap: keyMap,
            activeLevel: wiring.activeLevel, hasDiodes: diodes)
        backend = try GPIOKeypadMatrix(
            chip: chip, rows: Self.rowNames.map { .name($0) }, columns: columnNames.map { .name($0) },
            wiring: wiring)
        keypad = try MatrixKeypad(backend: backend, keyMap: keyMap, clock: clock, options: options)
        let events = events
        let errors = errors
        keypad.setKeyHandler { event in events.withLock { $0.append(event) } }
        keypad.setErrorHandler { error in errors.withLock { $0.append(error) } }
        try keypad.start()
    }

    /// The events so far as `"p5"`, `"r5"`, `"s5"` (press, release, stuck).
    var log: [String] {
        events.withLock { events in
            events.map { event in
                switch event.kind {
                case .press: "p\(event.key)"
                case .release: "r\(event.key)"
                case .stuck: "s\(event.key)"
                }
            }
        }
    }

    func instant(_ milliseconds: Int64) -> MonotonicInstant {
        MonotonicInstant(nanoseconds: milliseconds * 1_000_000)
    }
}
