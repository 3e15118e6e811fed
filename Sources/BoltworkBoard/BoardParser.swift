import BoltworkHAL
import Foundation
import Yams

/// One mistake in a board file: where, what, and how to fix it.
public struct BoardFileProblem: Sendable, Hashable, CustomStringConvertible {
    /// The file.
    public var file: String
    /// The line in the file (1-based), when known.
    public var line: Int?
    /// The key path (`keypad.rows[2]`).
    public var key: String
    /// What is wrong.
    public var problem: String
    /// What to do.
    public var fix: String

    /// `Boards/rpi4.yaml:14: keypad.rows[2]: line GPIO17 is used twice. Fix: ...`
    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        return "\(location): \(key): \(problem). Fix: \(fix)"
    }
}

/// A board file that cannot be used, with every problem found.
public struct BoardFileError: Error, Sendable, CustomStringConvertible {
    /// The problems, in file order.
    public var problems: [BoardFileProblem]

    /// One problem per line.
    public var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}

extension BoardFile {
    /// Reads and validates a board file.
    public static func load(path: String) throws(BoardFileError) -> BoardFile {
        try parse(
            try BoardReader.readFile(
                path, fix: "check the path given with --board; the board files shipped are in Boards/"),
            file: path)
    }

    /// Parses and validates board-file YAML; `file` names it in messages.
    public static func parse(_ text: String, file: String) throws(BoardFileError) -> BoardFile {
        let reader = BoardReader(file: file)
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw BoardFileError(problems: [
                    reader.problem(nil, "(file)", "the file is empty", "start from Boards/template.yaml")
                ])
            }
            root = node
        } catch let error as BoardFileError {
            throw error
        } catch {
            throw BoardFileError(problems: [
                reader.problem(
                    nil, "(file)", "this is not valid YAML (\(error))", "fix the syntax at the position shown"
                )
            ])
        }
        let board = reader.board(root)
        if let board, reader.problems.isEmpty {
            let issues = BoardValidator.validate(board, file: file, marks: reader.marks)
            if issues.isEmpty { return board }
            throw BoardFileError(problems: issues)
        }
        throw BoardFileError(problems: reader.problems)
    }
}

/// Walks the YAML tree, collecting problems instead of stopping at the first.
final class BoardReader {
    let file: String
    var problems: [BoardFileProblem] = []
    /// Line numbers of keys, for the validator's messages.
    var marks: [String: Int] = [:]

    init(file: String) {
        self.file = file
    }

    /// The text of a YAML file, or a problem naming it and `fix`.
    static func readFile(_ path: String, fix: String) throws(BoardFileError) -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw BoardFileError(problems: [
                BoardFileProblem(
                    file: path, line: nil, key: "(file)",
                    problem: "cannot read the file (\(error.localizedDescription))", fix: fix)
            ])
        }
    }

    func problem(_ node: Node?, _ key: String, _ what: String, _ fix: String) -> BoardFileProblem {
        BoardFileProblem(file: file, line: node?.mark?.line, key: key, problem: what, fix: fix)
    }

    func report(_ node: Node?, _ key: String, _ what: String, _ fix: String) {
        problems.append(problem(node, key, what, fix))
    }

    /// The mapping at `node`, reporting keys outside `allowed`.
    func mapping(_ node: Node?, _ key: String, allowed: [String]) -> [String: Node]? {
        guard let node else { return nil }
        guard let mapping = node.mapping else {
            report(
                node, key, "expected a mapping of keys",
                "write it as `key: value` lines indented under \(key)")
            return nil
        }
        var result: [String: Node] = [:]
        for (name, value) in mapping {
            let text = name.string ?? "?"
            let path = key.isEmpty ? text : "\(key).\(text)"
            marks[path] = name.mark?.line
            if !allowed.contains(text) {
                let near = NearMatch.suggestions(for: text, in: allowed)
                report(
                    name, path, "unknown key '\(text)'",
                    near.isEmpty
                        ? "allowed here: \(allowed.joined(separator: ", "))" : "did you mean '\(near[0])'?")
                continue
            }
            result[text] = value
        }
        return result
    }

    func string(_ node: Node?, _ key: String) -> String? {
        guard let node else { return nil }
        guard let value = node.scalar?.string else {
            report(
                node, key, "expected a single value",
                "write a plain value after `\(key.split(separator: ".").last ?? ""):`")
            return nil
        }
        return value
    }

    func int(_ node: Node?, _ key: String, range: ClosedRange<Int>) -> Int? {
        guard let text = string(node, key) else { return nil }
        let parsed = text.hasPrefix("0x") ? Int(text.dropFirst(2), radix: 16) : Int(text)
        guard let value = parsed, range.contains(value) else {
            report(
                node, key, "'\(text)' is not a number from \(range.lowerBound) to \(range.upperBound)",
                "give a whole number in that range")
            return nil
        }
        return value
    }

    func bool(_ node: Node?, _ key: String) -> Bool? {
        guard let text = string(node, key) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            report(node, key, "'\(text)' is not true or false", "write true or false")
            return nil
        }
    }

    func level(_ node: Node?, _ key: String) -> ActiveLevel? {
        guard let text = string(node, key) else { return nil }
        guard let level = ActiveLevel(rawValue: text) else {
            report(node, key, "'\(text)' is not a level", "write low or high")
            return nil
        }
        return level
    }

    func chip(_ text: String) -> GPIOChipID {
        text.hasPrefix("/") ? .path(text) : .label(text)
    }

    /// `GPIO17`, `17` (an offset), `label/GPIO17`, or `{chip: ..., line: ...}`.
    func line(_ node: Node?, _ key: String) -> BoardLine? {
        guard let node else { return nil }
        if node.mapping != nil {
            guard let fields = mapping(node, key, allowed: ["chip", "line"]) else { return nil }
            guard let lineText = string(fields["line"], "\(key).line") else {
                report(
                    node, key, "a line needs `line:`",
                    "add `line: NAME` (the name gpioinfo shows) or an offset")
                return nil
            }
            return BoardLine(chip: string(fields["chip"], "\(key).chip").map(chip), line: lineID(lineText))
        }
        guard let text = string(node, key) else { return nil }
        if let slash = text.lastIndex(of: "/"), slash != text.startIndex {
            return BoardLine(
                chip: chip(String(text[..<slash])), line: lineID(String(text[text.index(after: slash)...])))
        }
        return BoardLine(line: lineID(text))
    }

    func lineID(_ text: String) -> GPIOLineID {
        if let offset = UInt32(text) { return .offset(offset) }
        return .name(text)
    }

    func lines(_ node: Node?, _ key: String) -> [BoardLine]? {
        guard let node else { return nil }
        guard let sequence = node.sequence else {
            report(node, key, "expected a list of lines", "write [LINE, LINE, ...]")
            return nil
        }
        return sequence.enumerated().compactMap { index, item in line(item, "\(key)[\(index)]") }
    }

    func address(_ node: Node?, _ key: String) -> I2CAddress? {
        guard let value = int(node, key, range: 0x08...0x77) else { return nil }
        return I2CAddress(value)
    }

    func require<T>(_ value: T?, _ parent: Node?, _ key: String, _ fix: String) -> T? {
        if value == nil, problems.allSatisfy({ !$0.key.hasPrefix(key) }) {
            report(parent, key, "missing", fix)
        }
        return value
    }

    // MARK: Sections

    func board(_ root: Node) -> BoardFile? {
        guard
            let top = mapping(
                root, "",
                allowed: ["board", "chip", "keypad", "motor", "bolt", "door", "gauge", "buzzer", "led"])
        else { return nil }
        let name = require(string(top["board"], "board"), root, "board", "add `board: NAME` (for messages)")
        let chipText = require(
            string(top["chip"], "chip"), root, "chip",
            "add `chip: LABEL`, the label `gpiodetect` shows for the header's GPIO chip (never a chip number)"
        )
        let keypad = require(
            keypad(top["keypad"]), root, "keypad", "add a keypad section (see Boards/template.yaml)")
        let motor = require(
            motor(top["motor"]), root, "motor", "add a motor section (see Boards/template.yaml)")
        let bolt = require(bolt(top["bolt"]), root, "bolt", "add a bolt section (see Boards/template.yaml)")
        let door = door(top["door"])
        let gauge = gauge(top["gauge"])
        let buzzer = line(top["buzzer"], "buzzer")
        let led = line(top["led"], "led")
        guard let name, let chipText, let keypad, let motor, let bolt, problems.isEmpty else { return nil }
        return BoardFile(
            name: name, defaultChip: chip(chipText), keypad: keypad, motor: motor, bolt: bolt, door: door,
            gauge: gauge, buzzer: buzzer, led: led)
    }

    func keypad(_ node: Node?) -> KeypadWiring? {
        guard
            let fields = mapping(
                node, "keypad",
                allowed: [
                    "rows", "columns", "keys", "active", "diodes", "columns-mode", "debounce-ms",
                    "column-settle-us",
                ])
        else { return nil }
        let rows = require(lines(fields["rows"], "keypad.rows"), node, "keypad.rows", "list the row lines")
        let columns = require(
            lines(fields["columns"], "keypad.columns"), node, "keypad.columns", "list the column lines")
        var keys: [[Character]]?
        if let keyNode = fields["keys"] {
            if let sequence = keyNode.sequence {
                keys = sequence.enumerated().compactMap { index, item in
                    string(item, "keypad.keys[\(index)]").map(Array.init)
                }
            } else {
                report(
                    keyNode, "keypad.keys", "expected one string per row",
                    "write keys: [\"123\", \"456\", \"789\", \"*0#\"]")
            }
        }
        let mode = string(fields["columns-mode"], "keypad.columns-mode") ?? "open-drain"
        if !["open-drain", "inputs"].contains(mode) {
            report(
                fields["columns-mode"], "keypad.columns-mode", "'\(mode)' is not a column mode",
                "write open-drain or inputs")
        }
        guard let rows, let columns else { return nil }
        let keyMap =
            keys
            ?? (rows.count == 4 && columns.count == 3
                ? ["123", "456", "789", "*0#"].map(Array.init)
                : rows.count == 4 && columns.count == 4
                    ? ["123A", "456B", "789C", "*0#D"].map(Array.init) : nil)
        guard let keyMap else {
            report(
                node, "keypad.keys", "missing for a \(rows.count)×\(columns.count) keypad",
                "list the key characters row by row")
            return nil
        }
        if keyMap.count != rows.count || keyMap.contains(where: { $0.count != columns.count }) {
            report(
                fields["keys"] ?? node, "keypad.keys",
                "the key map is not \(rows.count) rows of \(columns.count) keys",
                "write one string of \(columns.count) characters per row, \(rows.count) rows")
        }
        return KeypadWiring(
            rows: rows, columns: columns, keys: keyMap,
            active: level(fields["active"], "keypad.active") ?? .low,
            hasDiodes: bool(fields["diodes"], "keypad.diodes") ?? false,
            openDrainColumns: mode == "open-drain",
            debounceMilliseconds: int(fields["debounce-ms"], "keypad.debounce-ms", range: 0...200) ?? 5,
            columnSettleMicroseconds: int(
                fields["column-settle-us"], "keypad.column-settle-us", range: 0...100_000) ?? 0)
    }

    func motor(_ node: Node?) -> MotorWiring? {
        guard
            let fields = mapping(
                node, "motor",
                allowed: [
                    "driver", "in1", "in2", "sleep", "standby", "enable", "pwm", "extend", "max-run-ms",
                    "stall",
                ])
        else { return nil }
        var driver: MotorDriverKind?
        if let text = string(fields["driver"], "motor.driver") {
            driver = MotorDriverKind(rawValue: text.lowercased())
            if driver == nil {
                report(
                    fields["driver"], "motor.driver", "unknown driver '\(text)'",
                    "write one of \(MotorDriverKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        } else {
            report(node, "motor.driver", "missing", "add `driver: drv8833`, `tb6612fng` or `l298n`")
        }
        let in1 = require(line(fields["in1"], "motor.in1"), node, "motor.in1", "add `in1: LINE`")
        let in2 = require(line(fields["in2"], "motor.in2"), node, "motor.in2", "add `in2: LINE`")
        let extend = string(fields["extend"], "motor.extend") ?? "forward"
        if !["forward", "reverse"].contains(extend) {
            report(
                fields["extend"], "motor.extend", "'\(extend)' is not a direction", "write forward or reverse"
            )
        }
        var enable: BoardLine?
        var pwm: BoardLine?
        switch driver {
        case .drv8833?:
            enable = line(fields["sleep"], "motor.sleep")
            for key in ["standby", "enable", "pwm"] where fields[key] != nil {
                report(
                    fields[key], "motor.\(key)", "the DRV8833 has no \(key) input",
                    "remove it; the DRV8833 uses in1, in2 and optionally sleep")
            }
        case .tb6612fng?:
            enable = require(
                line(fields["standby"], "motor.standby"), node, "motor.standby", "add `standby: LINE` (STBY)")
            pwm = require(
                line(fields["pwm"], "motor.pwm"), node, "motor.pwm",
                "add `pwm: LINE` (held high for full speed)")
        case .l298n?:
            enable = require(
                line(fields["enable"], "motor.enable"), node, "motor.enable", "add `enable: LINE` (EN)")
        case nil:
            break
        }
        guard let driver, let in1, let in2 else { return nil }
        return MotorWiring(
            driver: driver, in1: in1, in2: in2, enable: enable, pwm: pwm, forwardExtends: extend == "forward",
            maxRunMilliseconds: int(fields["max-run-ms"], "motor.max-run-ms", range: 100...60_000) ?? 8000,
            stall: line(fields["stall"], "motor.stall"))
    }

    func bolt(_ node: Node?) -> BoltSensorWiring? {
        guard
            let fields = mapping(
                node, "bolt",
                allowed: [
                    "sensor", "retracted", "extended", "active", "debounce-ms", "bus", "address",
                    "retracted-angle", "extended-angle",
                ])
        else { return nil }
        let sensor = string(fields["sensor"], "bolt.sensor") ?? "switches"
        switch sensor {
        case "switches":
            let retracted = line(fields["retracted"], "bolt.retracted")
            let extended = line(fields["extended"], "bolt.extended")
            if retracted == nil, extended == nil {
                report(node, "bolt", "no end switch", "add `extended: LINE` and, better, `retracted: LINE`")
                return nil
            }
            return .switches(
                retracted: retracted, extended: extended,
                active: level(fields["active"], "bolt.active") ?? .low,
                debounceMilliseconds: int(fields["debounce-ms"], "bolt.debounce-ms", range: 0...500) ?? 10)
        case "as5600":
            let bus = require(
                int(fields["bus"], "bolt.bus", range: 0...255), node, "bolt.bus",
                "add `bus: N` for /dev/i2c-N")
            let address = address(fields["address"], "bolt.address") ?? I2CAddress(constant: 0x36)
            guard let bus else { return nil }
            return .as5600(
                bus: bus, address: address,
                retractedAngle: int(fields["retracted-angle"], "bolt.retracted-angle", range: 0...4095),
                extendedAngle: int(fields["extended-angle"], "bolt.extended-angle", range: 0...4095))
        default:
            report(fields["sensor"], "bolt.sensor", "unknown sensor '\(sensor)'", "write switches or as5600")
            return nil
        }
    }

    func door(_ node: Node?) -> DoorWiring? {
        guard let fields = mapping(node, "door", allowed: ["contact", "closed", "debounce-ms"]) else {
            return nil
        }
        guard
            let contact = require(
                line(fields["contact"], "door.contact"), node, "door.contact", "add `contact: LINE`")
        else { return nil }
        return DoorWiring(
            line: contact, closedLevel: level(fields["closed"], "door.closed") ?? .low,
            debounceMilliseconds: int(fields["debounce-ms"], "door.debounce-ms", range: 0...1000) ?? 20)
    }

    func gauge(_ node: Node?) -> GaugeWiring? {
        guard let fields = mapping(node, "gauge", allowed: ["type", "bus", "address", "alert", "supply"])
        else {
            return nil
        }
        guard let text = string(fields["type"], "gauge.type") else {
            report(
                node, "gauge.type", "missing",
                "add `type:` with one of \(GaugeKind.allCases.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        guard let kind = GaugeKind(rawValue: text.lowercased()) else {
            report(
                fields["type"], "gauge.type", "unknown gauge '\(text)'",
                "write one of \(GaugeKind.allCases.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        if kind == .powerSupply {
            let supply = require(
                string(fields["supply"], "gauge.supply"), node, "gauge.supply",
                "add `supply: NAME` from /sys/class/power_supply")
            return GaugeWiring(kind: kind, bus: nil, address: nil, alert: nil, supply: supply)
        }
        let bus = require(
            int(fields["bus"], "gauge.bus", range: 0...255), node, "gauge.bus", "add `bus: N` for /dev/i2c-N")
        let fallback = kind == .bq27441 ? I2CAddress(constant: 0x55) : I2CAddress(constant: 0x36)
        return GaugeWiring(
            kind: kind, bus: bus, address: address(fields["address"], "gauge.address") ?? fallback,
            alert: line(fields["alert"], "gauge.alert"), supply: nil)
    }
}
