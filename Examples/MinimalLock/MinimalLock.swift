// minimal-lock: a whole keypad lock in a page, built from the library's pieces. The owner's
// code is read once at start (there is no default code) and only its salted slow hash is kept;
// a right code unlocks, every move is confirmed by the bolt sensor, and the bolt locks again
// after a few seconds. Wrong codes count towards a timed lockout.
//
//   echo 246810 | swift run minimal-lock --board Boards/simulator.yaml   # a short demo
//   minimal-lock --board Boards/raspberry-pi-4b.yaml                     # asks for the code; Ctrl-C ends it
//
// A real lock (boltd) adds what this one leaves out: users in a database that survives
// restarts, an audit log, the battery policy, door rules and a control socket.

import ArgumentParser
import BoltworkDrivers
import BoltworkLock
import ExampleSupport

@main
struct MinimalLock: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "minimal-lock", abstract: "A keypad lock in a page: a code, a motor and its sensor.")

    @OptionGroup var options: BoardOptions

    @Option(help: "Seconds after an unlock before the bolt is thrown again.")
    var relockSeconds = 5

    func run() throws {
        let board = try ExampleBoard(options, consumer: "minimal-lock")
        defer { board.shutdown() }
        let parts = board.hardware

        // 1. Who may open: one owner. The access layer hashes the code (scrypt, with a secret of
        //    this install), checks every entry in constant time and counts wrong codes.
        let access = try AccessController(store: MemoryLockStore(), wallClock: board.wallClock)
        let code = ExampleBoard.readSecret(prompt: "The owner's code (6-10 digits): ")
        guard let code, !code.isEmpty else {
            throw ValidationError("no code given. Fix: type the owner's code, or pipe it to standard input")
        }
        try access.initializeAdmin(name: "owner", pin: code)

        // 2. How the bolt moves: the bolt controller runs the H-bridge and believes only the
        //    sensor. A move the sensor does not confirm in time is a jam, and the motor stops.
        let bolt = try BoltController(
            motor: parts.motor, sensor: parts.bolt, door: parts.door, clock: board.clock,
            configuration: BoltController.Configuration(autoRelockDelay: .seconds(relockSeconds)))
        bolt.setStateChangeHandler { change in board.say("bolt \(change.state)") }

        // 3. What is typed: digits collect into one entry, `#` submits it, `*` clears it.
        let entries = KeyCollector.Configuration(minimumLength: 6, maximumLength: 10)
        let keys = try KeyCollector(clock: board.clock, configuration: entries)
        parts.keypad.setKeyHandler { event in keys.handle(event) }
        keys.setOutcomeHandler { outcome, _ in
            guard case .submitted(let entry) = outcome else { return board.say("entry dropped: \(outcome)") }
            do {
                switch try access.authorize(entry) {
                case .granted:
                    board.say("code accepted")
                    try? parts.buzzer?.play(.accepted)
                    bolt.unlock(source: .keypad)
                case .refused(let refusal):
                    board.say("code refused: \(refusal.detail)")  // the detail never holds the code
                    try? parts.buzzer?.play(.refused)
                }
            } catch {
                board.say("cannot check the code, so the door stays shut: \(error)")
            }
        }

        // 4. Start: read where the bolt is, lock, and listen to the keypad.
        board.say("lock ready, bolt \(bolt.start())")
        bolt.lock(source: .button)
        try parts.keypad.start()

        // On the simulator: a wrong code, then the owner's, then the auto-relock.
        let wrong = String(code.dropLast()) + (code.hasSuffix("0") ? "1" : "0")
        try board.run(demo: "wait 2s; keys \(wrong)#; wait 1s; keys \(code)#; wait \(relockSeconds + 3)s")
        bolt.shutdown()
    }
}
