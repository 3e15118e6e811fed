import BoltworkBoard
import BoltworkHAL
import Foundation
import Testing

@Suite("Board files")
struct BoardFileTests {
    static let boardsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Boards")

    static var boardFiles: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: boardsDirectory.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted()
    }

    @Test("there are board files to check")
    func boardsExist() {
        #expect(Self.boardFiles.contains("simulator.yaml"))
        #expect(Self.boardFiles.contains("raspberry-pi-4b.yaml"))
    }

    @Test("every board file in Boards/ loads and validates", arguments: boardFiles)
    func loads(name: String) throws {
        let board = try BoardFile.load(path: Self.boardsDirectory.appendingPathComponent(name).path)
        #expect(!board.name.isEmpty)
        #expect(board.keypad.keys.count == board.keypad.rows.count)
    }

    @Test("the simulator board is read as written")
    func simulator() throws {
        let board = try BoardFile.load(
            path: Self.boardsDirectory.appendingPathComponent("simulator.yaml").path)
        #expect(board.defaultChip == .label("boltwork-sim"))
        #expect(board.keypad.rows.map(\.description) == ["ROW0", "ROW1", "ROW2", "ROW3"])
        #expect(board.keypad.keys[3] == ["*", "0", "#"])
        #expect(board.motor.driver == .drv8833)
        #expect(board.motor.enable?.line == .name("MOTOR_SLEEP"))
        #expect(
            board.bolt
                == .switches(
                    retracted: BoardLine(line: .name("BOLT_RETRACTED")),
                    extended: BoardLine(line: .name("BOLT_EXTENDED")), active: .low, debounceMilliseconds: 10)
        )
        #expect(
            board.gauge
                == GaugeWiring(
                    kind: .max17048, bus: 1, address: I2CAddress(constant: 0x36),
                    alert: BoardLine(line: .name("GAUGE_ALERT")), supply: nil))
    }

    func problems(_ yaml: String) -> [BoardFileProblem] {
        do {
            _ = try BoardFile.parse(yaml, file: "test.yaml")
            return []
        } catch {
            return error.problems
        }
    }

    let valid = """
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

    @Test("a minimal file gets the documented defaults")
    func defaults() throws {
        let board = try BoardFile.parse(valid, file: "test.yaml")
        #expect(board.keypad.keys.map { String($0) } == ["123", "456", "789", "*0#"])
        #expect(board.keypad.debounceMilliseconds == 5)
        #expect(board.keypad.columnSettleMicroseconds == 0)
        #expect(board.keypad.openDrainColumns)
        #expect(board.motor.forwardExtends)
        #expect(board.motor.maxRunMilliseconds == 8000)
        #expect(board.door == nil)
    }

    @Test("the column settle time is read in microseconds; a value out of range names the key")
    func columnSettle() throws {
        let keypad = "  columns: [C0, C1, C2]"
        let board = try BoardFile.parse(
            valid.replacingOccurrences(of: keypad, with: keypad + "\n  column-settle-us: 250"),
            file: "test.yaml")
        #expect(board.keypad.columnSettleMicroseconds == 250)
        let found = problems(
            valid.replacingOccurrences(of: keypad, with: keypad + "\n  column-settle-us: -1"))
        #expect(found.map(\.key) == ["keypad.column-settle-us"])
    }

    @Test("the real-kernel tier's board and lock config for boltd load")
    func kernelTierBoard() throws {
        let directory = Self.boardsDirectory.deletingLastPathComponent()
            .appendingPathComponent("scripts/kernel-tier/boards")
        let board = try BoardFile.load(path: directory.appendingPathComponent("boltd.yaml").path)
        #expect(board.defaultChip == .label("boltwork-sim"))
        #expect(board.keypad.columnSettleMicroseconds == 10_000)
        #expect(board.keypad.openDrainColumns)
        let config = try LockConfigFile.load(path: directory.appendingPathComponent("boltd-lock.yaml").path)
        #expect(config.autoRelockSeconds == 2)
    }

    @Test("a line used twice names both uses, the file and the line number")
    func lineTwice() {
        let found = problems(valid.replacingOccurrences(of: "extended: BE", with: "extended: IN1"))
        #expect(found.count == 1)
        #expect(found.first?.key == "bolt.extended")
        #expect(found.first?.problem == "line IN1 is already used by motor.in1")
        #expect(found.first?.description.hasPrefix("test.yaml:") == true)
        #expect(found.first?.line != nil)
    }

    @Test("the same name on another chip is a different line")
    func otherChip() {
        #expect(problems(valid.replacingOccurrences(of: "extended: BE", with: "extended: aux/IN1")).isEmpty)
    }

    @Test("unknown keys suggest the right one")
    func unknownKey() {
        let found = problems(
            valid.replacingOccurrences(of: "  in2: IN2", with: "  in2: IN2\n  max-run: 5000"))
        #expect(found.map(\.key) == ["motor.max-run"])
        #expect(found.first?.fix == "did you mean 'max-run-ms'?")
        #expect(found.first?.line == 10)
    }

    @Test("missing parts and wrong values are all reported at once")
    func several() {
        let yaml = """
            board: Broken
            chip: sim
            keypad:
              rows: [R0, R1]
              columns: [C0, C1]
              keys: ["12", "345"]
            motor:
              driver: drv9999
              in1: IN1
            """
        let found = problems(yaml)
        #expect(Set(found.map(\.key)) == ["keypad.keys", "motor.driver", "motor.in2", "bolt"])
        #expect(found.first { $0.key == "motor.driver" }?.fix.contains("drv8833") == true)
    }

    @Test("an AS5600 and a MAX17048 at 0x36 on one bus conflict; the AS5600L address fixes it")
    func addressConflict() {
        let yaml = valid.replacingOccurrences(
            of: "bolt:\n  retracted: BR\n  extended: BE",
            with: "bolt:\n  sensor: as5600\n  bus: 1\ngauge:\n  type: max17048\n  bus: 1")
        let found = problems(yaml)
        #expect(found.map(\.key) == ["bolt.address"])
        #expect(found.first?.fix.contains("AS5600L") == true)
        #expect(
            problems(yaml.replacingOccurrences(of: "bus: 1\ngauge", with: "bus: 1\n  address: 0x40\ngauge"))
                .isEmpty)
    }

    @Test("not YAML, an empty file and a missing file say so")
    func unreadable() {
        #expect(problems("board: [unclosed").first?.problem.contains("not valid YAML") == true)
        #expect(problems("").first?.problem == "the file is empty")
        #expect(throws: BoardFileError.self) { try BoardFile.load(path: "/nonexistent/board.yaml") }
    }

    @Test("TB6612FNG needs standby and pwm; DRV8833 refuses inputs it does not have")
    func profiles() {
        let tb = problems(valid.replacingOccurrences(of: "driver: drv8833", with: "driver: tb6612fng"))
        #expect(Set(tb.map(\.key)) == ["motor.standby", "motor.pwm"])
        let drv = problems(valid.replacingOccurrences(of: "  in2: IN2", with: "  in2: IN2\n  pwm: P"))
        #expect(drv.map(\.key) == ["motor.pwm"])
    }
}
