import BoltworkHAL
import BoltworkSimulation
import Testing

@Suite("Simulated GPIO")
struct SimulatedGPIOTests {
    let clock = VirtualClock()
    let gpio: SimulatedGPIO
    let chip: SimulatedGPIOChip

    init() {
        gpio = SimulatedGPIO(clock: clock)
        chip = gpio.addChip(label: "sim", lineNames: ["ROW0", "ROW1", "COL0", "COL1", "LED"])
    }

    func collect(_ request: any GPIOLineRequest) -> Protected<[EdgeEvent]> {
        let events = Protected([EdgeEvent]())
        request.setEdgeHandler { event in events.withLock { $0.append(event) } }
        return events
    }

    @Test("a pulled-up input reads high until something pulls it low, with edges and timestamps")
    func edgesWithTimestamps() throws {
        let request = try chip.requestLines(
            [LineConfig(.name("ROW1"), .input(bias: .pullUp, edges: .both))], consumer: "t")
        let events = collect(request)
        #expect(try request.values() == [.active])
        clock.advance(by: .milliseconds(10))
        chip.drive("ROW1", to: .low)
        clock.advance(by: .milliseconds(5))
        chip.drive("ROW1", to: nil)
        clock.runUntilIdle()
        let seen = events.withLock { $0 }
        #expect(seen.map(\.kind) == [.falling, .rising])
        #expect(
            seen.map(\.timestamp) == [
                MonotonicInstant(nanoseconds: 10_000_000), MonotonicInstant(nanoseconds: 15_000_000),
            ])
        #expect(seen.map(\.sequence) == [1, 2])
        #expect(seen.allSatisfy { $0.index == 0 && $0.offset == 1 })
    }

    @Test("active-low inverts values and edge directions")
    func activeLow() throws {
        let request = try chip.requestLines(
            [LineConfig(.name("ROW0"), .input(bias: .pullUp, activeLow: true, edges: .rising))], consumer: "t"
        )
        let events = collect(request)
        #expect(try request.values() == [.inactive])
        chip.drive("ROW0", to: .low)
        clock.runUntilIdle()
        #expect(try request.values() == [.active])
        chip.drive("ROW0", to: .high)
        clock.runUntilIdle()
        #expect(events.withLock { $0.map(\.kind) } == [.rising], "only the rising (press) edge is requested")
    }

    @Test("debounce reports one event after the line is stable, like the kernel")
    func debounce() throws {
        let request = try chip.requestLines(
            [
                LineConfig(
                    .name("ROW0"),
                    .input(bias: .pullUp, activeLow: true, edges: .both, debounce: .milliseconds(5)))
            ],
            consumer: "t")
        let events = collect(request)
        for level in [PinLevel.low, .high, .low, .high, .low] {
            chip.drive("ROW0", to: level)
            clock.advance(by: .microseconds(500))
        }
        clock.advance(by: .milliseconds(4))
        #expect(events.withLock { $0.isEmpty })
        clock.advance(by: .milliseconds(1))
        let seen = events.withLock { $0 }
        #expect(seen.map(\.kind) == [.rising])
        #expect(seen.first?.timestamp == MonotonicInstant(nanoseconds: 7_000_000))
        // A glitch shorter than the period that returns to the stable value reports nothing.
        chip.drive("ROW0", to: .high)
        clock.advance(by: .milliseconds(1))
        chip.drive("ROW0", to: .low)
        clock.advance(by: .milliseconds(20))
        #expect(events.withLock { $0.count } == 1)
    }

    @Test("a line's history keeps its newest changes and does not grow without bound")
    func historyIsBounded() {
        let gpio = SimulatedGPIO(clock: clock, historyLimit: 4)
        let chip = gpio.addChip(label: "bounded", lineNames: ["DOOR"])
        for step in 1...20 {
            clock.advance(by: .milliseconds(1))
            chip.drive("DOOR", to: step.isMultiple(of: 2) ? .low : .high)
        }
        let history = chip.history(of: "DOOR")
        #expect(history.count >= 4 && history.count <= 6, "got \(history.count) entries")
        #expect(history.last?.time == MonotonicInstant(nanoseconds: 20_000_000))
        #expect(history.last?.level == .low)
        let times = history.map(\.time.nanoseconds)
        #expect(times == times.sorted(), "oldest first")
        #expect(times == Array((21 - history.count...20).map { Int64($0) * 1_000_000 }), "no gaps at the end")
    }

    @Test("outputs drive the pin per polarity and drive mode; history is time-stamped")
    func outputs() throws {
        let request = try chip.requestLines(
            [
                LineConfig(.name("LED"), .output(initial: .active, activeLow: true)),
                LineConfig(.name("COL0"), .output(initial: .inactive, drive: .openDrain)),
            ], consumer: "t")
        #expect(chip.level(of: "LED") == .low)
        #expect(chip.lineState(of: "COL0") == .driving(.low))
        clock.advance(by: .milliseconds(3))
        try request.setValues([.inactive, .active])
        #expect(chip.level(of: "LED") == .high)
        #expect(chip.lineState(of: "COL0") == .highImpedance)
        #expect(chip.history(of: "LED").map(\.level) == [.low, .high])
        #expect(chip.history(of: "LED").last?.time == MonotonicInstant(nanoseconds: 3_000_000))
        request.release()
        #expect(chip.lineState(of: "LED") == .unrequested)
        #expect(!chip.hasRequestedLines)
    }

    @Test("device models see output changes and answer by driving inputs")
    func deviceModel() throws {
        let request = try chip.requestLines(
            [
                LineConfig(.name("COL0"), .output(initial: .inactive)),
                LineConfig(.name("ROW0"), .input(bias: .pullDown, edges: .both)),
            ],
            consumer: "t")
        let model = chip
        chip.observe { changed in
            // A wire from COL0 to ROW0: the row follows the column.
            guard changed.contains(2) else { return }
            model.drive("ROW0", to: model.level(of: "COL0"))
        }
        let events = collect(request)
        try request.setValue(.active, at: 0)
        clock.runUntilIdle()
        #expect(try request.value(at: 1) == .active)
        #expect(events.withLock { $0.map(\.kind) } == [.rising])
    }

    @Test("busy lines, duplicates, unknown names and a vanished chip fail like the kernel")
    func faults() throws {
        chip.hold("LED", consumer: "leds-gpio")
        let busy = #expect(throws: GPIOError.self) {
            try chip.requestLines([LineConfig(.name("LED"), .output())], consumer: "t")
        }
        #expect(busy?.kind == .lineBusy)
        #expect(busy?.description.contains("leds-gpio") == true)
        let held = try chip.requestLines([LineConfig(.name("ROW0"), .input())], consumer: "t")
        let twice = #expect(throws: GPIOError.self) {
            try chip.requestLines([LineConfig(.name("ROW0"), .input())], consumer: "t")
        }
        #expect(twice?.kind == .lineBusy)
        let unknown = #expect(throws: GPIOError.self) { try chip.resolve(.name("ROWO")) }
        #expect(unknown?.description.contains("'ROW0'") == true)
        chip.remove()
        let gone = #expect(throws: GPIOError.self) { try held.values() }
        #expect(gone?.kind == .noSuchChip)
        #expect(throws: GPIOError.self) { try gpio.openChip(.label("sim")) }
        chip.restore()
        #expect(try gpio.openChip(.label("sim")).info.path == "/dev/gpiochip0")
    }

    @Test("edge events are also an async sequence")
    func asyncSequence() async throws {
        let request = try chip.requestLines([LineConfig(.name("ROW0"), .input(edges: .both))], consumer: "t")
        let stream = request.edgeEvents()
        chip.drive("ROW0", to: .high)
        chip.drive("ROW0", to: .low)
        clock.runUntilIdle()
        var kinds: [EdgeEvent.Kind] = []
        for await event in stream {
            kinds.append(event.kind)
            if kinds.count == 2 { break }
        }
        #expect(kinds == [.rising, .falling])
    }

    @Test("reconfiguring switches a column between driven and high impedance")
    func reconfigure() throws {
        let request = try chip.requestLines(
            [LineConfig(.name("COL1"), .output(initial: .active))], consumer: "t")
        #expect(chip.lineState(of: "COL1") == .driving(.high))
        try request.reconfigure([.input()])
        #expect(chip.lineState(of: "COL1") == .input)
        #expect(throws: GPIOError.self) { try request.setValue(.active, at: 0) }
    }
}

@Suite("Virtual clock")
struct VirtualClockTests {
    @Test("work runs in deadline order, then submission order, only when time is advanced")
    func ordering() {
        let clock = VirtualClock()
        let order = Protected([String]())
        clock.schedule(after: .milliseconds(20)) { order.withLock { $0.append("20ms") } }
        clock.schedule(after: .milliseconds(10)) { order.withLock { $0.append("10ms-a") } }
        clock.schedule(after: .milliseconds(10)) { order.withLock { $0.append("10ms-b") } }
        let cancelled = clock.schedule(after: .milliseconds(15)) { order.withLock { $0.append("cancelled") } }
        cancelled.cancel()
        clock.execute { order.withLock { $0.append("now") } }
        #expect(order.withLock { $0 }.isEmpty)
        clock.advance(by: .milliseconds(10))
        #expect(order.withLock { $0 } == ["now", "10ms-a", "10ms-b"])
        clock.advance(by: .milliseconds(10))
        #expect(order.withLock { $0 } == ["now", "10ms-a", "10ms-b", "20ms"])
        #expect(clock.firedTimerCount == 3)
    }

    @Test("work scheduled by work runs within the same advance when due")
    func chained() {
        let clock = VirtualClock()
        let times = Protected([MonotonicInstant]())
        clock.schedule(after: .milliseconds(1)) {
            times.withLock { $0.append(clock.now) }
            clock.schedule(after: .milliseconds(2)) { times.withLock { $0.append(clock.now) } }
        }
        clock.advance(by: .milliseconds(10))
        #expect(
            times.withLock { $0 } == [
                MonotonicInstant(nanoseconds: 1_000_000), MonotonicInstant(nanoseconds: 3_000_000),
            ])
        #expect(clock.now == MonotonicInstant(nanoseconds: 10_000_000))
    }

    @Test("an async sleep on the clock resumes when virtual time reaches its deadline")
    func asyncSleep() async throws {
        let clock = VirtualClock()
        let task = Task { try await clock.sleep(for: .seconds(30)) }
        while clock.pendingCount == 0 { await Task.yield() }
        clock.advance(by: .seconds(30))
        try await task.value
        #expect(clock.now == MonotonicInstant(nanoseconds: 30_000_000_000))
    }

    @Test("cancelling a sleeping task ends the sleep with CancellationError")
    func cancelledSleep() async {
        let clock = VirtualClock()
        let task = Task { try await clock.sleep(for: .seconds(30)) }
        while clock.pendingCount == 0 { await Task.yield() }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(clock.pendingCount == 0)
    }
}
