import BoltworkHAL

/// Cross-checks a parsed board file: no line used twice, no two I2C devices at one address on
/// one bus, parts that need each other present.
enum BoardValidator {
    static func validate(_ board: BoardFile, file: String, marks: [String: Int]) -> [BoardFileProblem] {
        var problems: [BoardFileProblem] = []
        func problem(_ key: String, _ what: String, _ fix: String) {
            // The key's own line, else its list's, else its section's (a default like the
            // AS5600's address has no line of its own).
            var path = String(key.prefix { $0 != "[" })
            var line = marks[key] ?? marks[path]
            while line == nil, let dot = path.lastIndex(of: ".") {
                path = String(path[..<dot])
                line = marks[path]
            }
            problems.append(BoardFileProblem(file: file, line: line, key: key, problem: what, fix: fix))
        }

        // Every line once.
        var used: [String: String] = [:]
        for (key, line) in lines(of: board) {
            let chip = line.chip ?? board.defaultChip
            let identity = "\(chip)|\(line.line)"
            if let first = used[identity] {
                problem(key, "line \(line) is already used by \(first)", "give each part its own GPIO line")
            } else {
                used[identity] = key
            }
        }

        // One device per address per bus.
        if case .as5600(let bus, let address, _, _) = board.bolt, let gauge = board.gauge, gauge.bus == bus,
            gauge.address == address
        {
            problem(
                "bolt.address",
                "the AS5600 and the \(gauge.kind.rawValue.uppercased()) are both at \(address) on bus \(bus)",
                "use the AS5600L variant (address 0x40) or put the sensor on another bus")
        }
        if case .as5600(_, _, let retracted?, let extended?) = board.bolt, retracted == extended {
            problem(
                "bolt.extended-angle", "the two calibrated angles are equal",
                "run the calibration again: the magnet may not turn with the bolt")
        }
        if let gauge = board.gauge, gauge.alert != nil, gauge.kind != .max17048, gauge.kind != .max17049 {
            problem("gauge.alert", "only the MAX1704x has an ALRT output", "remove `alert:`")
        }
        return problems
    }

    static func lines(of board: BoardFile) -> [(String, BoardLine)] {
        var result: [(String, BoardLine)] = []
        for (index, line) in board.keypad.rows.enumerated() { result.append(("keypad.rows[\(index)]", line)) }
        for (index, line) in board.keypad.columns.enumerated() {
            result.append(("keypad.columns[\(index)]", line))
        }
        result.append(("motor.in1", board.motor.in1))
        result.append(("motor.in2", board.motor.in2))
        if let line = board.motor.enable { result.append(("motor.enable", line)) }
        if let line = board.motor.pwm { result.append(("motor.pwm", line)) }
        if let line = board.motor.stall { result.append(("motor.stall", line)) }
        if case .switches(let retracted, let extended, _, _) = board.bolt {
            if let retracted { result.append(("bolt.retracted", retracted)) }
            if let extended { result.append(("bolt.extended", extended)) }
        }
        if let door = board.door { result.append(("door.contact", door.line)) }
        if let alert = board.gauge?.alert { result.append(("gauge.alert", alert)) }
        if let buzzer = board.buzzer { result.append(("buzzer", buzzer)) }
        if let led = board.led { result.append(("led", led)) }
        return result
    }
}

extension BoardFile {
    /// Every GPIO line the file names, with the key that names it (`keypad.rows[0]`,
    /// `motor.in1`, `bolt.retracted`), in file order.
    public var namedLines: [(key: String, line: BoardLine)] {
        BoardValidator.lines(of: self).map { (key: $0.0, line: $0.1) }
    }
}
