// bolt-watch: prints where the bolt is and whether the door is shut, and every change. Turn
// the bolt by hand and open the door to check the end switches and the reed contact.
//
//   swift run bolt-watch --board Boards/simulator.yaml                           # a short demo
//   swift run bolt-watch --board Boards/simulator.yaml --simulate "turn 100; door open"
//   bolt-watch --board Boards/raspberry-pi-4b.yaml                               # on the Pi; Ctrl-C ends it

import ArgumentParser
import BoltworkDrivers
import ExampleSupport

@main
struct BoltWatch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bolt-watch", abstract: "Print the bolt position and the door state as they change.")

    @OptionGroup var options: BoardOptions

    func run() throws {
        let board = try ExampleBoard(options, consumer: "bolt-watch")
        defer { board.shutdown() }
        let bolt = board.hardware.bolt
        let door = board.hardware.door  // nil when the board file has no door section

        // 1. Where things are now. A contradiction (both end switches closed) is a position
        //    too, `.fault`, never a guess.
        board.say("bolt \(try bolt.position())")
        if let door {
            board.say("door \(try door.state() == .closed ? "closed" : "open")")
        } else {
            board.say("no door contact in \(options.board)")
        }

        // 2. Every change, as the debounced switches report it.
        bolt.setChangeHandler { change in board.say("bolt \(change.position)") }
        door?.setChangeHandler { state, _ in board.say("door \(state == .closed ? "closed" : "open")") }

        // 3. Wait: on a board until Ctrl-C, on the simulator for the demo.
        try board.run(demo: "turn 50; turn 100; door open; wait 1s; door close; turn 0")
        bolt.setChangeHandler(nil)
        door?.setChangeHandler(nil)
    }
}
