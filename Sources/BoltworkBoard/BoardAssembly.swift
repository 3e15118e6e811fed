import BoltworkDrivers
import BoltworkHAL

/// The lock's hardware, built from a board file: the drivers the controller uses.
public struct LockHardware: Sendable {
    /// The keypad.
    public let keypad: MatrixKeypad
    /// The keypad's GPIO backend (released on shutdown).
    public let keypadMatrix: GPIOKeypadMatrix
    /// The motor driver.
    public let motor: HBridgeMotor
    /// The bolt-position sensor.
    public let bolt: any BoltPositionSensor
    /// The door contact, if fitted.
    public let door: DoorContact?
    /// The fuel gauge, if fitted.
    public let gauge: (any BatteryGauge)?
    /// The MAX1704x ALRT line, if wired: its chip and line, for `MAX17048.requestAlertLine`.
    public let gaugeAlert: (chip: any GPIOChip, line: GPIOLineID)?
    /// The buzzer, if fitted.
    public let buzzer: FeedbackOutput?
    /// The status LED, if fitted.
    public let led: FeedbackOutput?
    /// Requests that belong to no driver (switches, door), released on shutdown.
    let requests: [any GPIOLineRequest]

    /// Stops the keypad, puts the motor in its safe state and releases every line.
    public func shutdown() {
        keypad.stop()
        keypadMatrix.release()
        motor.shutdown()
        buzzer?.stop()
        led?.stop()
        for request in requests { request.release() }
    }
}

/// Builds the drivers a board file describes, over any GPIO provider and I2C buses: libgpiod
/// and /dev/i2c-N on a board, the simulated backend in tests and in the simulator.
public enum BoardAssembly {
    /// Requests every line and creates every driver. On failure, what was already requested is
    /// released and the error names the part.
    public static func assemble(
        _ board: BoardFile, gpio: any GPIOProvider, i2c: (Int) throws(I2CError) -> any I2CBus,
        clock: any BoltClock,
        consumer: String = "boltd"
    ) throws(DeviceError) -> LockHardware {
        var chips: [GPIOChipID: any GPIOChip] = [:]
        var owned: [any GPIOLineRequest] = []
        var cleanups: [() -> Void] = []
        func fail(_ error: DeviceError) -> DeviceError {
            for cleanup in cleanups.reversed() { cleanup() }
            for request in owned { request.release() }
            return error
        }
        func chip(_ line: BoardLine, part: String) throws(DeviceError) -> any GPIOChip {
            let id = line.chip ?? board.defaultChip
            if let open = chips[id] { return open }
            do {
                let opened = try gpio.openChip(id)
                chips[id] = opened
                return opened
            } catch {
                throw fail(
                    DeviceError(.hardware, device: part, detail: "cannot open \(id)", underlying: error))
            }
        }
        func sameChip(_ lines: [BoardLine], part: String) throws(DeviceError) -> any GPIOChip {
            let ids = Set(lines.map { $0.chip ?? board.defaultChip })
            guard ids.count == 1, let first = lines.first else {
                throw fail(
                    DeviceError(
                        .configuration, device: part,
                        detail:
                            "its lines are on several chips (\(ids.map(\.description).sorted().joined(separator: ", "))); put them on one chip"
                    ))
            }
            return try chip(first, part: part)
        }
        func request(_ configs: [LineConfig], on chip: any GPIOChip, part: String) throws(DeviceError)
            -> any GPIOLineRequest
        {
            do {
                let request = try chip.requestLines(configs, consumer: consumer)
                owned.append(request)
                return request
            } catch {
                throw fail(
                    DeviceError(
                        .hardware, device: part, detail: "cannot request its lines", underlying: error))
            }
        }

        // Keypad.
        let keypadChip = try sameChip(board.keypad.rows + board.keypad.columns, part: "keypad")
        let wiring = GPIOKeypadMatrix.Wiring(
            activeLevel: board.keypad.active == .low ? .low : .high,
            inactiveColumns: board.keypad.openDrainColumns ? .released : .inputs)
        let matrix: GPIOKeypadMatrix
        do {
            matrix = try GPIOKeypadMatrix(
                chip: keypadChip, rows: board.keypad.rows.map(\.line),
                columns: board.keypad.columns.map(\.line),
                wiring: wiring, consumer: consumer)
        } catch {
            throw fail(error)
        }
        cleanups.append { matrix.release() }
        let keypad: MatrixKeypad
        do {
            keypad = try MatrixKeypad(
                backend: matrix, keyMap: board.keypad.keys, clock: clock,
                options: MatrixKeypad.Options(
                    debounce: .milliseconds(board.keypad.debounceMilliseconds),
                    columnSettleDelay: .microseconds(board.keypad.columnSettleMicroseconds),
                    hasDiodes: board.keypad.hasDiodes))
        } catch {
            throw fail(error)
        }

        // Motor.
        let profile: HBridgeProfile
        switch board.motor.driver {
        case .drv8833: profile = .drv8833(withSleepLine: board.motor.enable != nil)
        case .tb6612fng: profile = .tb6612fng
        case .l298n: profile = .l298n
        }
        let motorLines = profile.pins.compactMap { pin -> BoardLine? in
            switch pin {
            case .in1: board.motor.in1
            case .in2: board.motor.in2
            case .pwm: board.motor.pwm
            case .enable, .standby, .sleep: board.motor.enable
            }
        }
        guard motorLines.count == profile.pins.count else {
            throw fail(
                DeviceError(
                    .configuration, device: "motor",
                    detail:
                        "the \(profile.name) needs \(profile.pins.map(\.description).joined(separator: ", "))"
                ))
        }
        let motorChip = try sameChip(motorLines, part: "motor")
        let motorConfigs: [LineConfig]
        do {
            motorConfigs = try HBridgeMotor.lineConfigs(for: profile, lines: motorLines.map(\.line))
        } catch {
            throw fail(error)
        }
        let motorRequest = try request(motorConfigs, on: motorChip, part: "motor")
        var stallRequest: (any GPIOLineRequest)?
        if let stall = board.motor.stall {
            stallRequest = try request(
                [HBridgeMotor.stallLineConfig(stall.line)], on: try chip(stall, part: "motor stall input"),
                part: "motor stall input")
        }
        let motor: HBridgeMotor
        do {
            motor = try HBridgeMotor(
                request: motorRequest, profile: profile,
                configuration: HBridgeMotor.Configuration(
                    extendDirection: board.motor.forwardExtends ? .forward : .reverse,
                    maximumRunTime: .milliseconds(board.motor.maxRunMilliseconds)),
                stallInput: stallRequest, clock: clock)
        } catch {
            throw fail(error)
        }
        owned.removeAll { $0 === motorRequest }
        cleanups.append { motor.shutdown() }

        // Bolt sensor.
        var loose: [any GPIOLineRequest] = []
        let bolt: any BoltPositionSensor
        switch board.bolt {
        case .switches(let retracted, let extended, let active, let debounce):
            let present = [retracted, extended].compactMap { $0 }
            let boltChip = try sameChip(present, part: "bolt sensor")
            let configs = EndSwitchBoltSensor.lineConfigs(
                retracted: retracted?.line, extended: extended?.line,
                closedLevel: active == .low ? .low : .high,
                debounce: .milliseconds(debounce))
            let switchRequest = try request(configs, on: boltChip, part: "bolt sensor")
            loose.append(switchRequest)
            let switches: EndSwitchBoltSensor.Switches =
                retracted != nil && extended != nil
                ? .both(retracted: 0, extended: 1) : retracted != nil ? .retractedOnly(0) : .extendedOnly(0)
            do {
                bolt = try EndSwitchBoltSensor(request: switchRequest, switches: switches)
            } catch {
                throw fail(error)
            }
        case .as5600(let busNumber, let address, let retracted, let extended):
            guard let retracted, let extended else {
                throw fail(
                    DeviceError(
                        .configuration, device: "bolt sensor",
                        detail:
                            "the AS5600 is not calibrated: run `boltd selftest` (it stores the end angles) or add retracted-angle and extended-angle to the board file"
                    ))
            }
            do {
                let bus = try i2c(busNumber)
                bolt = try AS5600BoltSensor(
                    bus: bus, address: address,
                    calibration: AS5600BoltSensor.Calibration(
                        retractedRaw: UInt16(retracted), extendedRaw: UInt16(extended)),
                    clock: clock)
            } catch let error as DeviceError {
                throw fail(error)
            } catch {
                throw fail(
                    DeviceError(
                        .hardware, device: "bolt sensor", detail: "cannot open I2C bus \(busNumber)",
                        underlying: error as? I2CError))
            }
        }

        // Door.
        var door: DoorContact?
        if let wiring = board.door {
            let doorRequest = try request(
                [
                    DoorContact.lineConfig(
                        wiring.line.line, closedLevel: wiring.closedLevel == .low ? .low : .high,
                        debounce: .milliseconds(wiring.debounceMilliseconds))
                ], on: try chip(wiring.line, part: "door contact"), part: "door contact")
            loose.append(doorRequest)
            do {
                door = try DoorContact(request: doorRequest)
            } catch {
                throw fail(error)
            }
        }

        // Gauge.
        var gauge: (any BatteryGauge)?
        var gaugeAlert: (chip: any GPIOChip, line: GPIOLineID)?
        if let wiring = board.gauge {
            if wiring.kind == .powerSupply, let supply = wiring.supply {
                gauge = PowerSupplyGauge(supply: supply, clock: clock)
            } else if let busNumber = wiring.bus, let address = wiring.address {
                let bus: any I2CBus
                do {
                    bus = try i2c(busNumber)
                } catch {
                    throw fail(
                        DeviceError(
                            .hardware, device: "gauge", detail: "cannot open I2C bus \(busNumber)",
                            underlying: error))
                }
                switch wiring.kind {
                case .max17048: gauge = MAX17048(bus: bus, address: address, variant: .max17048, clock: clock)
                case .max17049: gauge = MAX17048(bus: bus, address: address, variant: .max17049, clock: clock)
                case .bq27441: gauge = BQ27441(bus: bus, address: address, clock: clock)
                case .powerSupply: break
                }
            }
            if let alert = wiring.alert {
                gaugeAlert = (try chip(alert, part: "gauge alert"), alert.line)
            }
        }

        // Feedback.
        func feedback(_ line: BoardLine?, name: String) throws(DeviceError) -> FeedbackOutput? {
            guard let line else { return nil }
            let outputChip = try chip(line, part: name)
            do {
                let output = try FeedbackOutput(
                    chip: outputChip, line: line.line, clock: clock, name: name, consumer: consumer)
                cleanups.append { output.stop() }
                return output
            } catch {
                throw fail(error)
            }
        }
        let buzzer = try feedback(board.buzzer, name: "buzzer")
        let led = try feedback(board.led, name: "led")

        return LockHardware(
            keypad: keypad, keypadMatrix: matrix, motor: motor, bolt: bolt, door: door, gauge: gauge,
            gaugeAlert: gaugeAlert, buzzer: buzzer, led: led, requests: loose)
    }
}
