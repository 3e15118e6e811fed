import BoltworkBoard
import BoltworkHAL
import Foundation
import Testing

/// The board files shipped in Boards/: each one's particulars, and the pins they must leave
/// alone. (`BoardFileTests` loads and validates every file in the folder.)
@Suite("Shipped board files")
struct BoardCatalogTests {
    static func load(_ name: String) throws -> BoardFile {
        try BoardFile.load(path: BoardFileTests.boardsDirectory.appendingPathComponent(name).path)
    }

    /// Every GPIO line a board file uses.
    static func lines(of board: BoardFile) -> [BoardLine] {
        var lines = board.keypad.rows + board.keypad.columns
        lines += [board.motor.in1, board.motor.in2]
        lines += [board.motor.enable, board.motor.pwm, board.motor.stall].compactMap { $0 }
        if case .switches(let retracted, let extended, _, _) = board.bolt {
            lines += [retracted, extended].compactMap { $0 }
        }
        lines += [board.door?.line, board.gauge?.alert, board.buzzer, board.led].compactMap { $0 }
        return lines
    }

    @Test("the boards the README lists are all here")
    func catalog() {
        let expected = [
            "beaglebone-black.yaml", "raspberry-pi-3b.yaml", "raspberry-pi-4b.yaml", "raspberry-pi-5.yaml",
            "raspberry-pi-zero-2w.yaml", "simulator.yaml", "template.yaml",
        ]
        #expect(Set(expected).isSubset(of: BoardFileTests.boardFiles))
    }

    /// GPIO0/1 (the HAT EEPROM), GPIO2/3 (I2C1, the gauge's bus), GPIO7-11 (SPI0) and
    /// GPIO14/15 (the UART).
    static let raspberryPiReserved: Set<UInt32> = [0, 1, 2, 3, 7, 8, 9, 10, 11, 14, 15]

    @Test(
        "Raspberry Pi files keep off the I2C, SPI, UART and ID EEPROM pins",
        arguments: [
            "raspberry-pi-3b.yaml", "raspberry-pi-4b.yaml", "raspberry-pi-5.yaml",
            "raspberry-pi-zero-2w.yaml",
        ])
    func raspberryPiPins(name: String) throws {
        let board = try Self.load(name)
        let numbers = try Self.lines(of: board).map { line -> UInt32 in
            #expect(line.chip == nil, "\(line) is not on the header's chip")
            switch line.line {
            case .offset(let offset): return offset
            case .name(let text):
                return try #require(UInt32(text.dropFirst(4)), "\(text) is not a GPIOn name")
            }
        }
        #expect(numbers.count == 16)
        #expect(Set(numbers).count == numbers.count)
        #expect(Set(numbers).isDisjoint(with: Self.raspberryPiReserved))
        #expect(board.gauge?.bus == 1)
        #expect(board.gauge?.address == I2CAddress(constant: 0x36))
    }

    @Test("the Pi 5 names its chip by label and its lines by offset (the names changed between kernels)")
    func raspberryPi5() throws {
        let board = try Self.load("raspberry-pi-5.yaml")
        #expect(board.defaultChip == .label("pinctrl-rp1"))
        #expect(board.motor.in1.line == .offset(23))
        #expect(board.keypad.rows.map(\.line) == [.offset(5), .offset(6), .offset(13), .offset(19)])
        #expect(Self.lines(of: board).allSatisfy { if case .offset = $0.line { true } else { false } })
    }

    @Test("the Pi 3 B and Zero 2 W are on pinctrl-bcm2835, with names both device trees share")
    func bcm2835Boards() throws {
        for name in ["raspberry-pi-3b.yaml", "raspberry-pi-zero-2w.yaml"] {
            let board = try Self.load(name)
            #expect(board.defaultChip == .label("pinctrl-bcm2835"))
            // The Pi 3 B's device tree calls GPIO4 GPIO_GCLK: the alert is on GPIO21 instead.
            #expect(board.gauge?.alert?.line == .name("GPIO21"))
        }
    }

    /// P8 pins from 19 on (eMMC, LCD data = SYSBOOT straps, HDMI) and P8_3-P8_6 (eMMC); on P9
    /// the I2C, SPI, UART and HDMI-audio pins and the two double-ball pins.
    static func beagleBoneReserved(_ header: String, _ pin: Int) -> Bool {
        switch header {
        case "P8": pin >= 19 || (3...6).contains(pin)
        default: [11, 13, 17, 18, 19, 20, 21, 22, 24, 25, 26, 28, 29, 30, 31, 41, 42].contains(pin)
        }
    }

    @Test("the BeagleBone Black spreads its parts over the four GPIO banks and keeps off boot and bus pins")
    func beagleBoneBlack() throws {
        let board = try Self.load("beaglebone-black.yaml")
        #expect(board.defaultChip == .label("gpio-0-31"))
        #expect((board.keypad.rows + board.keypad.columns).allSatisfy { $0.chip == nil })
        #expect(board.motor.in1 == BoardLine(chip: .label("gpio-32-63"), line: .name("P8_7")))
        #expect(board.door?.line.chip == .label("gpio-64-95"))
        #expect(board.gauge?.alert?.chip == .label("gpio-96-127"))
        #expect(board.gauge?.bus == 2)
        #expect(board.buzzer?.line == .name("P9_16 [ehrpwm1b]"))

        let lines = Self.lines(of: board)
        #expect(lines.count == 16)
        for line in lines {
            guard case .name(let name) = line.line else {
                Issue.record("\(line) is an offset; BeagleBone lines are named after their header pin")
                continue
            }
            let header = String(name.prefix(2))
            let pin = try #require(
                Int(name.dropFirst(3).prefix { $0.isNumber }), "\(name) is not P8_n or P9_n")
            #expect(["P8", "P9"].contains(header))
            #expect(!Self.beagleBoneReserved(header, pin), "\(name) is a boot, eMMC, HDMI or bus pin")
        }
    }

    // MARK: Messages

    static let valid = """
        board: Test
        chip: sim
        keypad:
          rows: [R0, R1, R2, R3]
          columns: [C0, C1, C2]
        motor:
          driver: drv8833
          in1: IN1
          in2: IN2
        bolt:
          retracted: BR
          extended: BE
        """

    /// A mistake, the key it must name, and the line it must point at.
    struct Mistake: Sendable, CustomTestStringConvertible {
        var name: String
        var yaml: String
        var key: String
        var line: Int
        var testDescription: String { name }
    }

    static let mistakes = [
        Mistake(
            name: "a line used twice",
            yaml: valid.replacingOccurrences(of: "extended: BE", with: "extended: IN1"), key: "bolt.extended",
            line: 12),
        Mistake(
            name: "an AS5600 and a MAX17048 both at 0x36 on bus 1",
            yaml: valid.replacingOccurrences(
                of: "bolt:\n  retracted: BR\n  extended: BE",
                with: "bolt:\n  sensor: as5600\n  bus: 1\ngauge:\n  type: max17048\n  bus: 1"),
            key: "bolt.address", line: 10),
        Mistake(
            name: "a missing part",
            yaml: valid.replacingOccurrences(
                of: "motor:\n  driver: drv8833\n  in1: IN1\n  in2: IN2\n", with: ""),
            key: "motor", line: 1),
        Mistake(
            name: "an unknown key",
            yaml: valid.replacingOccurrences(of: "  in2: IN2", with: "  in2: IN2\n  slep: S"),
            key: "motor.slep",
            line: 10),
    ]

    @Test("each mistake is reported alone, naming the file, the line, the key and a fix", arguments: mistakes)
    func message(mistake: Mistake) {
        var problems: [BoardFileProblem] = []
        do {
            _ = try BoardFile.parse(mistake.yaml, file: "Boards/my-board.yaml")
        } catch {
            problems = error.problems
        }
        #expect(problems.count == 1)
        guard let problem = problems.first else { return }
        #expect(problem.key == mistake.key)
        #expect(problem.line == mistake.line)
        #expect(!problem.fix.isEmpty)
        #expect(problem.description.hasPrefix("Boards/my-board.yaml:\(mistake.line): \(mistake.key): "))
        #expect(problem.description.hasSuffix(". Fix: \(problem.fix)"))
    }
}
