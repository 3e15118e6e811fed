import BoltworkBoard
import BoltworkDrivers
import BoltworkHAL
import BoltworkLock
import BoltworkSimulation

/// A `--simulate-fault` value that cannot be used.
public struct FaultSpecificationError: Error, Sendable, CustomStringConvertible {
    /// What is wrong and what to write instead.
    public var description: String
}

extension SimulatedBoard.Faults {
    /// Reads fault specifications as `boltd selftest --simulate-fault` takes them:
    /// `swapped-motor` (IN1/IN2 swapped), `dead-key:KEY` (one key's switch broken),
    /// `dead-line:LINE` (a keypad row or column wire cut: every key on it dead) and
    /// `missing-gauge` (nothing answers at the gauge's address).
    public init(specifications: [String], board: BoardFile) throws(FaultSpecificationError) {
        self.init()
        let keypad = board.keypad
        for specification in specifications {
            let parts = specification.split(separator: ":", maxSplits: 1).map(String.init)
            let argument = parts.count == 2 ? parts[1] : ""
            switch parts.first ?? "" {
            case "swapped-motor":
                swappedMotorInputs = true
            case "missing-gauge":
                guard board.gauge != nil else {
                    throw FaultSpecificationError(
                        description: "missing-gauge: the board file \(board.name) has no gauge")
                }
                missingGauge = true
            case "dead-key":
                guard argument.count == 1, let key = argument.first,
                    keypad.keys.contains(where: { $0.contains(key) })
                else {
                    let keys = keypad.keys.map { String($0) }.joined()
                    throw FaultSpecificationError(
                        description: "dead-key needs one key of the key map (\(keys)), as in dead-key:5")
                }
                deadKeys.insert(key)
            case "dead-line":
                if let row = keypad.rows.firstIndex(where: { $0.description == argument }) {
                    deadKeys.formUnion(keypad.keys[row])
                } else if let column = keypad.columns.firstIndex(where: { $0.description == argument }) {
                    deadKeys.formUnion(keypad.keys.map { $0[column] })
                } else {
                    let lines = (keypad.rows + keypad.columns).map(\.description).joined(separator: ", ")
                    throw FaultSpecificationError(
                        description:
                            "dead-line needs a keypad row or column line (\(lines)), as in dead-line:\(keypad.rows.first?.description ?? "ROW0")"
                    )
                }
            default:
                throw FaultSpecificationError(
                    description:
                        "unknown fault '\(specification)': write swapped-motor, dead-key:KEY, dead-line:LINE or missing-gauge"
                )
            }
        }
    }
}

extension WiringSelfTest {
    /// The self-test of `board` built as a simulated board (with `faults` seeded) on virtual
    /// time, with an ``AutomaticOperator`` that presses the prompted keys itself; `confirm`
    /// answers its questions and `output` receives every line it shows.
    public static func simulated(
        board: BoardFile, config: LockConfigFile = LockConfigFile(), faults: SimulatedBoard.Faults = .init(),
        store: any LockStore, wallClock: any WallClock, options: Options = Options(),
        confirm: @escaping @Sendable (String) -> Bool = { _ in true },
        output: @escaping @Sendable (String) -> Void = { _ in }
    ) throws(DeviceError) -> WiringSelfTest {
        let clock = VirtualClock()
        let simulation = try SimulatedBoard(board: board, clock: clock, faults: faults)
        return WiringSelfTest(
            board: board, config: config, gpio: simulation.gpio,
            i2c: { number throws(I2CError) in try simulation.i2cBus(number) },
            timeline: VirtualTimeline(clock: clock), store: store, wallClock: wallClock,
            operator: AutomaticOperator(
                keypad: simulation.keypad, clock: clock, confirm: confirm, output: output),
            options: options)
    }
}
