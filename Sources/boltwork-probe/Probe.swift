import ArgumentParser
import BoltworkBoard
import BoltworkHAL
import BoltworkLinux
import BoltworkSimulation
import Dispatch

/// `boltwork-probe`: looks at the GPIO chips and I2C buses a lock would use, on a board or on
/// the simulated board. The first thing to run after wiring.
@main
struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "boltwork-probe",
        abstract: "Inspect GPIO chips, lines and I2C devices, on a board or on the simulated board.",
        subcommands: [Chips.self, Lines.self, Watch.self, I2CScan.self, Board.self, Simulate.self],
        defaultSubcommand: Chips.self)
}

/// Exit with a maker-readable message instead of a stack trace.
struct Failure: Error, CustomStringConvertible {
    let description: String
}

extension Probe {
    struct Chips: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List GPIO chips (path, label, lines).")

        func run() throws {
            let clock = SystemClock()
            defer { clock.shutdown() }
            let gpio = LinuxGPIO(clock: clock)
            print("libgpiod \(gpio.libgpiodVersion)")
            let chips = try gpio.chips()
            if chips.isEmpty { print("no GPIO chips in /dev") }
            for chip in chips {
                print("\(chip.path)  label '\(chip.label)'  \(chip.lineCount) lines")
            }
        }
    }

    struct Lines: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the lines of a chip with names and users.")

        @Option(help: "Chip path (/dev/gpiochip0) or label (pinctrl-rp1).")
        var chip: String

        func run() throws {
            let clock = SystemClock()
            defer { clock.shutdown() }
            let opened = try LinuxGPIO(clock: clock).openChip(chipID(chip))
            print("\(opened.info.path) '\(opened.info.label)'")
            for offset in 0..<UInt32(opened.info.lineCount) {
                let line = try opened.lineInfo(at: offset)
                let name = line.name.isEmpty ? "unnamed" : line.name
                let user = line.isUsed ? "  used by '\(line.consumer)'" : ""
                print("  \(offset)\t\(name)\(user)")
            }
        }
    }

    struct Watch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print debounced edges of input lines until interrupted (or until --count edges).")

        @Option(help: "Chip path or label.")
        var chip: String

        @Argument(help: "Line names or offsets.")
        var lines: [String]

        @Option(help: "Bias: pull-up, pull-down, disabled, as-is.")
        var bias: String = "pull-up"

        @Option(help: "Debounce period in milliseconds (0 for none).")
        var debounce: Int = 5

        @Option(help: "Stop after this many edges.")
        var count: Int?

        func run() throws {
            let clock = SystemClock()
            defer { clock.shutdown() }
            let gpio = LinuxGPIO(clock: clock)
            defer { gpio.shutdown() }
            let lineBias: LineBias
            switch bias {
            case "pull-up": lineBias = .pullUp
            case "pull-down": lineBias = .pullDown
            case "disabled": lineBias = .disabled
            case "as-is": lineBias = .asIs
            default:
                throw Failure(
                    description: "unknown bias '\(bias)': use pull-up, pull-down, disabled or as-is")
            }
            let settings = LineSettings.input(
                bias: lineBias, edges: .both, debounce: debounce > 0 ? .milliseconds(debounce) : nil)
            let request = try gpio.openChip(chipID(chip)).requestLines(
                lines.map { LineConfig(lineID($0), settings) }, consumer: "boltwork-probe")
            let names = lines
            let remaining = Protected(count ?? Int.max)
            let done = Protected(false)
            let finished = DispatchSemaphore(value: 0)
            request.setEdgeHandler { event in
                print("\(event.timestamp)  \(names[event.index])  \(event.kind)")
                let stop = remaining.withLock { left -> Bool in
                    left -= 1
                    return left <= 0
                }
                if stop,
                    done.withLock({ flag in
                        defer { flag = true }
                        return !flag
                    })
                {
                    finished.signal()
                }
            }
            print("watching \(names.joined(separator: ", ")) on \(request.chip.path) (Ctrl-C to stop)")
            finished.wait()
        }
    }

    struct I2CScan: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "i2c", abstract: "Find the devices that answer on an I2C bus (like i2cdetect -r).")

        @Option(help: "Bus number (1 for /dev/i2c-1).")
        var bus: Int = 1

        func run() throws {
            let opened = try LinuxI2CBus(bus: bus)
            print(try scan(opened))
        }
    }

    struct Board: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a board file: print what it wires, or every problem with its line and fix.")

        @Argument(help: "The board file (YAML), e.g. Boards/raspberry-pi-4b.yaml.")
        var file: String

        func run() throws {
            let board = try BoardFile.load(path: file)
            print("\(file): \(board.name), default \(board.defaultChip)")
            print(
                "  keypad \(board.keypad.rows.count)x\(board.keypad.columns.count): rows \(board.keypad.rows), columns \(board.keypad.columns)"
            )
            print("  motor \(board.motor.driver.rawValue): in1 \(board.motor.in1), in2 \(board.motor.in2)")
            print("  bolt: \(board.bolt)")
            if let door = board.door { print("  door \(door.line), closed \(door.closedLevel)") }
            if let gauge = board.gauge {
                print(
                    "  gauge \(gauge.kind.rawValue) bus \(gauge.bus.map(String.init) ?? "-") address \(gauge.address?.description ?? "-")"
                )
            }
            print("valid")
        }
    }

    struct Simulate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Run a keypad row and a fuel gauge on the simulated backend and show what the backends see.")

        func run() throws {
            print(try simulatedSession())
        }
    }
}

/// Probes every usable address with a byte read; returns a table of responders.
func scan(_ bus: any I2CBus) throws -> String {
    var found: [String] = []
    for raw in 0x08...0x77 {
        guard let address = I2CAddress(raw) else { continue }
        switch answer(bus, address) {
        case .answered: found.append(address.description + knownDevice(address))
        case .claimed: found.append("\(address) (claimed by a kernel driver)")
        case .silent: continue
        }
    }
    return found.isEmpty
        ? "no devices answered on \(bus.name)"
        : "devices on \(bus.name):\n  " + found.joined(separator: "\n  ")
}

enum ProbeAnswer {
    case answered, claimed, silent
}

/// Asks `address` with a receive-byte, or a byte-data read where the adapter lacks it.
func answer(_ bus: any I2CBus, _ address: I2CAddress) -> ProbeAnswer {
    let capabilities = (try? bus.capabilities()) ?? .all
    let operation: I2COperation =
        capabilities.contains(.smbusReadByte) ? .readByte : .readByteData(register: 0)
    do {
        _ = try bus.perform(operation, at: address)
        return .answered
    } catch {
        return error.kind == .busy ? .claimed : .silent
    }
}

func knownDevice(_ address: I2CAddress) -> String {
    switch address.rawValue {
    case 0x36: " (MAX17048/MAX17049 fuel gauge or AS5600 angle sensor)"
    case 0x40: " (AS5600L angle sensor)"
    case 0x55: " (BQ27441 fuel gauge)"
    case 0x0B: " (LC709203F fuel gauge)"
    default: ""
    }
}

/// A scripted session on the simulated backend: a bouncing key on a keypad row, debounced by
/// the backend, and a gauge register file read through the I2C protocol, on virtual time.
func simulatedSession() throws -> String {
    var out: [String] = []
    let clock = VirtualClock()
    let gpio = SimulatedGPIO(clock: clock)
    let chip = gpio.addChip(label: "boltwork-sim", lineNames: ["ROW0", "ROW1", "COL0", "COL1"])
    let request = try gpio.openChip(.label("boltwork-sim")).requestLines(
        [
            LineConfig(
                .name("ROW0"),
                .input(bias: .pullUp, activeLow: true, edges: .both, debounce: .milliseconds(5)))
        ],
        consumer: "boltwork-probe")
    let events = Protected([String]())
    request.setEdgeHandler { event in
        events.withLock {
            $0.append("\(event.timestamp)  ROW0 \(event.kind == .rising ? "pressed" : "released")")
        }
    }
    out.append(
        "simulated chip \(chip.info.path) '\(chip.info.label)': ROW0 pulled up, active-low, 5 ms debounce")
    for (ms, level) in [
        (10, PinLevel.low), (11, .high), (12, .low), (13, .high), (14, .low), (120, .high), (121, .low),
        (122, .high),
    ] {
        clock.advance(to: MonotonicInstant.zero + .milliseconds(ms))
        chip.drive("ROW0", to: level)
    }
    clock.advance(by: .milliseconds(50))
    out.append("raw level changes on ROW0: \(chip.history(of: "ROW0").count - 1); debounced events:")
    out.append(contentsOf: events.withLock { $0 }.map { "  " + $0 })
    request.release()

    let bus = SimulatedI2CBus(capabilities: .smbus)
    let gauge = RegisterFileDevice()
    gauge.setWordBigEndian(0xC350, at: 0x02)
    gauge.setWordBigEndian(0x4B80, at: 0x04)
    gauge.setWordBigEndian(0x0012, at: 0x08)
    let address = I2CAddress(constant: 0x36)
    bus.attach(gauge, at: address)
    let vcell = try bus.readWordBigEndian(from: address, register: 0x02)
    let soc = try bus.readWordBigEndian(from: address, register: 0x04)
    out.append(try scan(bus))
    out.append(
        "gauge at \(address): VCELL 0x\(String(vcell, radix: 16)) = \(Int(vcell) * 78125 / 1_000_000) mV, SOC 0x\(String(soc, radix: 16)) = \(Double(soc) / 256) %"
    )
    return out.joined(separator: "\n")
}

func chipID(_ text: String) -> GPIOChipID {
    text.hasPrefix("/") ? .path(text) : .label(text)
}

func lineID(_ text: String) -> GPIOLineID {
    if let offset = UInt32(text) { return .offset(offset) }
    return .name(text)
}
