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

    /// Builds the simulated hardware for `board`. The board must keep the keypad, motor,
    /// switches and door on one chip and use end switches (the simulator's mechanism).
    public init(board: BoardFile, clock: any BoltClock, batteryPercent: Double = 80) throws(DeviceError) {
        self.board = board
        self.clock = clock
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

        guard case .switches(let retracted, let extended, let active, _) = board.bolt else {
            throw DeviceError(
                .configuration, device: "simulator", detail: "the simulator's mechanism uses end switches")
        }
        let in1 = name(board.motor.in1) ?? ""
        let in2 = name(board.motor.in2) ?? ""
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
                    bridge: bridge, forwardExtends: board.motor.forwardExtends,
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
        if let gauge = board.gauge, let number = gauge.bus, let address = gauge.address {
            let bus = SimulatedI2CBus(name: "/dev/i2c-\(number)")
            switch gauge.kind {
            case .max17048, .max17049:
                let alertChip = gauge.alert.map { chips[$0.chip ?? board.defaultChip] } ?? nil
                bus.attach(
                    SimulatedMAX17048(
                        battery: battery, variant: gauge.kind == .max17049 ? .max17049 : .max17048,
                        alertChip: alertChip,
                        alertLine: name(gauge.alert)), at: address)
            case .bq27441:
                bus.attach(SimulatedBQ27441(battery: battery), at: address)
            case .powerSupply:
                break
            }
            buses[number] = bus
        }
        self.buses = buses
    }

    /// The real drivers over this simulated hardware.
    public func hardware(consumer: String = "boltd") throws(DeviceError) -> LockHardware {
        let buses = self.buses
        return try BoardAssembly.assemble(
            board, gpio: gpio,
            i2c: { number throws(I2CError) -> any I2CBus in
                guard let bus = buses[number] else {
                    throw I2CError(
                        .noSuchDevice, bus: "/dev/i2c-\(number)",
                        detail: "the simulated board has no such bus")
                }
                return bus
            }, clock: clock, consumer: consumer)
    }
}
