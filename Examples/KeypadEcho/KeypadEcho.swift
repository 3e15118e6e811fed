// keypad-echo: prints every key the keypad reports. Run it first on a new lock: it proves the
// rows, the columns and the key map before any code is typed.
//
//   swift run keypad-echo --board Boards/simulator.yaml                          # a short demo
//   swift run keypad-echo --board Boards/simulator.yaml --simulate "keys 42#"    # your keys
//   keypad-echo --board Boards/raspberry-pi-4b.yaml                              # on the Pi; Ctrl-C ends it

import ArgumentParser
import BoltworkDrivers
import ExampleSupport

@main
struct KeypadEcho: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keypad-echo", abstract: "Print every key press and release the keypad reports.")

    @OptionGroup var options: BoardOptions

    func run() throws {
        // 1. The drivers the board file describes, on real or simulated hardware.
        let board = try ExampleBoard(options, consumer: "keypad-echo")
        defer { board.shutdown() }
        let keypad = board.hardware.keypad

        // 2. Say what happens. Handlers run on the board's clock, one at a time; the keypad
        //    debounces, scans the matrix and discards ghost scans before it calls this.
        keypad.setKeyHandler { event in
            switch event.kind {
            case .press: board.say("key \(event.key) pressed")
            case .release: board.say("key \(event.key) released")
            case .stuck: board.say("key \(event.key) held too long: ignored until released")
            }
        }
        keypad.setErrorHandler { error in board.say("keypad error: \(error)") }

        // 3. Start scanning, then wait: on a board until Ctrl-C, on the simulator for the demo.
        try keypad.start()
        let size = "\(board.file.keypad.rows.count)x\(board.file.keypad.columns.count)"
        board.say("keypad ready (\(size)); press some keys")
        try board.run(demo: "keys 1; keys 5; keys 9; wait 500ms; keys *0#")
    }
}
