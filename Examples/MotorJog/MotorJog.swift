// motor-jog: runs the bolt motor briefly in one direction, stopping early at the end of travel.
// Use it to check the motor wiring and which way `extend` turns before trusting the lock.
//
//   swift run motor-jog --board Boards/simulator.yaml extend                     # 300 ms out
//   swift run motor-jog --board Boards/simulator.yaml extend --milliseconds 3000 # to the end
//   motor-jog --board Boards/raspberry-pi-4b.yaml retract --milliseconds 200     # on the Pi
//
// If `extend` pulls the bolt back, set `extend: reverse` in the board file's motor section.

import ArgumentParser
import BoltworkDrivers
import ExampleSupport

/// The direction as typed on the command line.
enum Way: String, ExpressibleByArgument, CaseIterable {
    case extend, retract

    var direction: BoltDirection { self == .extend ? .extend : .retract }
}

@main
struct MotorJog: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "motor-jog", abstract: "Run the bolt motor briefly; stop early at the end of travel.")

    @OptionGroup var options: BoardOptions

    @Argument(help: "Which way to move the bolt: extend (lock) or retract (unlock).")
    var way: Way

    @Option(help: "The longest the motor runs, in milliseconds (the driver's max-run-ms still applies).")
    var milliseconds = 300

    func validate() throws {
        guard (1...60_000).contains(milliseconds) else {
            throw ValidationError("--milliseconds must be from 1 to 60000")
        }
    }

    func run() throws {
        let board = try ExampleBoard(options, consumer: "motor-jog")
        defer { board.shutdown() }
        let motor = board.hardware.motor
        let bolt = board.hardware.bolt
        let direction = way.direction
        let milliseconds = self.milliseconds
        let end: BoltPosition = direction == .extend ? .extended : .retracted

        board.say("bolt \(try bolt.position())")
        guard try bolt.position() != end else {
            board.say("the bolt is already \(end): nothing to do")
            return
        }

        // Three ways the jog ends; whichever comes first stops the motor, the others do nothing.
        @Sendable func stop(_ why: String) {
            guard board.finish() else { return }
            do {
                try motor.stop()
                board.say("motor stopped: \(why)")
            } catch {
                board.say("motor: \(error)")
            }
        }
        // 1. The sensor sees the end of travel: never push the bolt into its stop.
        bolt.setChangeHandler { change in
            board.say("bolt \(change.position)")
            if change.position == end { stop("the bolt reached the end") }
        }
        // 2. The driver ends the run itself (its max-run-ms, a stall input, a GPIO fault).
        motor.setStopHandler { reason, _ in stop("the driver ended the run (\(reason))") }
        // 3. The jog's own time is up.
        board.clock.schedule(after: .milliseconds(milliseconds)) { stop("\(milliseconds) ms are up") }

        board.say("running the motor to \(direction) the bolt")
        try motor.run(direction)
        try board.run(demo: "", untilFinished: true)
        stop("interrupted")  // Ctrl-C on a board: stop before anything else
        bolt.setChangeHandler(nil)
        motor.setStopHandler(nil)
        board.say("bolt \(try bolt.position())")
    }
}
