import BoltworkDrivers
import BoltworkHAL
import BoltworkSimulation
import Testing

@Suite("Key collector")
struct KeyCollectorTests {
    let clock = VirtualClock()

    func collector(_ configuration: KeyCollector.Configuration = .init()) throws
        -> (KeyCollector, Protected<[(KeyCollector.Outcome, MonotonicInstant)]>)
    {
        let collector = try KeyCollector(clock: clock, configuration: configuration)
        let outcomes = Protected([(KeyCollector.Outcome, MonotonicInstant)]())
        collector.setOutcomeHandler { outcome, time in outcomes.withLock { $0.append((outcome, time)) } }
        return (collector, outcomes)
    }

    /// Presses `keys` one per 100 ms, starting now.
    func type(_ keys: String, into collector: KeyCollector) {
        for key in keys {
            collector.handle(KeyEvent(key: key, kind: .press, timestamp: clock.now))
            collector.handle(KeyEvent(key: key, kind: .release, timestamp: clock.now))
            clock.advance(by: .milliseconds(100))
        }
    }

    @Test("digits then # submit the entry; the entry never prints its digits")
    func submit() throws {
        let (collector, outcomes) = try collector()
        type("2580#", into: collector)
        let seen = outcomes.withLock { $0 }
        #expect(seen.count == 1)
        guard case .submitted(let entry)? = seen.first?.0 else {
            Issue.record("expected a submitted entry, got \(seen.map(\.0))")
            return
        }
        #expect(entry.revealedDigits == "2580")
        #expect(entry.matches("2580") && !entry.matches("2581") && !entry.matches("25800"))
        #expect(entry.count == 4)
        #expect("\(entry)" == "<4 digits>")
        #expect(String(reflecting: entry) == "PINEntry(<4 digits>)")
        var dumped = ""
        dump(entry, to: &dumped)
        #expect(!dumped.contains("2580"), "dump shows \(dumped)")
        #expect("\(seen[0].0)" == "submitted <4 digits>")
        #expect(seen.first?.1 == MonotonicInstant(nanoseconds: 400_000_000), "the time of the # press")
        #expect(collector.partialLength == 0)
    }

    @Test("* clears, a back key removes one digit, other keys are ignored")
    func clearAndBack() throws {
        let (collector, outcomes) = try collector(.init(backKey: "B"))
        let progress = Protected([Int]())
        collector.setProgressHandler { count in progress.withLock { $0.append(count) } }
        type("12*", into: collector)
        type("1239BA4#", into: collector)
        let seen = outcomes.withLock { $0.map(\.0) }
        #expect(seen == [.cleared(digits: 2), .submitted(PINEntry("1234"))])
        #expect(progress.withLock { $0 } == [1, 2, 1, 2, 3, 4, 3, 4], "lengths only, never digits")
    }

    @Test("too short and too long entries are dropped")
    func lengths() throws {
        let (collector, outcomes) = try collector(.init(minimumLength: 4, maximumLength: 6))
        type("123#", into: collector)
        type("1234567", into: collector)
        type("#", into: collector)
        #expect(
            outcomes.withLock { $0.map(\.0) } == [.tooShort(digits: 3), .tooLong, .tooShort(digits: 0)])
    }

    @Test("reaching the maximum length submits when configured")
    func submitAtMaximum() throws {
        let (collector, outcomes) = try collector(
            .init(minimumLength: 4, maximumLength: 4, submitsAtMaximumLength: true))
        type("9876", into: collector)
        #expect(outcomes.withLock { $0.map(\.0) } == [.submitted(PINEntry("9876"))])
    }

    @Test("a pause longer than the timeout drops the partial entry, on the clock")
    func timeout() throws {
        let (collector, outcomes) = try collector(.init(timeout: .seconds(5)))
        type("12", into: collector)  // last key at 100 ms
        clock.advance(by: .milliseconds(4_999 - 100))
        #expect(outcomes.withLock { $0.isEmpty })
        #expect(collector.partialLength == 2)
        clock.advance(by: .milliseconds(2))
        let seen = outcomes.withLock { $0 }
        #expect(seen.map(\.0) == [.timedOut(digits: 2)])
        #expect(seen.first?.1 == MonotonicInstant(nanoseconds: 5_100_000_000))
        #expect(collector.partialLength == 0)
        // Keys spaced under the timeout keep the entry alive; an idle collector has no timer.
        for key in "4321" {
            collector.handle(KeyEvent(key: key, kind: .press, timestamp: clock.now))
            clock.advance(by: .seconds(4))
        }
        type("#", into: collector)
        #expect(outcomes.withLock { $0.map(\.0) } == [.timedOut(digits: 2), .submitted(PINEntry("4321"))])
        #expect(clock.pendingCount == 0)
    }

    @Test("contradictory settings are configuration errors")
    func configuration() {
        #expect(throws: DeviceError.self) {
            try KeyCollector(clock: clock, configuration: .init(clearKey: "#"))
        }
        #expect(throws: DeviceError.self) {
            try KeyCollector(clock: clock, configuration: .init(minimumLength: 6, maximumLength: 4))
        }
        #expect(throws: DeviceError.self) {
            try KeyCollector(clock: clock, configuration: .init(backKey: "5"))
        }
    }

    @Test("a code typed on the simulated keypad arrives as one submitted entry")
    func endToEnd() throws {
        let rig = try KeypadRig()
        let collector = try KeyCollector(clock: rig.clock)
        let outcomes = Protected([KeyCollector.Outcome]())
        collector.setOutcomeHandler { outcome, _ in outcomes.withLock { $0.append(outcome) } }
        rig.keypad.setKeyHandler { event in collector.handle(event) }
        rig.matrix.type("1379#")
        rig.clock.advance(by: .seconds(2))
        #expect(outcomes.withLock { $0 } == [.submitted(PINEntry("1379"))])
        #expect(rig.keypad.isIdle)
    }
}
