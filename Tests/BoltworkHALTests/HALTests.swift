import BoltworkHAL
import BoltworkSimulation
import Dispatch
import Testing

@Suite("Hardware-abstraction value types")
struct HALTests {
    @Test("monotonic instants do arithmetic with durations")
    func instants() {
        let start = MonotonicInstant(nanoseconds: 1_000)
        let later = start + .milliseconds(5)
        #expect(later.nanoseconds == 5_001_000)
        #expect(later - start == .milliseconds(5))
        #expect(later - .milliseconds(5) == start)
        #expect(MonotonicInstant(nanoseconds: 12_345_000_000).description == "12.345s")
        #expect(Duration.seconds(2).totalMilliseconds == 2000)
        #expect(Duration.microseconds(1500).totalMicroseconds == 1500)
    }

    @Test("I2C addresses are 7 bits")
    func addresses() {
        #expect(I2CAddress(0x36)?.description == "0x36")
        #expect(I2CAddress(0x80) == nil)
        #expect(I2CAddress(-1) == nil)
        #expect(I2CAddress(constant: 0x0B).description == "0x0b")
    }

    @Test("a short response from a bus is an error, not a crash")
    func shortResponse() {
        struct Broken: I2CBus {
            var name: String { "broken" }
            func capabilities() throws(I2CError) -> I2CCapabilities { .all }
            func perform(_ operation: I2COperation, at address: I2CAddress) throws(I2CError) -> [UInt8] { [] }
        }
        let error = #expect(throws: I2CError.self) {
            try Broken().readWord(from: I2CAddress(constant: 0x36), register: 2)
        }
        #expect(error?.kind == .bus)
    }

    @Test("errors read as one message with kind, context, errno and the fix")
    func errorMessages() {
        let gpio = GPIOError(
            .lineBusy, errno: 16, chip: "/dev/gpiochip0", line: "GPIO17", detail: "held by 'gpio-keys'.")
        #expect(
            gpio.description
                == "GPIO line busy on /dev/gpiochip0 line GPIO17 (errno 16 EBUSY): held by 'gpio-keys'.")
        let i2c = I2CError(
            .noAcknowledge(.address), errno: 121, bus: "/dev/i2c-1", address: I2CAddress(constant: 0x36),
            operation: .readWordData(register: 4), detail: "check wiring")
        #expect(
            i2c.description
                == "I2C no acknowledge for the address on /dev/i2c-1 address 0x36 (read word register 0x4) (errno 121 EREMOTEIO): check wiring"
        )
        #expect(!i2c.isTransient)
        #expect(I2CError(.arbitrationLost, detail: "").isTransient)
    }

    @Test("edge detection reports the requested transitions only")
    func edgeDetection() {
        #expect(EdgeDetection.rising.reports(transitionTo: .active))
        #expect(!EdgeDetection.rising.reports(transitionTo: .inactive))
        #expect(EdgeDetection.falling.reports(transitionTo: .inactive))
        #expect(EdgeDetection.both.reports(transitionTo: .inactive))
        #expect(!EdgeDetection.none.reports(transitionTo: .active))
    }

    @Test("the system clock runs submitted and scheduled work on its thread, in order")
    func systemClock() async {
        let clock = SystemClock()
        defer { clock.shutdown() }
        let order = Protected([Int]())
        // Hold the clock's thread so all three items are queued before any runs.
        let gate = DispatchSemaphore(value: 0)
        clock.execute { gate.wait() }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let past = clock.now - .seconds(1)
            clock.schedule(at: past + .milliseconds(2)) { order.withLock { $0.append(2) } }
            clock.schedule(at: past + .milliseconds(1)) { order.withLock { $0.append(1) } }
            clock.schedule(at: past + .milliseconds(3)) {
                order.withLock { $0.append(3) }
                done.resume()
            }
            gate.signal()
        }
        #expect(order.withLock { $0 } == [1, 2, 3])
        #expect(clock.wakeupCount >= 3)
    }

    @Test("a cancelled timer on the system clock never runs, even when already due")
    func systemClockCancel() async {
        let clock = SystemClock()
        defer { clock.shutdown() }
        let ran = Protected(false)
        let gate = DispatchSemaphore(value: 0)
        clock.execute { gate.wait() }
        let work = clock.schedule(at: clock.now - .seconds(1)) { ran.withLock { $0 = true } }
        work.cancel()
        gate.signal()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            clock.execute { done.resume() }
        }
        #expect(!ran.withLock { $0 })
    }
}
