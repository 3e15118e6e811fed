import BoltworkHAL

/// A board file: which GPIO lines and I2C devices carry each part of the lock.
///
/// Board files are YAML, one per board (Raspberry Pi 4 B, BeagleBone Black, the simulator);
/// `Boards/README.md` documents the schema. They are data, validated at load: every mistake is
/// reported with the file, line, key and fix, and nothing is driven until the file is valid.
public struct BoardFile: Sendable, Hashable {
    /// The board's name, for messages.
    public var name: String
    /// The chip used by lines that do not name their own.
    public var defaultChip: GPIOChipID
    /// The keypad matrix.
    public var keypad: KeypadWiring
    /// The motor driver.
    public var motor: MotorWiring
    /// The bolt-position sensor.
    public var bolt: BoltSensorWiring
    /// The door contact, if fitted.
    public var door: DoorWiring?
    /// The fuel gauge, if fitted.
    public var gauge: GaugeWiring?
    /// The buzzer output, if fitted.
    public var buzzer: BoardLine?
    /// The status LED output, if fitted.
    public var led: BoardLine?
}

/// One GPIO line as a board file names it: a line name or offset, on the board's default chip
/// unless the file names another.
public struct BoardLine: Sendable, Hashable, CustomStringConvertible {
    /// The chip, nil for the board's default chip.
    public var chip: GPIOChipID?
    /// The line.
    public var line: GPIOLineID

    /// Creates a line reference.
    public init(chip: GPIOChipID? = nil, line: GPIOLineID) {
        self.chip = chip
        self.line = line
    }

    /// `GPIO17` or `gpio-32-63/P8_12`.
    public var description: String {
        guard let chip else { return line.description }
        switch chip {
        case .label(let label): return "\(label)/\(line)"
        case .path(let path): return "\(path)/\(line)"
        }
    }
}

/// Electrical level meaning "active" (pressed, closed, on).
public enum ActiveLevel: String, Sendable, Hashable {
    /// Active when low (switch to ground with a pull-up): the usual wiring.
    case low
    /// Active when high.
    case high
}

/// The keypad matrix's wiring.
public struct KeypadWiring: Sendable, Hashable {
    /// Row lines (inputs), top to bottom.
    public var rows: [BoardLine]
    /// Column lines (outputs), left to right.
    public var columns: [BoardLine]
    /// Key characters, one string per row, one character per column.
    public var keys: [[Character]]
    /// Which level a pressed key produces on its row.
    public var active: ActiveLevel
    /// Whether the matrix has a diode per key (true multi-key without ghosts).
    public var hasDiodes: Bool
    /// Inactive columns released (open-drain) rather than switched to inputs.
    public var openDrainColumns: Bool
    /// Debounce after a row edge, in milliseconds.
    public var debounceMilliseconds: Int
    /// Wait between driving a column and reading the rows, in microseconds (the device tree's
    /// `col-scan-delay-us`): for long cables or filtered lines that need time to settle.
    public var columnSettleMicroseconds: Int = 0
}

/// Supported H-bridge drivers.
public enum MotorDriverKind: String, Sendable, Hashable, CaseIterable {
    /// TI DRV8833: IN1, IN2, optional nSLEEP.
    case drv8833
    /// Toshiba TB6612FNG: IN1, IN2, PWM, STBY.
    case tb6612fng
    /// ST L298N: IN1, IN2, EN.
    case l298n
}

/// The motor driver's wiring.
public struct MotorWiring: Sendable, Hashable {
    /// Which chip.
    public var driver: MotorDriverKind
    /// IN1.
    public var in1: BoardLine
    /// IN2.
    public var in2: BoardLine
    /// nSLEEP (DRV8833, optional), STBY (TB6612FNG) or EN (L298N).
    public var enable: BoardLine?
    /// PWM (TB6612FNG).
    public var pwm: BoardLine?
    /// Whether "forward" (IN1 high) extends the bolt; swap when the self-test says the bolt
    /// moved the wrong way.
    public var forwardExtends: Bool
    /// The driver's hard limit on one run, in milliseconds.
    public var maxRunMilliseconds: Int
    /// A stall or fault input, if the board has one.
    public var stall: BoardLine?
}

/// How the bolt's position is sensed.
public enum BoltSensorWiring: Sendable, Hashable, CustomStringConvertible {
    /// End-of-travel switches; either may be absent (single-switch variants), not both.
    case switches(retracted: BoardLine?, extended: BoardLine?, active: ActiveLevel, debounceMilliseconds: Int)
    /// An AS5600 magnetic angle sensor with calibrated raw angles at the two ends.
    case as5600(bus: Int, address: I2CAddress, retractedAngle: Int?, extendedAngle: Int?)

    /// `end switches retracted GPIO17, extended GPIO27 (active low)` or `AS5600 at 0x40 on bus 1`.
    public var description: String {
        switch self {
        case .switches(let retracted, let extended, let active, _):
            let ends = [retracted.map { "retracted \($0)" }, extended.map { "extended \($0)" }].compactMap {
                $0
            }
            return "end switches \(ends.joined(separator: ", ")) (active \(active.rawValue))"
        case .as5600(let bus, let address, let retracted, let extended):
            let calibration =
                retracted != nil && extended != nil ? "calibrated" : "not calibrated (run the self-test)"
            return "AS5600 at \(address) on bus \(bus), \(calibration)"
        }
    }
}

/// The door contact's wiring.
public struct DoorWiring: Sendable, Hashable {
    /// The reed switch line.
    public var line: BoardLine
    /// The level when the door is closed.
    public var closedLevel: ActiveLevel
    /// Debounce in milliseconds.
    public var debounceMilliseconds: Int
}

/// Supported fuel gauges.
public enum GaugeKind: String, Sendable, Hashable, CaseIterable {
    /// MAX17048, one cell.
    case max17048
    /// MAX17049, two cells.
    case max17049
    /// TI BQ27441-G1.
    case bq27441
    /// A kernel power_supply device.
    case powerSupply = "power-supply"
}

/// The fuel gauge's wiring.
public struct GaugeWiring: Sendable, Hashable {
    /// Which gauge.
    public var kind: GaugeKind
    /// I2C bus number (`/dev/i2c-N`); nil for power-supply.
    public var bus: Int?
    /// I2C address; nil for power-supply.
    public var address: I2CAddress?
    /// The ALRT line (MAX1704x), if wired.
    public var alert: BoardLine?
    /// The power_supply name (`BAT0`), for power-supply.
    public var supply: String?

    /// Creates gauge wiring.
    public init(kind: GaugeKind, bus: Int?, address: I2CAddress?, alert: BoardLine?, supply: String?) {
        self.kind = kind
        self.bus = bus
        self.address = address
        self.alert = alert
        self.supply = supply
    }
}
