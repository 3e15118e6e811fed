import BoltworkDrivers
import BoltworkHAL
import BoltworkSimulation
import Testing

@Suite("Feedback outputs")
struct FeedbackOutputTests {
    let clock = VirtualClock()
    let chip: SimulatedGPIOChip

    init() {
        chip = SimulatedGPIO(clock: clock).addChip(label: "sim", lineNames: ["BUZZER", "LED"])
    }

    /// The line's level changes after `start`, as (milliseconds after start, level).
    func changes(_ line: String, after start: MonotonicInstant = .zero) -> [(Int64, PinLevel)] {
        chip.history(of: line).filter { $0.time >= start }.map {
            (($0.time - start).totalMilliseconds, $0.level)
        }
    }

    /// The on/off edges a pattern should produce, from its steps.
    func expected(_ pattern: FeedbackPattern, on: PinLevel = .high) -> [(Int64, PinLevel)] {
        var result: [(Int64, PinLevel)] = []
        var time = Duration.zero
        for step in pattern.steps {
            result.append((time.totalMilliseconds, on))
            time += step.on
            result.append((time.totalMilliseconds, on.inverted))
            time += step.off
        }
        return result
    }

    @Test(
        "each pattern switches the line on and off at its step times and ends off",
        arguments: [FeedbackPattern.keyClick, .accepted, .refused, .lockedOut])
    func patterns(pattern: FeedbackPattern) throws {
        let buzzer = try FeedbackOutput(chip: chip, line: .name("BUZZER"), clock: clock, name: "buzzer")
        clock.advance(by: .milliseconds(10))
        try buzzer.play(pattern)
        clock.advance(by: pattern.duration + .seconds(1))
        let seen = changes("BUZZER", after: MonotonicInstant(nanoseconds: 10_000_000))
        #expect(seen.map(\.0) == expected(pattern).map(\.0))
        #expect(seen.map(\.1) == expected(pattern).map(\.1))
        #expect(chip.level(of: "BUZZER") == .low)
        #expect(buzzer.playing == nil)
        #expect(clock.pendingCount == 0, "nothing scheduled after the pattern")
    }

    @Test("a new pattern replaces the running one; the old one's timers do nothing")
    func replace() throws {
        let led = try FeedbackOutput(
            chip: chip, line: .name("LED"), activeLow: true, clock: clock, name: "status LED")
        #expect(chip.level(of: "LED") == .high, "active-low LED starts off")
        let before = chip.history(of: "LED").count
        try led.play(.refused)
        clock.advance(by: .milliseconds(100))
        try led.play(.keyClick)
        clock.advance(by: .seconds(1))
        // On at 0 (low), still on when the click starts at 100 ms, off 30 ms later: the refusal's
        // end at 600 ms never comes.
        let seen = changes("LED").dropFirst(before)
        #expect(seen.map(\.0) == [0, 130])
        #expect(seen.map(\.1) == [.low, .high])
        #expect(clock.pendingCount == 0)
    }

    @Test("stop turns the output off mid-pattern and releases the line it requested")
    func stopReleases() throws {
        let buzzer = try FeedbackOutput(chip: chip, line: .name("BUZZER"), clock: clock, name: "buzzer")
        try buzzer.play(.lockedOut)
        clock.advance(by: .milliseconds(50))
        #expect(chip.level(of: "BUZZER") == .high)
        buzzer.stop()
        #expect(chip.lineState(of: "BUZZER") == .unrequested)
        #expect(clock.pendingCount == 0)
        let error = #expect(throws: DeviceError.self) { try buzzer.play(.keyClick) }
        #expect(error?.kind == .invalidState)
    }

    @Test("a borrowed line is silenced but not released")
    func borrowed() throws {
        let request = try chip.requestLines([LineConfig(.name("LED"), .output())], consumer: "test")
        let led = FeedbackOutput(request: request, clock: clock, name: "status LED")
        try led.play(.accepted)
        clock.advance(by: .milliseconds(20))
        led.stop()
        #expect(chip.lineState(of: "LED") == .driving(.low))
    }

    @Test("a failing step is reported and the pattern stops")
    func failure() throws {
        let buzzer = try FeedbackOutput(chip: chip, line: .name("BUZZER"), clock: clock, name: "buzzer")
        let errors = Protected([DeviceError]())
        buzzer.setErrorHandler { error in errors.withLock { $0.append(error) } }
        try buzzer.play(.accepted)
        chip.remove()
        clock.advance(by: .seconds(1))
        #expect(errors.withLock { $0.count } == 1)
        #expect(errors.withLock { $0.first?.description.contains("cannot turn the buzzer off") } == true)
        #expect(buzzer.playing == nil)
        #expect(clock.pendingCount == 0)
    }
}
