import BoltworkDrivers
import BoltworkHAL
import BoltworkSimulation

/// A whole lock in simulation, built from a board file: simulated GPIO chips carrying exactly
/// the lines the file names, a pressable keypad, a bolt mechanism that moves when the motor
/// lines say so and drives the end switches and the door contact, and a battery with its fuel
/// gauge on a simulated I2C bus. The real drivers run on top (``hardware()``), so what runs in
/// the simulator and in tests is the code that runs on a board.
public final class SimulatedBoard: Sendable {
    /// The board file.
    public let board: BoardFile
    /// The clock everything runs on.
    public let clock: any BoltClock
    /// The simulated GPIO chips.
    public let gpio: SimulatedGPIO
    /// The keypad matrix you can press.
    public let keypad: SimulatedKeypad
    /// The bolt mechanism (jam, misalign, turn by hand, open the door, cut power).
    public let mechanism: SimulatedLockMechanism
    /// The battery (drain, charge, loads).
    public let battery: SimulatedBattery
    /// The simulated I2C buses by number.
    public let buses: [Int: SimulatedI2CBus]
    /// The AS5600 on the bolt's spindle, when the board file uses one.
    public let angleSensor: SimulatedAS5600?
    /// The wiring faults seeded into this board.
    public let faults: Faults

    /// Wiring mistakes to build into a simulated board, so that the wiring self-test and other
    /// diagnostics can be shown to find them.
    public struct Faults: Sendable, Hashable {
        /// IN1 and IN2 are swapped between the board and the H-bridge: the bolt moves the
        /// other way from what the board file says.
        public var swappedMotorInputs: Bool
        /// Keys whose switch is broken: pressing them closes nothing (all keys of a row or
        /// column: a dead row or column wire).
        public var deadKeys: Set<Character>
        /// The fuel gauge is not on its bus (unpowered, unsoldered, another address).
        public var missingGauge: Bool

        /// No faults, or the given ones.
        public init(
            swappedMotorInputs: Bool = false, deadKeys: Set<Character> = [], missingGauge: Bool = false
        ) {
            self.swappedMotorInputs = swappedMotorInputs
            self.deadKeys = deadKeys
            self.missingGauge = missingGauge
        }
    }

    /// The raw angles the simulated AS5600 reads at the bolt's ends when the board file gives
    /// none (an uncalibrated sensor, as a new build has).
    public static let defaultAngles = (retracted: 1100, extended: 2300)

    /// Builds the simulated hardware for `board`. The board must keep the keypad, motor,
    /// switches and door on one chip. The bolt sensor is end switches or an AS5600 (whose
    /// magnet turns with the bolt). `faults` seeds wiring mistakes. `travelTime` is the bolt's
    /// full stroke (1.5 s by default, a typical motorised deadbolt).
    public init(
        board: BoardFile, clock: any BoltClock, batteryPercent: Double = 80, faults: Faults = Faults(),
        travelTime: Duration = .milliseconds(1500)
    ) throws(DeviceError) {
        self.board = board
        self.clock = clock
        self.faults = faults
        let gpio = SimulatedGPIO(clock: clock)
        self.gpio = gpio
        // One simulated chip per chip the file names, with its lines in file order.
        var linesByChip: [GPIOChipID: [String]] = [:]
        var order: [GPIOChipID] = []
        for (_, line) in BoardValidator.lines(of: board) {
            let id = line.chip ?? board.defaultChip
            guard case .name(let name) = line.line else {
                throw DeviceError(
                    .configuration, device: "simulator",
                    detail: "line \(line) is an offset; simulated boards need line names")
            }
            if linesByChip[id] == nil { order.append(id) }
            linesByChip[id, default: []].append(name)
        }
        var chips: [GPIOChipID: SimulatedGPIOChip] = [:]
        for (index, id) in order.enumerated() {
            let label: String
            let path: String?
            switch id {
            case .label(let text):
                label = text
                path = nil
            case .path(let text):
                label = "simulated-\(index)"
                path = text
            }
            chips[id] = gpio.addChip(label: label, lineNames: linesByChip[id] ?? [], path: path)
        }
        guard let main = chips[board.defaultChip] else {
            throw DeviceError(
                .configuration, device: "simulator",
                detail: "no line is on the default chip \(board.defaultChip)")
        }

        func name(_ line: BoardLine?) -> String? {
            guard let line, case .name(let text) = line.line else { return nil }
            return text
        }
        do throws(GPIOError) {
            keypad = try SimulatedKeypad(
                chip: main, rows: board.keypad.rows.compactMap(name),
                columns: board.keypad.columns.compactMap(name),
                keyMap: board.keypad.keys, activeLevel: board.keypad.active == .low ? .low : .high,
                hasDiodes: board.keypad.hasDiodes)
        } catch {
            throw DeviceError(
                .configuration, device: "simulator", detail: "cannot wire the keypad", underlying: error)
        }
        for key in faults.deadKeys { keypad.breakKey(key) }

        var retracted: BoardLine?
        var extended: BoardLine?
        var active = ActiveLevel.low
        if case .switches(let retractedLine, let extendedLine, let level, _) = board.bolt {
            retracted = retractedLine
            extended = extendedLine
            active = level
        }
        // Swapped inputs: the bridge's IN1 pin is on the line the board file calls in2.
        let in1 = name(faults.swappedMotorInputs ? board.motor.in2 : board.motor.in1) ?? ""
        let in2 = name(faults.swappedMotorInputs ? board.motor.in1 : board.motor.in2) ?? ""
        let bridge: SimulatedBridgeWiring
        switch board.motor.driver {
        case .drv8833: bridge = .drv8833(in1: in1, in2: in2, sleep: name(board.motor.enable))
        case .tb6612fng:
            bridge = .tb6612fng(
                in1: in1, in2: in2, pwm: name(board.motor.pwm) ?? "", standby: name(board.motor.enable) ?? "")
        case .l298n: bridge = .l298n(in1: in1, in2: in2, enable: name(board.motor.enable) ?? "")
        }
        do throws(GPIOError) {
            mechanism = try SimulatedLockMechanism(
                chip: main,
                configuration: SimulatedLockMechanism.Configuration(
                    bridge: bridge, forwardExtends: board.motor.forwardExtends, travelTime: travelTime,
                    retractedSwitch: name(retracted),
                    extendedSwitch: name(extended), switchClosedLevel: active == .low ? .low : .high,
                    doorContact: name(board.door?.line),
                    doorClosedLevel: board.door?.closedLevel == .high ? .high : .low))
        } catch {
            throw DeviceError(
                .configuration, device: "simulator", detail: "cannot wire the mechanism", underlying: error)
        }

        battery = SimulatedBattery(
            clock: clock, capacityMilliampHours: 2000, stateOfCharge: batteryPercent, baseLoadMilliamps: 2)
        let battery = self.battery
        mechanism.onLoadChange = { milliamps in battery.setLoad(milliamps: Double(milliamps), source: "motor")
        }

        var buses: [Int: SimulatedI2CBus] = [:]
        func bus(_ number: Int) -> SimulatedI2CBus {
            if let existing = buses[number] { return existing }
            let created = SimulatedI2CBus(name: "/dev/i2c-\(number)")
            buses[number] = created
            return created
        }
        if case .as5600(let number, let address, let retractedAngle, let extendedAngle) = board.bolt {
            let sensor = SimulatedAS5600()
            mechanism.attach(
                sensor, retractedRaw: UInt16(retractedAngle ?? Self.defaultAngles.retracted),
                extendedRaw: UInt16(extendedAngle ?? Self.defaultAngles.extended))
            bus(number).attach(sensor, at: address)
            angleSensor = sensor
        } else {
            angleSensor = nil
        }
        if let gauge = board.gauge, let number = gauge.bus, let address = gauge.address {
            let bus = bus(number)
            switch faults.missingGauge ? nil : gauge.kind {
            case .max17048, .max17049:
                let alertChip = gauge.alert.map { chips[$0.chip ?? board.defaultChip] } ?? nil
                bus.attach(
                    SimulatedMAX17048(
                        battery: battery, variant: gauge.kind == .max17049 ? .max17049 : .max17048,
                        alertChip: alertChip,
                        alertLine: name(gauge.alert)), at: address)
            case .bq27441:
                bus.attach(SimulatedBQ27441(battery: battery), at: address)
            case .powerSupply, nil:
                break
            }
        }
        self.buses = buses
    }

    /// The simulated I2C bus `/dev/i2c-number`, as `BoardAssembly` asks for buses.
    public func i2cBus(_ number: Int) throws(I2CError) -> any I2CBus {
        guard let bus = buses[number] else {
            throw I2CError(
                .noSuchDevice, bus: "/dev/i2c-\(number)", detail: "the simulated board has no such bus")
        }
        return bus
    }

    /// The real drivers over this simulated hardware.
    public func hardware(consumer: String = "boltd") throws(DeviceError) -> LockHardware {
        try BoardAssembly.assemble(
            board, gpio: gpio, i2c: { number throws(I2CError) in try self.i2cBus(number) }, clock: clock,
            consumer: consumer)
    }
}
