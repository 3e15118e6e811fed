import BoltworkBoard
import BoltworkDrivers
import BoltworkHAL
import BoltworkSimulation
import Foundation
import Testing

@Suite("Simulated board from a board file")
struct SimulatedBoardTests {
    let clock = VirtualClock()
    let board: BoardFile

    init() throws {
        board = try BoardFile.load(
            path: BoardFileTests.boardsDirectory.appendingPathComponent("simulator.yaml").path)
    }

    @Test("the real drivers over the simulator board: keys, bolt travel, door and gauge")
    func wholeLock() throws {
        let sim = try SimulatedBoard(board: board, clock: clock, batteryPercent: 60)
        let hardware = try sim.hardware()
        defer { hardware.shutdown() }

        let keys = Protected([Character]())
        hardware.keypad.setKeyHandler { event in
            if event.kind == .press { keys.withLock { $0.append(event.key) } }
        }
        try hardware.keypad.start()
        sim.keypad.type("1234#")
        clock.advance(by: .seconds(2))
        #expect(keys.withLock { $0 } == ["1", "2", "3", "4", "#"])

        #expect(try hardware.bolt.position() == .retracted)
        try hardware.motor.run(.extend)
        #expect(clock.advance(until: { (try? hardware.bolt.position()) == .extended }, limit: .seconds(3)))
        try hardware.motor.stop()
        #expect(sim.mechanism.percent > 97)

        #expect(try hardware.door?.state() == .closed)
        sim.mechanism.openDoor()
        clock.advance(by: .milliseconds(100))
        #expect(try hardware.door?.state() == .open)

        let reading = try #require(try hardware.gauge?.read())
        #expect(abs(reading.percent - 60) < 1)
        #expect(sim.battery.stateOfCharge < 60, "the motor run drew charge")
    }

    @Test("shutdown leaves the motor in its safe state and releases every line")
    func shutdown() throws {
        let sim = try SimulatedBoard(board: board, clock: clock)
        let hardware = try sim.hardware()
        try hardware.motor.run(.extend)
        clock.advance(by: .milliseconds(200))
        hardware.shutdown()
        let chip = try #require(sim.gpio.chip(labelled: "boltwork-sim"))
        #expect(!chip.hasRequestedLines)
        clock.advance(by: .seconds(2))
        #expect(sim.mechanism.percent < 50, "the bolt stopped when the motor was shut down")
    }

    @Test("a second daemon on the same board finds its lines busy, and nothing is left requested")
    func busy() throws {
        let sim = try SimulatedBoard(board: board, clock: clock)
        let first = try sim.hardware()
        defer { first.shutdown() }
        let error = #expect(throws: DeviceError.self) { try sim.hardware() }
        #expect(error?.device == "keypad")
        #expect(error?.description.contains("line busy") == true)
    }
}
