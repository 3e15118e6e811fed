import BoltworkBoard
import BoltworkDaemon
import BoltworkDrivers
import BoltworkHAL
import BoltworkLock
import BoltworkSimulation
import Foundation
import Testing

/// The wiring self-test on the simulated board, healthy and with seeded wiring faults, on
/// virtual time.
final class SelfTestBench: Sendable {
    static let simulatorBoard: BoardFile = {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Boards/simulator.yaml").path
        do {
            return try BoardFile.load(path: path)
        } catch {
            preconditionFailure("Boards/simulator.yaml does not load: \(error)")
        }
    }()

    let clock = VirtualClock()
    let sim: SimulatedBoard
    let store: MemoryLockStore
    let person: AutomaticOperator
    let test: WiringSelfTest
    /// Whether the motor was powered at the moment each motor finding was reported.
    let poweredAtMotorFindings = Protected([Bool]())

    /// `board` is what the self-test is told; `wiring` is how the simulated hardware is really
    /// built (the same file unless a test makes them differ).
    init(
        board: BoardFile = SelfTestBench.simulatorBoard, wiring: BoardFile? = nil,
        faults: SimulatedBoard.Faults = .init(), config: LockConfigFile = LockConfigFile(),
        options: WiringSelfTest.Options = .init(), store: MemoryLockStore = MemoryLockStore(),
        confirm: @escaping @Sendable (String) -> Bool = { _ in true }
    ) throws {
        sim = try SimulatedBoard(board: wiring ?? board, clock: clock, faults: faults)
        self.store = store
        let sim = self.sim
        let powered = poweredAtMotorFindings
        person = AutomaticOperator(
            keypad: sim.keypad, clock: clock, confirm: confirm,
            output: { line in
                guard line.hasPrefix("[FAIL] motor") || line.hasPrefix("[ok] motor") else { return }
                powered.withLock { $0.append(Self.motorPowered(sim)) }
            })
        test = WiringSelfTest(
            board: board, config: config, gpio: sim.gpio,
            i2c: { number throws(I2CError) in try sim.i2cBus(number) },
            timeline: VirtualTimeline(clock: clock), store: store,
            wallClock: LinkedWallClock(clock: clock, epoch: Date(timeIntervalSince1970: 1_800_000_000)),
            operator: person, options: options)
    }

    /// Whether the simulated H-bridge is driving the motor or the bolt moves.
    var motorPowered: Bool { Self.motorPowered(sim) }

    static func motorPowered(_ sim: SimulatedBoard) -> Bool {
        let bridge = sim.mechanism.bridgeState
        return bridge == .forward || bridge == .reverse || sim.mechanism.isMoving
            || sim.mechanism.loadMilliamps > 0
    }

    /// Whether the motor was off each time a motor finding was made.
    var stoppedAtEveryMotorFinding: Bool {
        let powered = poweredAtMotorFindings.withLock { $0 }
        return !powered.isEmpty && !powered.contains(true)
    }

    func storedThrows() throws -> (lock: Int?, unlock: Int?) {
        let calibration = try BoltCalibration.load(from: store)
        return (calibration.lockThrowMilliseconds, calibration.unlockThrowMilliseconds)
    }
}

extension SelfTestReport {
    func messages(in step: SelfTestStep, _ status: SelfTestFinding.Status) -> [String] {
        findings(in: step).filter { $0.status == status }.map(\.description)
    }
}

@Suite("Wiring self-test")
struct SelfTestTests {
    static let travel = 1500

    @Test("passes on the simulator and stores throw times that match the mechanism")
    func healthy() throws {
        let bench = try SelfTestBench()
        let report = bench.test.run()

        #expect(report.passed, "\(report.failures)")
        #expect(!report.interrupted)
        #expect(
            report.messages(in: .lines, .passed).contains { $0.contains("all 16 lines exist and are free") })
        #expect(
            report.messages(in: .devices, .passed).contains {
                $0.contains("MAX17048 at 0x36 on /dev/i2c-1 answers: VERSION 0x0012")
            })
        #expect(
            report.messages(in: .devices, .passed).contains { $0.contains("end switches read retracted") })
        #expect(report.messages(in: .keypad, .passed) == ["[ok] keypad: all 12 keys answer as mapped"])
        #expect(report.messages(in: .motor, .passed).contains { $0.contains("the bolt moves the right way") })
        #expect(report.findings(in: .motor).allSatisfy { $0.status == .passed })
        #expect(report.calibrationStored)

        // The mechanism takes 1500 ms end to end; the switch closes 2 % before the end and is
        // debounced 10 ms, so the measured throw lands within a few tens of milliseconds.
        let (lock, unlock) = try bench.storedThrows()
        let lockThrow = try #require(lock)
        let unlockThrow = try #require(unlock)
        #expect(abs(lockThrow - Self.travel) <= 60, "lock throw \(lockThrow) ms")
        #expect(abs(unlockThrow - Self.travel) <= 60, "unlock throw \(unlockThrow) ms")
        #expect(report.calibration?.lockThrowMilliseconds == lockThrow)

        // An admin audit record says what was stored, never silently.
        let records = try bench.store.auditRecords(AuditQuery(actions: [.settingsChanged]))
        #expect(records.count == 1)
        #expect(records.first?.event.detail.contains("lock throw \(lockThrow) ms") == true)
        #expect(records.first?.event.action.category == .admin)

        // Every key was prompted, the bolt is back at the retracted end and the motor is off.
        #expect(bench.person.transcript.filter { $0.hasPrefix("press ") }.count == 12)
        #expect(bench.sim.mechanism.percent < 2)
        #expect(!bench.motorPowered)
        #expect(bench.stoppedAtEveryMotorFinding)
    }

    @Test("a bolt between its ends is first retracted, then both throws are measured")
    func startsBetweenEnds() throws {
        let bench = try SelfTestBench(options: .init(skipKeypad: true))
        bench.sim.mechanism.turnByHand(to: 40, over: .milliseconds(500))
        bench.clock.advance(by: .seconds(1))
        let report = bench.test.run()
        #expect(report.passed, "\(report.failures)")
        #expect(report.findings(in: .keypad).map(\.status) == [.skipped])
        #expect(bench.person.transcript.contains { $0.contains("retracting it to a known end first") })
        let (lock, unlock) = try bench.storedThrows()
        #expect(lock.map { abs($0 - Self.travel) <= 60 } == true)
        #expect(unlock.map { abs($0 - Self.travel) <= 60 } == true)
        #expect(!bench.motorPowered)
        #expect(bench.stoppedAtEveryMotorFinding)
    }

    @Test(
        "swapped motor inputs: the wrong-way finding, the motor stopped, nothing stored",
        arguments: [0.0, 40.0, 100.0])
    func swappedMotor(startPercent: Double) throws {
        let bench = try SelfTestBench(
            faults: .init(swappedMotorInputs: true), options: .init(skipKeypad: true))
        if startPercent > 0 {
            bench.sim.mechanism.turnByHand(to: startPercent, over: .milliseconds(500))
            bench.clock.advance(by: .seconds(1))
        }
        let report = bench.test.run()

        #expect(!report.passed)
        let motor = report.messages(in: .motor, .failed)
        #expect(motor.count == 1)
        #expect(motor.first?.contains("the bolt moved the wrong way") == true)
        #expect(
            motor.first?.contains("swap IN1/IN2 in the board file (motor.in1/motor.in2: MOTOR_IN1/MOTOR_IN2)")
                == true)
        #expect(!bench.motorPowered)
        #expect(bench.stoppedAtEveryMotorFinding)
        #expect(!report.calibrationStored)
        let stored = try bench.storedThrows()
        #expect(stored.lock == nil && stored.unlock == nil)
        #expect(try bench.store.auditRecords(AuditQuery()).isEmpty)
        // The other steps are unaffected.
        #expect(report.findings(in: .devices).allSatisfy { $0.status == .passed })
    }

    @Test("a dead key is named with its row and column lines; the rest still passes")
    func deadKey() throws {
        let bench = try SelfTestBench(faults: .init(deadKeys: ["5"]), options: .init(keyTimeout: .seconds(3)))
        let report = bench.test.run()

        let keypad = report.messages(in: .keypad, .failed)
        #expect(keypad.count == 1)
        let finding = try #require(keypad.first)
        #expect(finding.contains("key 5 gave no key press"))
        #expect(finding.contains("keypad.rows[1] (ROW1)"))
        #expect(finding.contains("keypad.columns[1] (COL1)"))
        #expect(finding.contains("the key's switch or its trace is broken"))
        #expect(report.findings(in: .motor).allSatisfy { $0.status == .passed })
        #expect(report.calibrationStored)
    }

    @Test("a dead row wire names the row line")
    func deadRow() throws {
        let board = SelfTestBench.simulatorBoard
        let faults = try SimulatedBoard.Faults(specifications: ["dead-line:ROW2"], board: board)
        #expect(faults.deadKeys == ["7", "8", "9"])
        let bench = try SelfTestBench(faults: faults, options: .init(keyTimeout: .seconds(2)))
        let report = bench.test.run()
        let keypad = report.messages(in: .keypad, .failed)
        #expect(keypad.count == 1)
        #expect(keypad.first?.contains("no key on row 3 (7 8 9) answers") == true)
        #expect(keypad.first?.contains("the row line keypad.rows[2] (ROW2) is dead") == true)
    }

    @Test("a wrong key on the same row means two columns are swapped")
    func swappedColumns() throws {
        // The keypad is wired COL0, COL1, COL2; the board file says COL1, COL0, COL2.
        var told = SelfTestBench.simulatorBoard
        told.keypad.columns.swapAt(0, 1)
        let bench = try SelfTestBench(board: told, wiring: SelfTestBench.simulatorBoard)
        let report = bench.test.run()
        let keypad = report.messages(in: .keypad, .failed)
        #expect(keypad.count == 1)
        #expect(keypad.first?.contains("columns 1 and 2 read swapped") == true)
        #expect(
            keypad.first?.contains(
                "swap keypad.columns[0] (COL1) and keypad.columns[1] (COL0) in the board file")
                == true)
        #expect(bench.person.transcript.contains("  1: got 2"))
    }

    @Test("a missing gauge is a clear finding; the motor step still runs")
    func missingGauge() throws {
        let bench = try SelfTestBench(faults: .init(missingGauge: true), options: .init(skipKeypad: true))
        let report = bench.test.run()
        let devices = report.messages(in: .devices, .failed)
        #expect(devices.count == 1)
        let finding = try #require(devices.first)
        #expect(finding.contains("MAX17048 at 0x36 on /dev/i2c-1 does not answer"))
        #expect(finding.contains("nothing answers at 0x36 on bus 1"))
        #expect(finding.contains("SDA/SCL"))
        #expect(report.findings(in: .motor).allSatisfy { $0.status == .passed })
        #expect(report.calibrationStored)
    }

    @Test("a line held by the running daemon: stop boltd first, nothing else is touched")
    func busyLine() throws {
        let bench = try SelfTestBench()
        let chip = try #require(bench.sim.gpio.chip(labelled: "boltwork-sim"))
        chip.hold("MOTOR_IN1", consumer: "boltd")
        let report = bench.test.run()

        let lines = report.messages(in: .lines, .failed)
        #expect(
            lines == [
                "[FAIL] lines: motor.in1 (MOTOR_IN1) is busy: held by 'boltd': stop boltd first: systemctl stop boltd"
            ])
        for step in [SelfTestStep.devices, .keypad, .motor, .calibration] {
            #expect(report.findings(in: step).map(\.status) == [.skipped])
        }
        #expect(bench.person.transcript.allSatisfy { !$0.hasPrefix("press ") })
        #expect(bench.sim.mechanism.percent == 0)
        #expect(chip.lineState(of: "ROW0") == .unrequested)
    }

    @Test("the daemon's own requests make the lines busy too")
    func daemonRunning() throws {
        let bench = try SelfTestBench()
        let daemon = try bench.sim.hardware()
        defer { daemon.shutdown() }
        let report = bench.test.run()
        #expect(!report.passed)
        #expect(report.findings(in: .lines).allSatisfy { $0.fix == "stop boltd first: systemctl stop boltd" })
    }

    @Test("an abort during a move stops the motor at once and ends the run")
    func abortMidMove() throws {
        let bench = try SelfTestBench(options: .init(skipKeypad: true))
        let test = bench.test
        let mechanism = bench.sim.mechanism
        // The motor step starts at time zero (nothing before it takes virtual time).
        let percentAtAbort = Protected(-1.0)
        bench.clock.schedule(after: .milliseconds(700)) {
            test.abort()
            percentAtAbort.withLock { $0 = mechanism.percent }
        }
        let report = test.run()
        #expect(report.interrupted)
        #expect(!report.passed)
        #expect(!report.calibrationStored)
        let stoppedAt = percentAtAbort.withLock { $0 }
        #expect(stoppedAt > 10 && stoppedAt < 90, "aborted at \(stoppedAt) %")
        #expect(!bench.motorPowered)
        bench.clock.advance(by: .seconds(5))
        #expect(abs(mechanism.percent - stoppedAt) < 0.001)
        #expect(bench.person.transcript.contains { $0.hasPrefix("interrupted") })
    }

    @Test("declining to move the bolt skips the motor step and stores nothing")
    func declined() throws {
        let bench = try SelfTestBench(options: .init(skipKeypad: true), confirm: { _ in false })
        let report = bench.test.run()
        #expect(report.findings(in: .motor).map(\.status) == [.skipped])
        #expect(report.findings(in: .calibration).map(\.status) == [.skipped])
        #expect(bench.sim.mechanism.percent == 0)
        let stored = try bench.storedThrows()
        #expect(stored.lock == nil && stored.unlock == nil)
    }

    @Test("a motor without power: no sensor change, check the supply and the enable line")
    func noPower() throws {
        let bench = try SelfTestBench(options: .init(skipKeypad: true))
        bench.sim.mechanism.cutPower()
        let report = bench.test.run()
        let motor = report.messages(in: .motor, .failed)
        #expect(motor.count == 1)
        #expect(motor.first?.contains("no bolt sensor change within 2 s") == true)
        #expect(
            motor.first?.contains(
                "check the motor supply and the H-bridge enable line (motor.enable: MOTOR_SLEEP)")
                == true)
        #expect(!bench.motorPowered)
        #expect(bench.stoppedAtEveryMotorFinding)
    }

    @Test("a jammed bolt: started but did not reach the end")
    func jammed() throws {
        let bench = try SelfTestBench(options: .init(skipKeypad: true))
        bench.sim.mechanism.jam(at: 50)
        let report = bench.test.run()
        let motor = report.messages(in: .motor, .failed)
        #expect(motor.count == 1)
        #expect(motor.first?.contains("did not reach the extended end") == true)
        #expect(motor.first?.contains("max-run-ms") == true)
        #expect(!bench.motorPowered)
        #expect(bench.stoppedAtEveryMotorFinding)
    }

    @Test("fault specifications are read, and bad ones explained")
    func faultSpecifications() throws {
        let board = SelfTestBench.simulatorBoard
        let faults = try SimulatedBoard.Faults(
            specifications: ["swapped-motor", "dead-key:#", "dead-line:COL0", "missing-gauge"], board: board)
        #expect(faults.swappedMotorInputs)
        #expect(faults.missingGauge)
        #expect(faults.deadKeys == ["#", "1", "4", "7", "*"])
        #expect(throws: FaultSpecificationError.self) {
            try SimulatedBoard.Faults(specifications: ["dead-key:X"], board: board)
        }
        do {
            _ = try SimulatedBoard.Faults(specifications: ["loose-wire"], board: board)
            Issue.record("accepted an unknown fault")
        } catch {
            #expect(error.description.contains("unknown fault 'loose-wire'"))
        }
    }
}

@Suite("Wiring self-test: AS5600 calibration")
struct AS5600SelfTestTests {
    static func board(angles: String = "") throws -> BoardFile {
        var text = try String(
            contentsOfFile: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("Boards/simulator.yaml").path,
            encoding: .utf8)
        let switches = """
            bolt:
              sensor: switches
              retracted: BOLT_RETRACTED
              extended: BOLT_EXTENDED
              active: low
              debounce-ms: 10
            """
        #expect(text.contains(switches))
        text = text.replacingOccurrences(
            of: switches, with: "bolt:\n  sensor: as5600\n  bus: 1\n  address: 0x40\n" + angles)
        return try BoardFile.parse(text, file: "as5600.yaml")
    }

    @Test("records the raw angle at each end and both throw times")
    func calibrates() throws {
        let bench = try SelfTestBench(board: try Self.board(), options: .init(skipKeypad: true))
        let report = bench.test.run()
        #expect(report.passed, "\(report.failures)")
        #expect(
            report.messages(in: .devices, .passed).contains {
                $0.contains("AS5600 at 0x40 on /dev/i2c-1 answers")
            })
        let stored = try BoltCalibration.load(from: bench.store)
        let unlocked = try #require(stored.unlockedAngle)
        let locked = try #require(stored.lockedAngle)
        #expect(abs(unlocked - SimulatedBoard.defaultAngles.retracted) <= 3)
        #expect(abs(locked - SimulatedBoard.defaultAngles.extended) <= 3)
        #expect(stored.lockThrowMilliseconds.map { abs($0 - SelfTestTests.travel) <= 20 } == true)
        #expect(stored.unlockThrowMilliseconds.map { abs($0 - SelfTestTests.travel) <= 20 } == true)
        // It asked which way the bolt went: there was nothing to compare with.
        #expect(bench.person.transcript.contains { $0.hasPrefix("Is the bolt now extended (locked)? yes") })
        #expect(!bench.motorPowered)
        #expect(bench.stoppedAtEveryMotorFinding)
        #expect(bench.sim.mechanism.percent == 0)

        // boltd run then assembles the sensor with the stored angles.
        let calibrated = try Self.board().applying(stored)
        guard case .as5600(_, _, let retracted?, let extended?) = calibrated.bolt else {
            Issue.record("the calibration did not fill in the angles")
            return
        }
        #expect(retracted == unlocked && extended == locked)
        let run = try SimulatedBoard(board: calibrated, clock: VirtualClock()).hardware()
        defer { run.shutdown() }
        #expect(try run.bolt.position() == .retracted)
    }

    @Test("swapped motor inputs against known angles: the wrong way, without asking")
    func swappedAgainstReference() throws {
        let board = try Self.board(angles: "  retracted-angle: 1100\n  extended-angle: 2300\n")
        let bench = try SelfTestBench(
            board: board, faults: .init(swappedMotorInputs: true), options: .init(skipKeypad: true))
        let report = bench.test.run()
        let motor = report.messages(in: .motor, .failed)
        #expect(motor.count == 1)
        #expect(motor.first?.contains("the bolt moved the wrong way") == true)
        #expect(motor.first?.contains("the retracted end's 1100 (the board file)") == true)
        #expect(!bench.motorPowered)
        #expect(bench.stoppedAtEveryMotorFinding)
        #expect(try BoltCalibration.load(from: bench.store) == BoltCalibration())
    }

    @Test("without known angles, the person's answer decides the direction")
    func swappedByAnswer() throws {
        let bench = try SelfTestBench(
            board: try Self.board(), faults: .init(swappedMotorInputs: true),
            options: .init(skipKeypad: true),
            confirm: { question in !question.hasPrefix("Is the bolt now extended") })
        let report = bench.test.run()
        #expect(report.messages(in: .motor, .failed).first?.contains("you saw it retract") == true)
        #expect(!bench.motorPowered)
        #expect(bench.stoppedAtEveryMotorFinding)
    }
}

@Suite("Bolt calibration in the daemon")
struct BoltCalibrationTests {
    @Test("the move timeout is the larger of the floor and twice the slowest throw, unless set")
    func moveTimeout() throws {
        let calibration = BoltCalibration(lockThrowMilliseconds: 2600, unlockThrowMilliseconds: 2400)
        #expect(calibration.moveTimeoutMilliseconds(for: LockConfigFile()) == 5200)
        #expect(
            BoltCalibration(lockThrowMilliseconds: 900).moveTimeoutMilliseconds(for: LockConfigFile()) == 3000
        )
        #expect(BoltCalibration().moveTimeoutMilliseconds(for: LockConfigFile()) == 3000)
        let explicit = try LockConfigFile.parse("move-timeout-ms: 4000\n", file: "lock.yaml")
        #expect(explicit.moveTimeoutIsExplicit)
        #expect(calibration.moveTimeoutMilliseconds(for: explicit) == 4000)
        #expect(!LockConfigFile().moveTimeoutIsExplicit)
    }

    @Test("boltd's lock uses the stored calibration; bad stored values are ignored and named")
    func runningLock() throws {
        let store = MemoryLockStore()
        try store.commit(
            StoreChange(settings: [
                BoltCalibration.lockThrowKey: "2500", BoltCalibration.unlockThrowKey: "slow",
                BoltCalibration.lockedAngleKey: "5000",
            ]))
        let loaded = try BoltCalibration.load(from: store)
        #expect(loaded.lockThrowMilliseconds == 2500)
        #expect(loaded.unlockThrowMilliseconds == nil)
        #expect(loaded.lockedAngle == nil)
        #expect(loaded.ignored.count == 2)
        #expect(loaded.ignored.contains { $0.contains("calibration.unlockThrowMilliseconds is 'slow'") })

        let clock = VirtualClock()
        let sim = try SimulatedBoard(board: SelfTestBench.simulatorBoard, clock: clock)
        let lock = try RunningLock(
            hardware: try sim.hardware(), store: store,
            wallClock: LinkedWallClock(clock: clock, epoch: Date(timeIntervalSince1970: 1_800_000_000)),
            clock: clock, hashing: .testing)
        defer { lock.shutdown() }
        #expect(lock.config.moveTimeoutMilliseconds == 5000)
    }

    @Test("the settings keys are the documented ones")
    func keys() {
        let calibration = BoltCalibration(
            lockThrowMilliseconds: 1480, unlockThrowMilliseconds: 1490, lockedAngle: 2300, unlockedAngle: 1100
        )
        #expect(
            calibration.settings == [
                "calibration.lockThrowMilliseconds": "1480", "calibration.unlockThrowMilliseconds": "1490",
                "calibration.as5600.lockedAngle": "2300", "calibration.as5600.unlockedAngle": "1100",
            ])
    }
}

/// The self-test as it runs on a board: drivers on a `SystemClock` thread, the test waiting in
/// real time. These take a few seconds (the simulated bolt takes 1.5 s per throw).
@Suite("Wiring self-test in real time")
struct RealTimeSelfTestTests {
    static func make(clock: SystemClock) throws -> (WiringSelfTest, SimulatedBoard, MemoryLockStore) {
        let sim = try SimulatedBoard(board: SelfTestBench.simulatorBoard, clock: clock)
        let store = MemoryLockStore()
        let test = WiringSelfTest(
            board: SelfTestBench.simulatorBoard, gpio: sim.gpio,
            i2c: { number throws(I2CError) in try sim.i2cBus(number) },
            timeline: RealTimeline(clock: clock), store: store, wallClock: SystemWallClock(),
            operator: AutomaticOperator(keypad: sim.keypad, clock: clock),
            options: .init(skipKeypad: true))
        return (test, sim, store)
    }

    @Test("passes with throw times near the mechanism's")
    func passes() throws {
        let clock = SystemClock()
        defer { clock.shutdown() }
        let (test, sim, store) = try Self.make(clock: clock)
        let report = test.run()
        #expect(report.passed, "\(report.failures)")
        let stored = try BoltCalibration.load(from: store)
        // Real time on a busy machine: a generous upper bound, a hard lower one.
        #expect(stored.lockThrowMilliseconds.map { (1400...3000).contains($0) } == true)
        #expect(stored.unlockThrowMilliseconds.map { (1400...3000).contains($0) } == true)
        #expect(!SelfTestBench.motorPowered(sim))
    }

    @Test("an abort from another thread stops the motor mid-move")
    func abort() throws {
        let clock = SystemClock()
        defer { clock.shutdown() }
        let (test, sim, _) = try Self.make(clock: clock)
        // Abort once the bolt is a fifth of the way out, from the clock's thread.
        let mechanism = sim.mechanism
        @Sendable func abortWhenMoving() {
            if mechanism.percent > 20 {
                test.abort()
            } else {
                clock.schedule(after: .milliseconds(2)) { abortWhenMoving() }
            }
        }
        clock.execute { abortWhenMoving() }
        let report = test.run()
        #expect(report.interrupted)
        #expect(!SelfTestBench.motorPowered(sim))
        let percent = mechanism.percent
        #expect(percent > 20 && percent < 80, "stopped at \(percent) %")
    }
}
