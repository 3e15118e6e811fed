import BoltworkDrivers
import BoltworkHAL
import BoltworkSimulation
import Testing

/// Pin values from a datasheet row written as `"10"`: 1 = high (active), 0 = low.
func bridgePins(_ row: String) -> [LineValue] {
    row.map { LineValue($0 == "1") }
}

/// Records stop-handler calls.
final class MotorStopLog: Sendable {
    let entries = Protected([(MotorStopReason, MonotonicInstant)]())
    var reasons: [MotorStopReason] { entries.withLock { $0.map(\.0) } }
    var times: [MonotonicInstant] { entries.withLock { $0.map(\.1) } }
    func install(on motor: HBridgeMotor) {
        motor.setStopHandler { reason, time in self.entries.withLock { $0.append((reason, time)) } }
    }
}

func motionMs(_ value: Int64) -> MonotonicInstant { MonotonicInstant(nanoseconds: value * 1_000_000) }

/// One datasheet row set per profile: the pins of every state, written literally from the
/// datasheets (not from the driver's table).
struct ProfileRows: Sendable, CustomTestStringConvertible {
    var profile: HBridgeProfile
    var forward: String
    var reverse: String
    var brake: String
    var coast: String
    var standby: String?
    var defaultSafe: BridgeState

    var testDescription: String { profile.name + (profile.pins.contains(.sleep) ? " with nSLEEP" : "") }

    static let all: [ProfileRows] = [
        // DRV8833: IN1/IN2 1/0 forward, 0/1 reverse, 1/1 brake, 0/0 coast.
        ProfileRows(
            profile: .drv8833(), forward: "10", reverse: "01", brake: "11", coast: "00", standby: nil,
            defaultSafe: .coast),
        // DRV8833 with nSLEEP: nSLEEP high while awake, low (IN low) for sleep.
        ProfileRows(
            profile: .drv8833(withSleepLine: true), forward: "101", reverse: "011", brake: "111",
            coast: "001",
            standby: "000", defaultSafe: .coast),
        // TB6612FNG IN1 IN2 PWM STBY: H/L/H/H forward, L/H/H/H reverse, H/H brake, L/L/H stop,
        // STBY low standby.
        ProfileRows(
            profile: .tb6612fng, forward: "1011", reverse: "0111", brake: "1111", coast: "0011",
            standby: "0000", defaultSafe: .coast),
        // L298N IN1 IN2 EN: EN high and IN1 != IN2 drives, IN1 = IN2 brakes, EN low coasts.
        ProfileRows(
            profile: .l298n, forward: "101", reverse: "011", brake: "001", coast: "000", standby: nil,
            defaultSafe: .brake),
    ]
}

@Suite("H-bridge motor: pins and safety")
struct HBridgeMotorTests {
    let clock = VirtualClock()

    func scripted(_ count: Int, _ rows: [String]) -> ScriptedLineRequest {
        let all = Array(0..<count)
        return ScriptedLineRequest(
            offsets: all.map(UInt32.init), rows.map { (.write(bridgePins($0), at: all), nil) })
    }

    @Test("every state of every profile drives the datasheet's pin levels", arguments: ProfileRows.all)
    func truthTables(rows: ProfileRows) throws {
        let count = rows.profile.pins.count
        for safe in [BridgeState.brake, .coast] {
            let safeRow = safe == .brake ? rows.brake : rows.coast
            // start safe, extend (forward), stop, retract (reverse after the dead time), stop.
            let request = scripted(count, [safeRow, rows.forward, safeRow, rows.reverse, safeRow])
            let motor = try HBridgeMotor(
                request: request, profile: rows.profile, configuration: .init(safeState: safe), clock: clock)
            try motor.run(.extend)
            #expect(motor.bridgeState == .forward)
            try motor.stop()
            try motor.run(.retract)
            clock.advance(by: .milliseconds(20))
            #expect(motor.bridgeState == .reverse)
            try motor.stop()
            try request.verify()
        }
        if let standby = rows.standby {
            let request = scripted(count, [rows.coast, standby, rows.forward])
            let motor = try HBridgeMotor(request: request, profile: rows.profile, clock: clock)
            try motor.standby()
            #expect(motor.bridgeState == .standby)
            try motor.run(.extend)
            try request.verify()
        } else {
            let request = scripted(count, [rows.defaultSafe == .brake ? rows.brake : rows.coast])
            let motor = try HBridgeMotor(request: request, profile: rows.profile, clock: clock)
            let error = #expect(throws: DeviceError.self) { try motor.standby() }
            #expect(error?.kind == .configuration)
        }
    }

    @Test(
        "each profile's table matches the datasheet rows and rests in its documented safe state",
        arguments: ProfileRows.all)
    func tableAndSafeInitialLevels(rows: ProfileRows) throws {
        let profile = rows.profile
        let expected: [(BridgeState, String?)] = [
            (.forward, rows.forward), (.reverse, rows.reverse), (.brake, rows.brake), (.coast, rows.coast),
            (.standby, rows.standby),
        ]
        for (state, row) in expected {
            #expect(
                profile.levels(for: state)?.map { LineValue($0 == .high) } == row.map(bridgePins), "\(state)")
        }
        #expect(profile.safeState == rows.defaultSafe)
        let lines = (0..<profile.pins.count).map { GPIOLineID.offset(UInt32($0)) }
        let configs = try HBridgeMotor.lineConfigs(for: profile, lines: lines)
        let safeRow = rows.defaultSafe == .brake ? rows.brake : rows.coast
        #expect(configs.map(\.settings.direction) == bridgePins(safeRow).map { .output(initial: $0) })
        #expect(configs.map(\.line) == lines)
        #expect(configs.allSatisfy { !$0.settings.activeLow })
        let coast = try HBridgeMotor.lineConfigs(for: profile, lines: lines, safeState: .coast)
        #expect(coast.map(\.settings.direction) == bridgePins(rows.coast).map { .output(initial: $0) })
        #expect(throws: DeviceError.self) {
            try HBridgeMotor.lineConfigs(for: profile, lines: lines, safeState: .forward)
        }
        #expect(throws: DeviceError.self) { try HBridgeMotor.lineConfigs(for: profile, lines: [.offset(0)]) }
    }

    @Test("reversing goes direction, safe state, dead time, other direction - never straight across")
    func reversalSequence() throws {
        let request = scripted(2, ["00", "10", "00"])
        let motor = try HBridgeMotor(
            request: request, profile: .drv8833(), configuration: .init(deadTime: .milliseconds(20)),
            clock: clock)
        try motor.run(.extend)
        clock.advance(by: .milliseconds(100))
        try motor.run(.retract)
        #expect(motor.bridgeState == .coast)
        #expect(motor.activity == .running(.retract, since: motionMs(100)))
        clock.advance(by: .milliseconds(19))
        try request.verify()  // still coasting: no reverse write yet
        request.expect(.write(bridgePins("01"), at: [0, 1]))
        clock.advance(by: .milliseconds(1))
        try request.verify()
        #expect(motor.bridgeState == .reverse)
        // Running again the same way writes nothing.
        try motor.run(.retract)
        try request.verify()
    }

    @Test("stopping and immediately running the other way still waits the dead time from the stop")
    func deadTimeAfterStop() throws {
        let request = scripted(3, ["001", "101", "001"])
        let motor = try HBridgeMotor(
            request: request, profile: .l298n, configuration: .init(deadTime: .milliseconds(30)), clock: clock
        )
        try motor.run(.extend)
        clock.advance(by: .milliseconds(500))
        try motor.stop()
        clock.advance(by: .milliseconds(10))
        try motor.run(.retract)
        clock.advance(by: .milliseconds(19))
        try request.verify()
        request.expect(.write(bridgePins("011"), at: [0, 1, 2]))
        clock.advance(by: .milliseconds(1))
        try request.verify()
        // The same direction again after a stop needs no dead time.
        request.expect(.write(bridgePins("001"), at: [0, 1, 2]))
        request.expect(.write(bridgePins("011"), at: [0, 1, 2]))
        try motor.stop()
        try motor.run(.retract)
        try request.verify()
    }

    @Test("which motor direction extends the bolt is configuration")
    func extendDirection() throws {
        let request = scripted(2, ["00", "01"])
        let motor = try HBridgeMotor(
            request: request, profile: .drv8833(), configuration: .init(extendDirection: .reverse),
            clock: clock)
        try motor.run(.extend)
        try request.verify()
    }

    @Test("the maximum run time stops the motor on the clock whatever the caller does")
    func maximumRunTime() throws {
        let request = scripted(4, ["0011", "1011"])
        let motor = try HBridgeMotor(
            request: request, profile: .tb6612fng, configuration: .init(maximumRunTime: .seconds(8)),
            clock: clock)
        let log = MotorStopLog()
        log.install(on: motor)
        try motor.run(.extend)
        clock.advance(by: .seconds(4))
        try motor.run(.extend)  // does not restart the safety net
        clock.advance(by: .milliseconds(3999))
        #expect(log.reasons.isEmpty)
        try request.verify()
        request.expect(.write(bridgePins("0011"), at: [0, 1, 2, 3]))
        clock.advance(by: .milliseconds(1))
        try request.verify()
        #expect(log.reasons == [.maximumRunTime])
        #expect(log.times == [motionMs(8000)])
        #expect(motor.activity == .stopped)
        // A stop by the caller does not call the handler, and leaves no timer behind.
        request.expect(.write(bridgePins("1011"), at: [0, 1, 2, 3]))
        request.expect(.write(bridgePins("0011"), at: [0, 1, 2, 3]))
        try motor.run(.extend)
        try motor.stop()
        clock.advance(by: .seconds(20))
        #expect(log.reasons == [.maximumRunTime])
        try request.verify()
    }

    @Test("the stall input stops the motor and reports a stall; an active input refuses to run")
    func stallInput() throws {
        let request = scripted(2, ["00", "10", "00"])
        let stall = ScriptedLineRequest(offsets: [5], [(.read([.inactive]), nil)])
        let motor = try HBridgeMotor(request: request, profile: .drv8833(), stallInput: stall, clock: clock)
        let log = MotorStopLog()
        log.install(on: motor)
        try motor.run(.extend)
        clock.advance(by: .milliseconds(700))
        stall.emit(EdgeEvent(kind: .rising, index: 0, offset: 5, timestamp: motionMs(700), sequence: 1))
        #expect(log.reasons == [.stall])
        #expect(log.times == [motionMs(700)])
        #expect(motor.activity == .stopped)
        // Still active: the motor will not start.
        stall.expect(.read([.active]))
        let error = #expect(throws: DeviceError.self) { try motor.run(.retract) }
        #expect(error?.kind == .invalidState)
        try request.verify()
        try stall.verify()
        let config = HBridgeMotor.stallLineConfig(.name("nFAULT"))
        #expect(
            config.settings.activeLow && config.settings.bias == .pullUp && config.settings.edges == .both)
    }

    @Test("a stall input found active by a new run stops the running motor before refusing")
    func stallFoundOnRun() throws {
        let request = scripted(2, ["00", "10", "00"])
        let stall = ScriptedLineRequest(offsets: [5], [(.read([.inactive]), nil), (.read([.active]), nil)])
        let motor = try HBridgeMotor(request: request, profile: .drv8833(), stallInput: stall, clock: clock)
        try motor.run(.extend)
        clock.advance(by: .milliseconds(300))
        let error = #expect(throws: DeviceError.self) { try motor.run(.retract) }
        #expect(error?.kind == .invalidState)
        #expect(motor.activity == .stopped)
        #expect(motor.bridgeState == .coast)
        try request.verify()
        try stall.verify()
    }

    @Test("a failed write tries the safe state, reports a fault and throws")
    func writeFault() throws {
        let request = ScriptedLineRequest(
            offsets: [0, 1],
            [
                (.write(bridgePins("00"), at: [0, 1]), nil),
                (.write(bridgePins("10"), at: [0, 1]), GPIOError(.io, errno: 5, detail: "EIO")),
                (.write(bridgePins("00"), at: [0, 1]), nil),
            ])
        let motor = try HBridgeMotor(request: request, profile: .drv8833(), clock: clock)
        let log = MotorStopLog()
        log.install(on: motor)
        let error = #expect(throws: DeviceError.self) { try motor.run(.extend) }
        #expect(error?.kind == .hardware)
        #expect(error?.description.contains("safe state (coast)") == true)
        clock.runUntilIdle()
        #expect(log.reasons == [.fault])
        #expect(motor.activity == .stopped)
        try request.verify()
    }

    @Test("shutdown rests the bridge safe and releases the lines")
    func shutdown() throws {
        let request = scripted(3, ["001", "101", "001"])
        request.expect(.release)
        let motor = try HBridgeMotor(request: request, profile: .l298n, clock: clock)
        try motor.run(.extend)
        motor.shutdown()
        clock.advance(by: .seconds(10))
        try request.verify()
        let error = #expect(throws: DeviceError.self) { try motor.run(.extend) }
        #expect(error?.kind == .invalidState)
    }

    @Test("a request of the wrong size is a configuration error")
    func wrongSize() {
        let request = ScriptedLineRequest(offsets: [0, 1], [])
        let error = #expect(throws: DeviceError.self) {
            try HBridgeMotor(request: request, profile: .tb6612fng, clock: clock)
        }
        #expect(error?.kind == .configuration)
    }
}
