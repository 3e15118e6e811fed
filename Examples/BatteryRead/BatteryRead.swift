// battery-read: reads the fuel gauge the board file names and prints the battery's voltage,
// charge and rate. Use it to check the I2C wiring and address before the lock relies on it.
//
//   swift run battery-read --board Boards/simulator.yaml                         # one reading
//   swift run battery-read --board Boards/simulator.yaml --count 3 --every 10 --simulate "wait 12s; battery 20"
//   battery-read --board Boards/raspberry-pi-4b.yaml --count 0 --every 60        # on the Pi, every minute

import ArgumentParser
import BoltworkDrivers
import ExampleSupport
import Foundation

@main
struct BatteryRead: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "battery-read", abstract: "Read the battery gauge once or every few seconds.")

    @OptionGroup var options: BoardOptions

    @Option(help: "How many readings (0: until Ctrl-C).")
    var count = 1

    @Option(help: "Seconds between readings.")
    var every = 10

    func validate() throws {
        guard count >= 0, every >= 1 else { throw ValidationError("--count must be >= 0 and --every >= 1") }
    }

    func run() throws {
        let board = try ExampleBoard(options, consumer: "battery-read")
        defer { board.shutdown() }
        guard let gauge = board.hardware.gauge else {
            throw ValidationError(
                "\(options.board) has no gauge section. Fix: add one (type, bus, address; see Boards/template.yaml)"
            )
        }

        // The MAX17048 has more to show than the common reading: its chip version and the
        // alert threshold it was configured with. Other gauges just give the reading.
        if let max = gauge as? MAX17048 {
            board.say("\(gauge.name): version 0x\(String(try max.version(), radix: 16))")
            board.say("low-charge alert below \(try max.configuration().alertThresholdPercent) %")
        } else {
            board.say(gauge.name)
        }

        // One reading now, then one every `every` seconds on the board's clock.
        let count = self.count
        let every = self.every
        @Sendable func reading(_ number: Int) {
            do {
                let battery = try gauge.read()
                var text = String(
                    format: "%.2f V, %.1f %%", Double(battery.millivolts) / 1000, battery.percent)
                if let rate = battery.ratePercentPerHour { text += String(format: ", %+.1f %%/h", rate) }
                // Flags the gauge raised: `reset` after power-on until the flags are cleared,
                // `voltage low`, `SOC low` and so on.
                if !battery.flags.isEmpty { text += " (\(battery.flags.joined(separator: ", ")))" }
                board.say(text)
            } catch {
                // An implausible reading (a wrong address, a floating bus) is an error, never a level.
                board.say("cannot read the gauge: \(error)")
            }
            if number == count {
                board.finish()
            } else {
                board.clock.schedule(after: .seconds(every)) { reading(number + 1) }
            }
        }
        board.clock.execute { reading(1) }
        try board.run(demo: "", untilFinished: count > 0)
    }
}
