// Checks of the keypad driver and the bolt mechanism against the hardware model: the real
// MatrixKeypad, GPIOKeypadMatrix, HBridgeMotor, EndSwitchBoltSensor and BoltController on
// LinuxGPIO, with the model process playing the keys, the motor and the switches through
// gpio-sim.
import BoltworkDrivers
import BoltworkHAL
import BoltworkLinux
import BoltworkLock
import Dispatch

let keypadRows: [GPIOLineID] = ["ROW0", "ROW1", "ROW2", "ROW3"].map { .name($0) }
let keypadColumns: [GPIOLineID] = ["COL0", "COL1", "COL2", "COL3"].map { .name($0) }

@MainActor func runKeypadChecks(gpio: LinuxGPIO, chip: any GPIOChip, clock: SystemClock) {
    check("keypad (open-drain columns, 10 ms column settle): the real scan reads each key the model types") {
        try typeThroughKeypad(
            chip: chip, clock: clock,
            wiring: GPIOKeypadMatrix.Wiring(activeLevel: .low, inactiveColumns: .released),
            settle: .milliseconds(10), keys: "159D62A*")
    }
    // One request per column, so libgpiod 1.6 can switch each between output and input too.
    check("keypad (columns switched to inputs, no settle time): the real scan reads all 16 keys") {
        try typeThroughKeypad(
            chip: chip, clock: clock,
            wiring: GPIOKeypadMatrix.Wiring(activeLevel: .low, inactiveColumns: .inputs),
            settle: .zero, keys: "123A456B789C*0#D")
    }
}

/// Types `keys` through the model and expects exactly one press and one release per key, in
/// order, with no errors and no discarded scans.
func typeThroughKeypad(
    chip: any GPIOChip, clock: SystemClock, wiring: GPIOKeypadMatrix.Wiring, settle: Duration, keys: String
) throws {
    let model = try ModelProcess()
    defer { model.stop() }
    let matrix = try GPIOKeypadMatrix(
        chip: chip, rows: keypadRows, columns: keypadColumns, wiring: wiring, consumer: "kt-keypad")
    defer { matrix.release() }
    let keypad = try MatrixKeypad(
        backend: matrix, keyMap: KeyMap.keypad4x4, clock: clock,
        options: MatrixKeypad.Options(columnSettleDelay: settle))
    let events = Protected([String]())
    let stamps = Protected([MonotonicInstant]())
    let errors = Protected([String]())
    keypad.setKeyHandler { event in
        let kind =
            switch event.kind {
            case .press: "press"
            case .release: "release"
            case .stuck: "stuck"
            }
        events.withLock { $0.append("\(kind) \(event.key)") }
        stamps.withLock { $0.append(event.timestamp) }
    }
    keypad.setErrorHandler { error in errors.withLock { $0.append("\(error)") } }
    try keypad.start()
    defer { keypad.stop() }

    let expected = keys.flatMap { ["press \($0)", "release \($0)"] }
    do {
        try model.type(keys)
    } catch {
        throw CheckFailure(
            description:
                "\(error); events so far: \(events.withLock { $0 }); errors: \(errors.withLock { $0 })")
    }
    // The model is done when the keypad is idle again; its last events arrive just after.
    _ = waitUntil(seconds: 10) { events.withLock { $0.count } >= expected.count }
    let seen = events.withLock { $0 }
    try expect(errors.withLock { $0 }.isEmpty, "keypad errors: \(errors.withLock { $0 })")
    try expect(seen == expected, "expected \(expected), the keypad reported \(seen)")
    let times = stamps.withLock { $0 }
    try expect(zip(times, times.dropFirst()).allSatisfy { $0 <= $1 }, "event times go backwards: \(times)")
    try expect(keypad.ghostScanCount == 0, "\(keypad.ghostScanCount) scans discarded as ghosting")
    try expect(keypad.isIdle, "the keypad is not idle after the last release")
}

/// The motor, the end switches and the bolt controller on the kernel, over the model.
final class BoltRig {
    let model: ModelProcess
    let motor: HBridgeMotor
    let sensor: EndSwitchBoltSensor
    let controller: BoltController
    private let switches: any GPIOLineRequest

    /// Requests the lines (released again if anything fails) and creates the drivers.
    init(chip: any GPIOChip, clock: SystemClock) throws {
        model = try ModelProcess(bolt: "retracted")
        let profile = HBridgeProfile.drv8833(withSleepLine: true)
        var requests: [any GPIOLineRequest] = []
        defer { for request in requests { request.release() } }
        let motorRequest = try chip.requestLines(
            try HBridgeMotor.lineConfigs(
                for: profile, lines: [.name("MOTOR_IN1"), .name("MOTOR_IN2"), .name("MOTOR_SLEEP")]),
            consumer: "kt-motor")
        requests.append(motorRequest)
        motor = try HBridgeMotor(
            request: motorRequest, profile: profile,
            configuration: HBridgeMotor.Configuration(extendDirection: .forward, maximumRunTime: .seconds(8)),
            clock: clock)
        switches = try chip.requestLines(
            EndSwitchBoltSensor.lineConfigs(
                retracted: .name("BOLT_RETRACTED"), extended: .name("BOLT_EXTENDED"), closedLevel: .low,
                debounce: .milliseconds(10)),
            consumer: "kt-switches")
        requests.append(switches)
        sensor = try EndSwitchBoltSensor(request: switches)
        controller = try BoltController(
            motor: motor, sensor: sensor, clock: clock,
            configuration: BoltController.Configuration(moveTimeout: .seconds(3), lockRetries: 0))
        requests = []  // kept: shutdown() releases them
    }

    /// Starts the controller once the retracted switch reads closed. The request's pull-up
    /// opened the simulated switch for a moment (gpio-sim applies the bias); the model closed
    /// it again at once, and the debounced line follows one debounce period later.
    func start() throws {
        let sensor = self.sensor
        let settled = waitUntil(seconds: 5) { (try? sensor.position()) == .retracted }
        try expect(
            settled,
            "the retracted switch does not read closed: \(String(describing: try? sensor.position()))")
        let found = controller.start()
        try expect(found == .unlocked, "found \(found) with the bolt retracted")
    }

    /// Runs `command` and waits for its outcome (moves take about a second under TCG).
    func outcome(_ command: (@escaping @Sendable (BoltOutcome) -> Void) -> Void) throws -> BoltOutcome {
        let box = Protected<BoltOutcome?>(nil)
        let done = DispatchSemaphore(value: 0)
        command { outcome in
            box.withLock { $0 = outcome }
            done.signal()
        }
        guard done.wait(timeout: .now() + .seconds(30)) == .success, let outcome = box.withLock({ $0 }) else {
            throw CheckFailure(description: "no outcome within 30 s; model: \(try model.status())")
        }
        return outcome
    }

    func shutdown() {
        controller.shutdown()
        motor.shutdown()
        switches.release()
        model.stop()
    }
}

@MainActor func runBoltChecks(chip: any GPIOChip, clock: SystemClock) {
    check("bolt: the bolt controller throws and retracts the bolt through the H-bridge and the end switches")
    {
        let rig = try BoltRig(chip: chip, clock: clock)
        defer { rig.shutdown() }
        try rig.start()

        let locked = try rig.outcome { rig.controller.lock(source: .remote, completion: $0) }
        try expect(locked == .locked(source: .remote), "lock: \(locked)")
        var model = try rig.model.status()
        try expect(
            model["extended"] == "closed" && model["position"] == "1000",
            "the model's bolt is not thrown: \(model)")
        try expect(model["bridge"] == "coast", "the motor was not stopped after the lock: \(model)")
        try expect(
            model["forward-runs"] == "1" && model["reverse-runs"] == "0",
            "the motor ran the wrong way: \(model)")
        try expect(rig.controller.state == .locked, "state \(rig.controller.state)")

        let unlocked = try rig.outcome { rig.controller.unlock(source: .remote, completion: $0) }
        try expect(unlocked == .unlocked(source: .remote), "unlock: \(unlocked)")
        model = try rig.model.status()
        try expect(
            model["retracted"] == "closed" && model["position"] == "0",
            "the model's bolt is not back: \(model)")
        try expect(model["bridge"] == "coast" && model["reverse-runs"] == "1", "motor: \(model)")
        try expect(rig.controller.state == .unlocked, "state \(rig.controller.state)")
    }

    check("bolt: a bolt stopped by the strike plate times out as a jam and is retracted to a known end") {
        let rig = try BoltRig(chip: chip, clock: clock)
        defer { rig.shutdown() }
        try rig.start()
        try rig.model.command("obstruct 0.5")
        let outcome = try rig.outcome { rig.controller.lock(source: .remote, completion: $0) }
        guard case .jammed(.extend, let stoppedAt, let restingAt, 1, .timeout, .remote) = outcome else {
            throw CheckFailure(description: "expected a timed-out jam while locking, got \(outcome)")
        }
        try expect(stoppedAt == .between(percent: nil), "stopped at \(stoppedAt)")
        try expect(restingAt == .retracted, "resting at \(restingAt)")
        let model = try rig.model.status()
        try expect(model["retracted"] == "closed" && model["bridge"] == "coast", "model: \(model)")
        try expect(model["forward-runs"] == "1" && model["reverse-runs"] == "1", "motor runs: \(model)")
    }
}
