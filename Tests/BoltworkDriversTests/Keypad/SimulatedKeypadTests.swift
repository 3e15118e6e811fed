import BoltworkHAL
import BoltworkSimulation
import Testing

/// The simulated matrix's electrics, checked with plain line requests (no keypad driver).
@Suite("Simulated key matrix")
struct SimulatedKeypadTests {
    let clock = VirtualClock()
    let chip: SimulatedGPIOChip
    let rows: any GPIOLineRequest
    let columns: any GPIOLineRequest

    init() throws {
        chip = SimulatedGPIO(clock: clock).addChip(
            label: "sim", lineNames: ["ROW0", "ROW1", "ROW2", "ROW3", "COL0", "COL1", "COL2"])
        rows = try chip.requestLines(
            (0..<4).map {
                LineConfig(.name("ROW\($0)"), .input(bias: .pullUp, activeLow: true, edges: .both))
            },
            consumer: "test")
        // Push-pull columns, all inactive (driving high): only for probing the model.
        columns = try chip.requestLines(
            (0..<3).map { LineConfig(.name("COL\($0)"), .output(initial: .inactive, activeLow: true)) },
            consumer: "test")
    }

    func matrix(diodes: Bool) throws -> SimulatedKeypad {
        try SimulatedKeypad(
            chip: chip, rows: ["ROW0", "ROW1", "ROW2", "ROW3"], columns: ["COL0", "COL1", "COL2"],
            keyMap: [["1", "2", "3"], ["4", "5", "6"], ["7", "8", "9"], ["*", "0", "#"]], hasDiodes: diodes)
    }

    @Test("a misspelt line name or a mis-sized key map is refused with a helpful error")
    func wiringErrors() {
        let misspelt = #expect(throws: GPIOError.self) {
            try SimulatedKeypad(chip: chip, rows: ["ROWO"], columns: ["COL0"], keyMap: [["1"]])
        }
        #expect(misspelt?.kind == .noSuchLine)
        #expect(misspelt?.description.contains("'ROW0'") == true)
        let missized = #expect(throws: GPIOError.self) {
            try SimulatedKeypad(chip: chip, rows: ["ROW0"], columns: ["COL0"], keyMap: [["1", "2"]])
        }
        #expect(missized?.kind == .invalidArgument)
    }

    @Test("without diodes, pressed keys join rows and columns: the rectangle's fourth corner conducts")
    func ghostWithoutDiodes() throws {
        let matrix = try matrix(diodes: false)
        matrix.press(["1", "2", "4"])
        // Only column 1 (keys 2, 5, 8, 0) is active. Key 5 is up, yet row 1 reads active through
        // 2 -> row 0 -> 1 -> column 0 -> 4 -> row 1.
        try columns.setValues([.inactive, .active, .inactive])
        #expect(try rows.values() == [.active, .active, .inactive, .inactive])
        #expect(matrix.shortCircuitCount == 1, "column 0 drives high into the same group: a short")
    }

    @Test("with diodes, a row follows only its own pressed keys")
    func diodes() throws {
        let matrix = try matrix(diodes: true)
        matrix.press(["1", "2", "4"])
        try columns.setValues([.inactive, .active, .inactive])
        #expect(try rows.values() == [.active, .inactive, .inactive, .inactive])
        try columns.setValues([.active, .inactive, .inactive])
        #expect(try rows.values() == [.active, .active, .inactive, .inactive])
        #expect(matrix.shortCircuitCount == 0)
    }

    @Test("released columns drive nothing; timed taps and bounces run on the chip's clock")
    func timedActions() throws {
        let matrix = try matrix(diodes: false)
        try columns.reconfigure(
            (0..<3).map { _ in .output(initial: .active, activeLow: true, drive: .openDrain) })
        matrix.tap("#", holdFor: .milliseconds(50))
        #expect(try rows.values()[3] == .active)
        clock.advance(by: .milliseconds(50))
        #expect(try rows.values()[3] == .inactive)
        let before = chip.history(of: "ROW2").count
        matrix.bounce("7", transitions: 4, within: .milliseconds(3))
        clock.advance(by: .milliseconds(3))
        let bounces = chip.history(of: "ROW2").dropFirst(before)
        #expect(bounces.map(\.level) == [.low, .high, .low, .high])
        #expect(bounces.map { $0.time.nanoseconds } == [50, 51, 52, 53].map { $0 * 1_000_000 })
        #expect(matrix.pressedKeys.isEmpty, "an even count ends where it started")
        try columns.reconfigure(
            (0..<3).map { _ in .output(initial: .inactive, activeLow: true, drive: .openDrain) })
        matrix.press("7")
        #expect(try rows.values()[2] == .inactive, "no column drives")
        #expect(matrix.shortCircuitCount == 0)
    }
}
