import BoltworkDrivers
import BoltworkHAL
import BoltworkLock
import BoltworkSimulation
import Testing

/// Whether two instants are within a microsecond (the model's crossings are computed in
/// floating point and rounded to the nanosecond).
private func near(_ a: MonotonicInstant?, _ b: MonotonicInstant) -> Bool {
    guard let a else { return false }
    return abs(a.nanoseconds - b.nanoseconds) <= 1000
}

private func seconds(_ value: Double) -> MonotonicInstant {
    MonotonicInstant(nanoseconds: Int64((value * 1e9).rounded()))
}

@Suite("Bolt controller with the real drivers on the simulated lock")
struct BoltControllerTests {
    // MARK: Start

    @Test(
        "start takes the state from the end switches and never moves the motor",
        arguments: [
            (0.0, BoltState.unlocked), (100.0, .locked),
            (50.0, .notFullyLocked(position: .between(percent: nil))),
        ])
    func startFromSensors(percent: Double, expected: BoltState) throws {
        let bench = try BoltBench(initialPercent: percent)
        #expect(bench.controller.state == expected)
        #expect(bench.recorder.stateChanges.map(\.cause) == [.startup])
        if percent == 50 {
            #expect(bench.recorder.events == [.notFullyLocked(position: .between(percent: nil), source: nil)])
        } else {
            #expect(bench.recorder.events.isEmpty)
        }
        bench.clock.advance(by: .seconds(30))
        #expect(bench.mechanism.percent == percent)
        #expect(bench.rises(of: "IN1").isEmpty && bench.rises(of: "IN2").isEmpty)
        bench.expectMotorSafe()
    }

    @Test("a command before start is refused and nothing moves")
    func commandBeforeStart() throws {
        let bench = try BoltBench(start: false)
        bench.controller.lock(source: .keypad)
        bench.clock.advance(by: .seconds(5))
        #expect(bench.recorder.events == [.refused(.notStarted, direction: .extend, source: .keypad)])
        #expect(bench.controller.state == .unknown)
        bench.expectMotorSafe()
    }

    // MARK: Moves

    @Test("lock and unlock are confirmed by the end switches, and the motor stops there")
    func lockAndUnlock() throws {
        let bench = try BoltBench()
        bench.controller.lock(source: .keypad)
        #expect(bench.controller.state == .unlocked, "commands return at once and run on the clock")
        bench.clock.runUntilIdle()
        #expect(bench.controller.state == .locking)
        bench.clock.advance(by: .seconds(1))
        #expect(bench.controller.state == .locking, "half-way is not locked")
        bench.clock.advance(by: .seconds(2))
        #expect(bench.controller.state == .locked)
        let locked = bench.recorder.timedEvents
        #expect(locked.map { $0.0 } == [.locked(source: .keypad)])
        // Reported when the extended switch closed at 98 % of the stroke (plus its debounce).
        #expect(near(locked.first?.1, BoltBench.seen(atPercent: 98, from: .zero)))
        #expect(near(bench.falls(of: "IN1").first, BoltBench.seen(atPercent: 98, from: .zero)))
        #expect(bench.mechanism.percent > 98)
        #expect(bench.recorder.stateChanges.map(\.cause).suffix(2) == [.command(.keypad), .sensor])
        bench.expectMotorSafe()

        bench.controller.unlock(source: .remote)
        bench.clock.advance(by: .seconds(3))
        #expect(bench.controller.state == .unlocked)
        #expect(bench.recorder.events.last == .unlocked(source: .remote))
        #expect(bench.recorder.states.suffix(2) == [.unlocking, .unlocked])
        #expect(bench.mechanism.percent < 2)
        #expect(bench.rises(of: "IN1").count == 1 && bench.rises(of: "IN2").count == 1)
        bench.expectMotorSafe()
    }

    @Test("locking a locked bolt completes at once without running the motor")
    func alreadyLocked() throws {
        let bench = try BoltBench(initialPercent: 100)
        bench.controller.lock(source: .schedule)
        bench.clock.advance(by: .seconds(1))
        #expect(bench.recorder.events == [.locked(source: .schedule)])
        #expect(bench.rises(of: "IN1").isEmpty)
        bench.expectMotorSafe()
    }

    @Test("the async wrapper returns the command's own outcome")
    func asyncCommand() async throws {
        let bench = try BoltBench()
        let controller = bench.controller
        let task = Task { await controller.lock(source: .remote) }
        var outcome: BoltOutcome?
        let result = Protected<BoltOutcome?>(nil)
        let waiter = Task {
            let value = await task.value
            result.withLock { $0 = value }
        }
        for _ in 0..<2000 {
            outcome = result.withLock { $0 }
            if outcome != nil { break }
            bench.clock.advance(by: .milliseconds(10))
            await Task.yield()
        }
        await waiter.value
        outcome = result.withLock { $0 }
        #expect(outcome == .locked(source: .remote))
        #expect(bench.controller.state == .locked)
        #expect(bench.clock.now < seconds(20), "finished in virtual time")
        bench.expectMotorSafe()
    }

    // MARK: Jams

    @Test(
        "a jammed lock retracts to the retracted end, backs off, retries, then reports the jam",
        arguments: [0, 1, 2])
    func jamOnLock(retries: Int) throws {
        let configuration = BoltController.Configuration(
            moveTimeout: .seconds(3), lockRetries: retries, retryBackoff: .seconds(1),
            settleTime: .milliseconds(100))
        let bench = try BoltBench(configuration: configuration)
        bench.mechanism.jam(at: 50)
        bench.controller.lock(source: .keypad)
        bench.clock.advance(by: .seconds(60))

        let attempts = retries + 1
        #expect(
            bench.recorder.events == [
                .jammed(
                    direction: .extend, stoppedAt: .between(percent: nil), restingAt: .retracted,
                    attempts: attempts,
                    cause: .timeout, source: .keypad)
            ])
        #expect(bench.controller.state == .jammed(direction: .extend, position: .between(percent: nil)))
        #expect(bench.mechanism.percent < 2, "retracted to a known end")

        let extendStarts = bench.rises(of: "IN1")
        let extendStops = bench.falls(of: "IN1")
        let retractStarts = bench.rises(of: "IN2")
        let retractStops = bench.falls(of: "IN2")
        try #require(extendStarts.count == attempts && extendStops.count == attempts)
        try #require(retractStarts.count == attempts && retractStops.count == attempts)
        for attempt in 0..<attempts {
            // Each attempt is stopped by the move timeout, rests for the settle time, then retracts
            // until the retracted switch closes.
            #expect(extendStops[attempt] - extendStarts[attempt] == .seconds(3))
            #expect(retractStarts[attempt] - extendStops[attempt] >= .milliseconds(100))
            if attempt > 0 {
                #expect(
                    extendStarts[attempt] - retractStops[attempt - 1] == .seconds(1), "back-off on the clock")
            }
        }
        #expect(bench.recorder.stateChanges.contains { $0.cause == .jam(.timeout) })
        bench.expectMotorSafe()
    }

    @Test("a jammed unlock stops the motor and reports where the bolt stopped")
    func jamOnUnlock() throws {
        let bench = try BoltBench(initialPercent: 100)
        bench.mechanism.jam(at: 40)
        bench.controller.unlock(source: .remote)
        bench.clock.advance(by: .seconds(2))
        #expect(bench.controller.state == .unlocking)
        bench.clock.advance(by: .seconds(30))
        #expect(
            bench.recorder.events == [
                .jammed(
                    direction: .retract, stoppedAt: .between(percent: nil), restingAt: .between(percent: nil),
                    attempts: 1, cause: .timeout, source: .remote)
            ])
        #expect(bench.controller.state == .jammed(direction: .retract, position: .between(percent: nil)))
        #expect(bench.mechanism.percent == 40)
        #expect(bench.falls(of: "IN2") == [seconds(3)])
        bench.expectMotorSafe()
    }

    @Test("the motor's maximum run time ending a jammed move is reported as the cause")
    func maximumRunTime() throws {
        let bench = try BoltBench(
            configuration: .init(moveTimeout: .seconds(5), lockRetries: 0),
            motor: .init(maximumRunTime: .seconds(2)))
        bench.mechanism.jam(at: 60)
        bench.controller.lock(source: .button)
        bench.clock.advance(by: .seconds(30))
        #expect(
            bench.recorder.events == [
                .jammed(
                    direction: .extend, stoppedAt: .between(percent: nil), restingAt: .retracted, attempts: 1,
                    cause: .motorStopped(.maximumRunTime), source: .button)
            ])
        #expect(bench.falls(of: "IN1") == [seconds(2)])
        #expect(bench.mechanism.percent < 2)
        bench.expectMotorSafe()
    }

    @Test("a stall input ending a jammed move is reported as the cause, long before the timeout")
    func stall() throws {
        let bench = try BoltBench(configuration: .init(lockRetries: 0), stallInput: true)
        bench.mechanism.jam(at: 50)
        bench.controller.lock(source: .keypad)
        bench.clock.advance(by: .seconds(30))
        #expect(
            bench.recorder.events == [
                .jammed(
                    direction: .extend, stoppedAt: .between(percent: nil), restingAt: .retracted, attempts: 1,
                    cause: .motorStopped(.stall), source: .keypad)
            ])
        // The bolt reaches the jam after half the stroke; the stall input (2 ms debounce) stops it.
        let stop = bench.falls(of: "IN1").first
        #expect(stop.map { $0 < seconds(1) } == true)
        bench.expectMotorSafe()
    }

    // MARK: Manual turns and power loss

    @Test("a hand turn with no command in progress is reported with source manual")
    func manualTurn() throws {
        let bench = try BoltBench()
        bench.mechanism.turnByHand(to: 100, over: .seconds(1))
        bench.clock.advance(by: .seconds(2))
        #expect(bench.controller.state == .locked)
        #expect(bench.recorder.events == [.locked(source: .manual)])
        #expect(bench.recorder.stateChanges.last?.cause == .manual)
        bench.mechanism.turnByHand(to: 50, over: .milliseconds(500))
        bench.clock.advance(by: .seconds(1))
        #expect(bench.controller.state == .notFullyLocked(position: .between(percent: nil)))
        bench.mechanism.turnByHand(to: 0, over: .milliseconds(500))
        bench.clock.advance(by: .seconds(1))
        #expect(
            bench.recorder.events == [
                .locked(source: .manual), .notFullyLocked(position: .between(percent: nil), source: .manual),
                .unlocked(source: .manual),
            ])
        #expect(bench.rises(of: "IN1").isEmpty && bench.rises(of: "IN2").isEmpty, "the motor never ran")
        bench.expectMotorSafe()
    }

    @Test("after a power loss mid-move a new controller reports the bolt between the ends and leaves it")
    func powerLossMidMove() throws {
        let bench = try BoltBench()
        bench.controller.lock(source: .keypad)
        bench.clock.advance(by: .milliseconds(750))
        // The supply dies: the bolt stops half-way, the process with it.
        bench.mechanism.cutPower()
        bench.controller.shutdown()
        bench.drivers.motor.shutdown()
        bench.drivers.sensorRequest.release()
        bench.drivers.doorRequest.release()
        let stoppedAt = bench.mechanism.percent
        #expect(stoppedAt > 40 && stoppedAt < 60)
        bench.clock.advance(by: .seconds(5))

        // The board boots again.
        bench.mechanism.restorePower()
        let boot = bench.clock.now
        let drivers = try BoltDrivers(chip: bench.chip, clock: bench.clock, motor: .init(), stallInput: false)
        let controller = try BoltController(
            motor: drivers.motor, sensor: drivers.sensor, door: drivers.door, clock: bench.clock)
        let recorder = BoltRecorder()
        recorder.install(on: controller)
        #expect(controller.start() == .notFullyLocked(position: .between(percent: nil)))
        bench.clock.advance(by: .seconds(30))
        #expect(recorder.events == [.notFullyLocked(position: .between(percent: nil), source: nil)])
        #expect(bench.mechanism.percent == stoppedAt, "not moved automatically")
        #expect(bench.rises(of: "IN1", since: boot).isEmpty && bench.rises(of: "IN2", since: boot).isEmpty)
        // A command finishes the job.
        controller.lock(source: .remote)
        bench.clock.advance(by: .seconds(3))
        #expect(controller.state == .locked)
        #expect(recorder.events.last == .locked(source: .remote))
        #expect(drivers.motor.activity == .stopped)
        bench.expectMotorSafe()
    }

    // MARK: Coalescing

    @Test("unlock during a lock: the motor stops, rests, reverses, and the last command wins")
    func reversal() throws {
        let bench = try BoltBench(configuration: .init(settleTime: .milliseconds(100)))
        bench.clock.advance(by: .milliseconds(100))
        bench.controller.lock(source: .keypad)
        bench.clock.advance(by: .milliseconds(600))
        bench.controller.unlock(source: .remote)
        bench.clock.advance(by: .seconds(5))
        #expect(
            bench.recorder.events == [
                .superseded(direction: .extend, source: .keypad), .unlocked(source: .remote),
            ])
        #expect(bench.controller.state == .unlocked)
        #expect(bench.recorder.states == [.unlocked, .locking, .unlocking, .unlocked])
        #expect(bench.mechanism.percent < 2)
        let extendStop = bench.falls(of: "IN1")
        let retractStart = bench.rises(of: "IN2")
        #expect(extendStop == [seconds(0.7)])
        #expect(retractStart == [seconds(0.8)], "coasted for the settle time before reversing")
        // The lines went forward, then coast, then reverse: never straight across, never both high.
        let timeline = bench.bridgeTimeline().map { ($0.in1, $0.in2) }
        #expect(timeline.map { $0.0 } == [false, true, false, false, false])
        #expect(timeline.map { $0.1 } == [false, false, false, true, false])
        bench.expectMotorSafe()
    }

    @Test("lock, unlock, lock in one breath: one reversal at most, the last lock wins")
    func lastCommandWins() throws {
        let bench = try BoltBench()
        bench.controller.lock(source: .keypad)
        bench.clock.advance(by: .milliseconds(300))
        bench.controller.unlock(source: .remote)
        bench.controller.lock(source: .button)
        bench.clock.advance(by: .seconds(5))
        #expect(
            bench.recorder.events == [
                .superseded(direction: .extend, source: .keypad),
                .superseded(direction: .retract, source: .remote),
                .locked(source: .button),
            ])
        #expect(bench.controller.state == .locked)
        #expect(bench.rises(of: "IN2").isEmpty, "the unlock never ran")
        #expect(bench.rises(of: "IN1").count == 2)
        bench.expectMotorSafe()
    }

    @Test("a second lock during a lock takes over the move without stopping the motor")
    func sameDirection() throws {
        let bench = try BoltBench()
        bench.controller.lock(source: .keypad)
        bench.clock.advance(by: .milliseconds(500))
        bench.controller.lock(source: .remote)
        bench.clock.advance(by: .seconds(3))
        #expect(
            bench.recorder.events == [
                .superseded(direction: .extend, source: .keypad), .locked(source: .remote),
            ])
        #expect(bench.rises(of: "IN1").count == 1)
        bench.expectMotorSafe()
    }

    @Test("contradicting end switches make the state unknown, report a sensor fault and refuse moves")
    func sensorFault() throws {
        let bench = try BoltBench()
        // A short puts the extended switch's line low while the retracted switch is closed.
        bench.chip.drive("ESW", to: .low)
        bench.clock.advance(by: .milliseconds(100))
        #expect(bench.controller.state == .unknown)
        guard case .sensorFault = bench.recorder.events.first else {
            Issue.record("expected a sensor fault, got \(bench.recorder.events)")
            return
        }
        bench.controller.lock(source: .keypad)
        bench.clock.advance(by: .seconds(3))
        guard case .refused(.sensorFault, .extend, .keypad) = bench.recorder.events.last else {
            Issue.record("expected a refusal, got \(bench.recorder.events)")
            return
        }
        #expect(bench.rises(of: "IN1").isEmpty)
        bench.expectMotorSafe()
    }

    @Test("the move timeout can come from a calibrated throw time; bad settings are refused")
    func configuration() throws {
        #expect(BoltController.Configuration.timeout(calibratedThrow: .milliseconds(1500)) == .seconds(3))
        #expect(
            BoltController.Configuration.timeout(calibratedThrow: .seconds(1), margin: 1.5)
                == .milliseconds(1500))
        let bench = try BoltBench()
        let error = #expect(throws: DeviceError.self) {
            try BoltController(
                motor: bench.drivers.motor, sensor: bench.drivers.sensor, clock: bench.clock,
                configuration: .init(lockRetries: -1))
        }
        #expect(error?.kind == .configuration)
        // A timeout shorter than the stroke turns every lock into a jam.
        let tight = try BoltBench(
            configuration: .init(
                moveTimeout: BoltController.Configuration.timeout(
                    calibratedThrow: .milliseconds(500), margin: 1),
                lockRetries: 0))
        tight.controller.lock(source: .keypad)
        tight.clock.advance(by: .seconds(10))
        #expect(tight.falls(of: "IN1") == [seconds(0.5)])
        guard case .jammed(.extend, _, .retracted, 1, .timeout, .keypad) = tight.recorder.events.last else {
            Issue.record("expected a jam, got \(tight.recorder.events)")
            return
        }
        tight.expectMotorSafe()
    }

    // MARK: Move check

    @Test("the injected move check vetoes a move before the motor starts")
    func veto() throws {
        let bench = try BoltBench(canMove: { direction, _ in
            direction == .extend ? "battery critical: unlock only" : nil
        })
        bench.controller.lock(source: .keypad)
        bench.clock.advance(by: .seconds(3))
        #expect(
            bench.recorder.events == [
                .refused(.vetoed("battery critical: unlock only"), direction: .extend, source: .keypad)
            ])
        #expect(bench.rises(of: "IN1").isEmpty)
        #expect(bench.controller.state == .unlocked)
        bench.expectMotorSafe()
    }

    // MARK: Door

    @Test("an open door refuses a lock; opening the door during a lock retracts and refuses it")
    func doorOpen() throws {
        let bench = try BoltBench()
        bench.mechanism.openDoor()
        bench.clock.advance(by: .milliseconds(100))
        bench.controller.lock(source: .keypad)
        bench.clock.advance(by: .seconds(3))
        #expect(bench.recorder.events == [.refused(.doorOpen, direction: .extend, source: .keypad)])
        #expect(bench.rises(of: "IN1").isEmpty)

        bench.mechanism.closeDoor()
        bench.clock.advance(by: .milliseconds(100))
        let start = bench.clock.now
        bench.controller.lock(source: .remote)
        bench.clock.advance(by: .milliseconds(500))
        bench.mechanism.openDoor()
        bench.clock.advance(by: .seconds(5))
        #expect(bench.recorder.events.last == .refused(.doorOpen, direction: .extend, source: .remote))
        #expect(bench.controller.state == .unlocked)
        #expect(bench.mechanism.percent < 2, "pulled back out of the way")
        // Stopped when the contact's debounced edge arrived, 20 ms after the door opened.
        #expect(bench.falls(of: "IN1", since: start) == [start + .milliseconds(520)])
        bench.expectMotorSafe()
    }

    @Test("lock when the door closes: armed while open, locks with source auto when it shuts")
    func lockOnDoorClose() throws {
        let bench = try BoltBench()
        bench.mechanism.openDoor()
        bench.controller.armLockOnDoorClose()
        bench.clock.advance(by: .seconds(10))
        #expect(bench.controller.isLockOnDoorCloseArmed)
        #expect(bench.rises(of: "IN1").isEmpty)
        let closed = bench.clock.now
        bench.mechanism.closeDoor()
        bench.clock.advance(by: .seconds(3))
        #expect(bench.recorder.events == [.locked(source: .auto)])
        #expect(bench.rises(of: "IN1") == [closed + BoltBench.doorDebounce])
        #expect(!bench.controller.isLockOnDoorCloseArmed, "armed for one closing only")
        bench.expectMotorSafe()
    }

    @Test("the door-ajar alarm is reported once per opening")
    func doorAjar() throws {
        let bench = try BoltBench(configuration: .init(doorAjarAfter: .seconds(30)))
        bench.mechanism.openDoor()
        bench.clock.advance(by: .seconds(29))
        #expect(bench.recorder.events.isEmpty)
        bench.clock.advance(by: .seconds(120))
        #expect(bench.recorder.events == [.doorAjar(openedAt: BoltBench.doorDebounce.instant)])
        bench.mechanism.closeDoor()
        bench.clock.advance(by: .seconds(5))
        bench.mechanism.openDoor()
        bench.clock.advance(by: .seconds(10))
        bench.mechanism.closeDoor()  // closed in time: no alarm
        bench.clock.advance(by: .seconds(60))
        #expect(bench.recorder.events.count == 1)
        let reopened = bench.clock.now
        bench.mechanism.openDoor()
        bench.clock.advance(by: .seconds(31))
        #expect(bench.recorder.events.last == .doorAjar(openedAt: reopened + BoltBench.doorDebounce))
        #expect(bench.recorder.events.count == 2)
        bench.expectMotorSafe()
    }

    // MARK: Auto-relock

    @Test("auto-relock locks N seconds after an unlock, with source auto")
    func autoRelock() throws {
        let bench = try BoltBench(initialPercent: 100, configuration: .init(autoRelockDelay: .seconds(10)))
        bench.controller.unlock(source: .keypad)
        bench.clock.advance(by: .seconds(2))
        #expect(bench.controller.state == .unlocked)
        let unlockedAt = bench.recorder.timedEvents.last?.1 ?? .zero
        bench.clock.advance(to: unlockedAt + .milliseconds(9999))
        #expect(bench.rises(of: "IN1").isEmpty)
        bench.clock.advance(by: .seconds(3))
        #expect(bench.recorder.events == [.unlocked(source: .keypad), .locked(source: .auto)])
        #expect(bench.rises(of: "IN1") == [unlockedAt + .seconds(10)])
        bench.expectMotorSafe()
    }

    @Test("auto-relock waits for the door to close and restarts its delay then")
    func autoRelockDoorAware() throws {
        let bench = try BoltBench(initialPercent: 100, configuration: .init(autoRelockDelay: .seconds(10)))
        bench.controller.unlock(source: .keypad)
        bench.clock.advance(by: .seconds(7))
        bench.mechanism.openDoor()
        bench.clock.advance(by: .seconds(60))
        #expect(bench.controller.state == .unlocked)
        let closed = bench.clock.now
        bench.mechanism.closeDoor()
        bench.clock.advance(by: .seconds(9))
        #expect(bench.rises(of: "IN1").isEmpty)
        bench.clock.advance(by: .seconds(3))
        #expect(bench.recorder.events.last == .locked(source: .auto))
        #expect(bench.rises(of: "IN1") == [closed + BoltBench.doorDebounce + .seconds(10)])
        bench.expectMotorSafe()
    }

    @Test("a manual lock cancels auto-relock, and passage mode disables it")
    func autoRelockCancelled() throws {
        let bench = try BoltBench(initialPercent: 100, configuration: .init(autoRelockDelay: .seconds(10)))
        bench.controller.unlock(source: .keypad)
        bench.clock.advance(by: .seconds(2))
        bench.mechanism.turnByHand(to: 100, over: .seconds(1))
        bench.clock.advance(by: .seconds(2))
        bench.mechanism.turnByHand(to: 0, over: .seconds(1))
        bench.clock.advance(by: .milliseconds(800))
        #expect(bench.controller.state == .notFullyLocked(position: .between(percent: nil)))
        bench.clock.advance(by: .milliseconds(400))
        // The manual unlock starts a fresh delay; passage mode turns it off before it ends.
        bench.controller.setAutoRelock(enabled: false)
        bench.clock.advance(by: .seconds(60))
        #expect(
            bench.recorder.events == [
                .unlocked(source: .keypad), .locked(source: .manual),
                .notFullyLocked(position: .between(percent: nil), source: .manual),
                .unlocked(source: .manual),
            ])
        #expect(bench.rises(of: "IN1").isEmpty, "no auto-relock ran")
        // Leaving passage mode while unlocked starts the delay again.
        let enabled = bench.clock.now
        bench.controller.setAutoRelock(enabled: true)
        bench.clock.advance(by: .seconds(15))
        #expect(bench.recorder.events.last == .locked(source: .auto))
        #expect(bench.rises(of: "IN1") == [enabled + .seconds(10)])
        bench.expectMotorSafe()
    }
}

extension Duration {
    /// The instant this long after the origin.
    fileprivate var instant: MonotonicInstant { .zero + self }
}
