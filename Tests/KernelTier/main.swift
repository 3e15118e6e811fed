// boltwork-kernel-tests: runs inside the real-kernel tier's qemu guest (scripts/kernel-tier)
// against gpio-sim and i2c-stub, exercising the Linux backends through the real kernel
// interfaces, then the keypad, motor and bolt drivers and boltd against the hardware model (a
// second process of this binary: `boltwork-kernel-tests model`, see HardwareModel.swift).
// Prints one line per check (PASS, FAIL or SKIP) and "N passed, N failed, N skipped" last;
// exits non-zero on any failure. Waits are waits for kernel events or for another process,
// each with a generous limit, never timing assertions.
//
//   boltwork-kernel-tests [--only TEXT]... [--boltd PATH --boltd-board FILE --boltd-config FILE]
import BoltworkDrivers
import BoltworkHAL
import BoltworkLinux
import Dispatch

#if canImport(Glibc)
    import Glibc
#endif

if CommandLine.arguments.dropFirst().first == "model" {
    exit(runHardwareModel(Array(CommandLine.arguments.dropFirst(2))))
}

let environment = ProcessInfoLite()
var boltdPath: String?
var boltdBoard: String?
var boltdConfig: String?
do {
    var arguments = CommandLine.arguments.dropFirst()
    while let option = arguments.popFirst() {
        guard let value = arguments.popFirst() else {
            print("option \(option) needs a value")
            exit(2)
        }
        switch option {
        case "--only": Report.only.append(value)
        case "--boltd": boltdPath = value
        case "--boltd-board": boltdBoard = value
        case "--boltd-config": boltdConfig = value
        default:
            print(
                "usage: boltwork-kernel-tests [--only TEXT]... [--boltd PATH --boltd-board FILE --boltd-config FILE]"
            )
            exit(2)
        }
    }
}

let chipPath = environment.value("BOLTWORK_GPIOSIM_MAIN_CHIP") ?? "/dev/gpiochip0"
let chipLabel = environment.value("BOLTWORK_GPIOSIM_MAIN_LABEL") ?? "boltwork-sim"
let sysfs = environment.value("BOLTWORK_GPIOSIM_MAIN_SYSFS") ?? ""
let auxLabel = environment.value("BOLTWORK_GPIOSIM_AUX_LABEL") ?? "boltwork-aux"
let auxPath = environment.value("BOLTWORK_GPIOSIM_AUX_CHIP") ?? "/dev/gpiochip1"
let i2cBus = environment.value("BOLTWORK_I2C_BUS") ?? "/dev/i2c-0"

/// gpio-sim's per-line attribute file.
func simFile(_ offset: UInt32, _ attribute: String) -> String { "\(sysfs)/sim_gpio\(offset)/\(attribute)" }

/// Collects edge events and lets the main thread wait for them.
final class EventSink: Sendable {
    private let events = Protected([EdgeEvent]())
    private let arrived = DispatchSemaphore(value: 0)

    func attach(_ request: any GPIOLineRequest) {
        request.setEdgeHandler { [self] event in
            events.withLock { $0.append(event) }
            arrived.signal()
        }
    }

    /// Waits for `count` events in all (up to 5 s of real time; a kernel that delivers nothing
    /// fails the check instead of hanging).
    func wait(for count: Int) -> [EdgeEvent] {
        while events.withLock({ $0.count }) < count {
            if arrived.wait(timeout: .now() + .seconds(5)) == .timedOut { break }
        }
        return events.withLock { $0 }
    }

    var all: [EdgeEvent] { events.withLock { $0 } }
}

let clock = SystemClock()
let gpio = LinuxGPIO(clock: clock)
print(
    "libgpiod \(gpio.libgpiodVersion) (API \(gpio.libgpiodAPIMajor)), chip \(chipPath) '\(chipLabel)', I2C \(i2cBus)"
)

check("chips are listed with their labels and found by label") {
    let chips = try gpio.chips()
    try expect(
        chips.contains { $0.label == chipLabel && $0.lineCount == 24 }, "main chip missing from \(chips)")
    let aux = try gpio.openChip(.label(auxLabel))
    try expect(aux.info.path == auxPath, "label lookup opened \(aux.info.path), expected \(auxPath)")
    try expect(aux.info.lineCount == 4, "aux chip has \(aux.info.lineCount) lines")
    try expect(try aux.resolve(.name("AUX2")) == 2, "AUX2 is not offset 2")
}

let chip: any GPIOChip
do {
    chip = try gpio.openChip(.path(chipPath))
} catch {
    print("FAIL cannot open \(chipPath): \(error)")
    print("0 passed, 1 failed, 0 skipped")
    exit(1)
}

check("line names resolve to offsets; unknown names suggest near matches") {
    try expect(try chip.resolve(.name("MOTOR_IN1")) == 8, "MOTOR_IN1 is not offset 8")
    do {
        _ = try chip.resolve(.name("MOTOR_IN3"))
        throw CheckFailure(description: "MOTOR_IN3 resolved")
    } catch let error as GPIOError {
        try expect(error.kind == .noSuchLine, "kind \(error.kind)")
        try expect(error.detail.contains("MOTOR_IN1"), "no suggestion in: \(error)")
    }
}

check("a missing chip label lists the chips that exist") {
    do {
        _ = try gpio.openChip(.label("pinctrl-rp1"))
        throw CheckFailure(description: "opened a chip that does not exist")
    } catch let error as GPIOError {
        try expect(error.kind == .noSuchChip, "kind \(error.kind)")
        try expect(error.detail.contains(chipLabel), "listing lacks \(chipLabel): \(error)")
    }
}

check("a pulled-up input reads active and reports a falling edge with a monotonic timestamp") {
    let request = try chip.requestLines(
        [LineConfig(.name("ROW0"), .input(bias: .pullUp, edges: .both))], consumer: "kt")
    defer { request.release() }
    try expect(try request.values() == [.active], "ROW0 with pull-up reads \(try request.values())")
    let sink = EventSink()
    sink.attach(request)
    let before = SystemClock.monotonicNow()
    try writeFile(simFile(0, "pull"), "pull-down")
    let events = sink.wait(for: 1)
    let after = SystemClock.monotonicNow()
    try expect(events.map(\.kind) == [.falling], "events \(events)")
    let stamp = events[0].timestamp
    try expect(stamp >= before && stamp <= after, "timestamp \(stamp) outside [\(before), \(after)]")
    try expect(try request.values() == [.inactive], "ROW0 after pull-down reads \(try request.values())")
}

check("active-low inverts the value and the edge direction") {
    try writeFile(simFile(1, "pull"), "pull-up")
    let request = try chip.requestLines(
        [LineConfig(.name("ROW1"), .input(bias: .pullUp, activeLow: true, edges: .both))], consumer: "kt")
    defer { request.release() }
    try expect(try request.values() == [.inactive], "pulled-up active-low line reads \(try request.values())")
    let sink = EventSink()
    sink.attach(request)
    try writeFile(simFile(1, "pull"), "pull-down")
    let events = sink.wait(for: 1)
    try expect(events.map(\.kind) == [.rising], "pressing an active-low key gave \(events.map(\.kind))")
    try expect(try request.values() == [.active], "pressed reads \(try request.values())")
}

check("a group of inputs is read in one call") {
    for (offset, pull) in [(4, "pull-up"), (5, "pull-down"), (6, "pull-up"), (7, "pull-down")]
        as [(UInt32, String)]
    {
        try writeFile(simFile(offset, "pull"), pull)
    }
    let request = try chip.requestLines(
        ["COL0", "COL1", "COL2", "COL3"].map { LineConfig(.name($0), .input()) }, consumer: "kt")
    defer { request.release() }
    try expect(
        try request.values() == [.active, .inactive, .active, .inactive], "group read \(try request.values())"
    )
}

check("outputs drive the pin per polarity, seen through sysfs; release returns the line to its pull") {
    let request = try chip.requestLines(
        [
            LineConfig(.name("MOTOR_IN1"), .output(initial: .active)),
            LineConfig(.name("MOTOR_IN2"), .output(initial: .active, activeLow: true)),
        ], consumer: "kt")
    try expect(
        try readFile(simFile(8, "value")) == "1", "IN1 active reads \(try readFile(simFile(8, "value")))")
    try expect(
        try readFile(simFile(9, "value")) == "0",
        "active-low IN2 active reads \(try readFile(simFile(9, "value")))")
    try request.setValues([.inactive, .inactive])
    try expect(try readFile(simFile(8, "value")) == "0", "IN1 inactive reads 1")
    try expect(try readFile(simFile(9, "value")) == "1", "active-low IN2 inactive reads 0")
    try request.setValue(.active, at: 0)
    request.release()
    try expect(try readFile(simFile(8, "value")) == "0", "released IN1 did not fall back to its pull-down")
}

check("a held line is busy and names its holder") {
    let first = try chip.requestLines([LineConfig(.name("BUZZER"), .output())], consumer: "kt-holder")
    defer { first.release() }
    do {
        _ = try chip.requestLines([LineConfig(.name("BUZZER"), .output())], consumer: "kt")
        throw CheckFailure(description: "the second request succeeded")
    } catch let error as GPIOError {
        try expect(error.kind == .lineBusy, "kind \(error.kind), errno \(String(describing: error.errno))")
        try expect(error.detail.contains("kt-holder"), "holder not named: \(error)")
    }
}

check("debounce turns a bouncing press into one event") {
    try writeFile(simFile(2, "pull"), "pull-up")
    let request = try chip.requestLines(
        [
            LineConfig(
                .name("ROW2"),
                .input(bias: .pullUp, activeLow: true, edges: .both, debounce: .milliseconds(30)))
        ],
        consumer: "kt")
    defer { request.release() }
    let sink = EventSink()
    sink.attach(request)
    for pull in ["pull-down", "pull-up", "pull-down", "pull-up", "pull-down"] {
        try writeFile(simFile(2, "pull"), pull)
    }
    let events = sink.wait(for: 1)
    // Give any spurious second event the chance to arrive: wait for a timer well past the period.
    let settled = DispatchSemaphore(value: 0)
    clock.schedule(after: .milliseconds(200)) { settled.signal() }
    settled.wait()
    try expect(events.first?.kind == .rising, "first event \(String(describing: events.first))")
    try expect(sink.all.count == 1, "expected one debounced event, got \(sink.all.map(\.kind))")
}

check("shutdown releases every line still held") {
    let request = try chip.requestLines([LineConfig(.name("LED"), .output(initial: .active))], consumer: "kt")
    try expect(try readFile(simFile(16, "value")) == "1", "LED not driven")
    let other = LinuxGPIO(clock: clock)
    let held = try other.openChip(.path(chipPath)).requestLines(
        [LineConfig(.name("SPARE0"), .output(initial: .active))], consumer: "kt")
    other.shutdown()
    try expect(try readFile(simFile(17, "value")) == "0", "SPARE0 still driven after shutdown")
    do {
        _ = try held.values()
        throw CheckFailure(description: "a released request still works")
    } catch let error as GPIOError {
        try expect(error.kind == .released, "kind \(error.kind)")
    }
    request.release()
}

check("I2C: gauges answer with their preloaded registers in the right byte order") {
    let bus = try LinuxI2CBus(path: i2cBus)
    let max17048 = I2CAddress(constant: 0x36)
    let bq27441 = I2CAddress(constant: 0x55)
    try expect(!(try bus.capabilities()).contains(.i2c), "i2c-stub claims raw I2C")
    try expect(try bus.readWordBigEndian(from: max17048, register: 0x02) == 0xC350, "VCELL")
    try expect(try bus.readWordBigEndian(from: max17048, register: 0x04) == 0x4B80, "SOC")
    try expect(try bus.readWordBigEndian(from: max17048, register: 0x08) == 0x0012, "VERSION")
    try expect(try bus.readWord(from: bq27441, register: 0x04) == 3900, "BQ27441 voltage")
    try expect(try bus.readWord(from: bq27441, register: 0x1C) == 76, "BQ27441 SOC")
    try bus.writeWordBigEndian(0x971D, to: max17048, register: 0x0C)
    try expect(try bus.readWordBigEndian(from: max17048, register: 0x0C) == 0x971D, "CONFIG write-back")
}

check("I2C: a missing address is a no-acknowledge, raw I2C is unsupported") {
    let bus = try LinuxI2CBus(path: i2cBus)
    do {
        _ = try bus.readByte(from: I2CAddress(constant: 0x50), register: 0)
        throw CheckFailure(description: "0x50 answered")
    } catch let error as I2CError {
        try expect(
            error.kind == .noAcknowledge(.address),
            "kind \(error.kind), errno \(String(describing: error.errno))")
    }
    do {
        _ = try bus.writeRead([0x02], readCount: 2, at: I2CAddress(constant: 0x36))
        throw CheckFailure(description: "raw I2C transfer accepted")
    } catch let error as I2CError {
        try expect(error.kind == .unsupported, "kind \(error.kind)")
    }
}

check("I2C: a path that is not a bus says which buses exist") {
    do {
        _ = try LinuxI2CBus(path: "/dev/i2c-9")
        throw CheckFailure(description: "opened /dev/i2c-9")
    } catch let error as I2CError {
        try expect(error.kind == .noSuchDevice, "kind \(error.kind)")
        try expect(error.detail.contains(i2cBus), "listing lacks \(i2cBus): \(error)")
    }
}

check("gauge drivers read the i2c-stub register files: MAX17048 big-endian, BQ27441 little-endian") {
    let bus = try LinuxI2CBus(path: i2cBus)
    let max = try MAX17048(bus: bus, clock: clock).read()
    try expect(max.millivolts == 3906, "MAX17048 voltage \(max.millivolts) mV")
    try expect(max.percent == 75.5, "MAX17048 SOC \(max.percent) %")
    let bq = try BQ27441(bus: bus, clock: clock).read()
    try expect(bq.millivolts == 3900, "BQ27441 voltage \(bq.millivolts) mV")
    try expect(bq.percent == 76, "BQ27441 SOC \(bq.percent) %")
}

check("a gauge at an address nobody answers is a hardware error naming the bus and address") {
    let bus = try LinuxI2CBus(path: i2cBus)
    do {
        _ = try MAX17048(bus: bus, address: I2CAddress(constant: 0x37), clock: clock).read()
        throw CheckFailure(description: "a gauge answered at 0x37")
    } catch let error as DeviceError {
        try expect(error.kind == .hardware, "kind \(error.kind)")
        try expect(error.description.contains("0x37"), "address not named: \(error)")
    }
}

runKeypadChecks(gpio: gpio, chip: chip, clock: clock)
runBoltChecks(chip: chip, clock: clock)
if let boltdPath, let boltdBoard, let boltdConfig {
    runBoltdChecks(BoltdSetup(boltd: boltdPath, board: boltdBoard, config: boltdConfig))
} else {
    runBoltdChecks(nil)
}

gpio.shutdown()
clock.shutdown()
print("\(Report.passed) passed, \(Report.failed) failed, \(Report.skipped) skipped")
exit(Report.failed == 0 && Report.passed > 0 ? 0 : 1)
