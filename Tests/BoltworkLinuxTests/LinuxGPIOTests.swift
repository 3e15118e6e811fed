import BoltworkHAL
import BoltworkSimulation
import Testing

@testable import BoltworkLinux

@Suite("Linux GPIO backend through the funnel")
struct LinuxGPIOTests {
    static let lines = ["ROW0", "ROW1", "COL0", "COL1", "MOTOR_IN1", "GPIO17", "GPIO27"]

    func backend(apiMajor: Int = 2, clock: VirtualClock = VirtualClock()) -> (LinuxGPIO, FakeGPIOSystem) {
        let system = FakeGPIOSystem(
            apiMajor: apiMajor,
            chips: [
                .init(path: "/dev/gpiochip0", name: "gpiochip0", label: "pinctrl-rp1", lines: Self.lines),
                .init(path: "/dev/gpiochip1", name: "gpiochip1", label: "aux", lines: ["A", "B"]),
            ])
        return (LinuxGPIO(clock: clock, system: system, devDirectory: "/dev", startReactor: false), system)
    }

    @Test("chips are listed and found by label, never by number")
    func lookupByLabel() throws {
        let (gpio, _) = backend()
        #expect(try gpio.chips().map(\.label) == ["pinctrl-rp1", "aux"])
        let chip = try gpio.openChip(.label("aux"))
        #expect(chip.info.path == "/dev/gpiochip1")
        #expect(try chip.resolve(.name("B")) == 1)
    }

    @Test("a missing chip lists the chips that exist")
    func missingChip() {
        let (gpio, _) = backend()
        let byPath = #expect(throws: GPIOError.self) { try gpio.openChip(.path("/dev/gpiochip4")) }
        #expect(byPath?.kind == .noSuchChip)
        #expect(byPath?.errno == 2)
        #expect(byPath?.description.contains("/dev/gpiochip0 'pinctrl-rp1' (7 lines)") == true)
        let byLabel = #expect(throws: GPIOError.self) { try gpio.openChip(.label("pinctrl-bcm2711")) }
        #expect(byLabel?.kind == .noSuchChip)
        #expect(byLabel?.description.contains("/dev/gpiochip1 'aux'") == true)
    }

    @Test("permission denied names the group and the udev rule")
    func permissionDenied() {
        let (gpio, system) = backend()
        system.fail("open /dev/gpiochip0", with: 13)
        system.state.withLock { $0.ownership = DeviceOwnership(group: "gpio", mode: 0o660) }
        let error = #expect(throws: GPIOError.self) { try gpio.openChip(.path("/dev/gpiochip0")) }
        #expect(error?.kind == .permissionDenied)
        #expect(error?.errno == 13)
        #expect(error?.description.contains("group 'gpio'") == true)
        #expect(error?.description.contains("usermod -aG gpio") == true)
        #expect(error?.description.contains("udev/60-boltwork.rules") == true)
    }

    @Test("an unknown line name suggests near matches")
    func unknownLine() throws {
        let (gpio, _) = backend()
        let chip = try gpio.openChip(.path("/dev/gpiochip0"))
        let error = #expect(throws: GPIOError.self) { try chip.resolve(.name("GPIO_17")) }
        #expect(error?.kind == .noSuchLine)
        #expect(error?.line == "GPIO_17")
        #expect(error?.description.contains("Did you mean 'GPIO17'") == true)
        let offset = #expect(throws: GPIOError.self) { try chip.resolve(.offset(40)) }
        #expect(offset?.description.contains("offsets 0-6") == true)
    }

    @Test("a busy line names who holds it")
    func busyLine() throws {
        let (gpio, system) = backend()
        system.state.withLock { $0.chips[0].consumers[5] = "gpio-keys" }
        system.fail("request", with: 16)
        let chip = try gpio.openChip(.path("/dev/gpiochip0"))
        let error = #expect(throws: GPIOError.self) {
            try chip.requestLines([LineConfig(.name("GPIO17"), .input())], consumer: "boltwork")
        }
        #expect(error?.kind == .lineBusy)
        #expect(error?.errno == 16)
        #expect(error?.description.contains("GPIO17 is held by 'gpio-keys'") == true)
    }

    @Test("unsupported settings and a line used twice are reported as such")
    func invalidRequests() throws {
        let (gpio, system) = backend()
        let chip = try gpio.openChip(.path("/dev/gpiochip0"))
        let twice = #expect(throws: GPIOError.self) {
            try chip.requestLines(
                [LineConfig(.name("ROW0"), .input()), LineConfig(.offset(0), .input())], consumer: "t")
        }
        #expect(twice?.kind == .invalidArgument)
        system.fail("request", with: 22)
        let refused = #expect(throws: GPIOError.self) {
            try chip.requestLines([LineConfig(.name("ROW0"), .input(bias: .pullUp))], consumer: "t")
        }
        #expect(refused?.kind == .unsupportedSetting)
    }

    @Test("portable settings translate to the shim's terms", arguments: [1, 2])
    func settingsTranslation(apiMajor: Int) {
        let kernel = apiMajor == 2
        let input = NativeLineSettings(
            .input(bias: .pullUp, activeLow: true, edges: .both, debounce: .milliseconds(5)),
            kernelDebounce: kernel)
        #expect(!input.output)
        #expect(input.activeLow)
        #expect(input.bias == 2)
        #expect(input.edge == 3)
        #expect(input.debounceMicroseconds == (kernel ? 5000 : 0))
        let output = NativeLineSettings(.output(initial: .active, drive: .openDrain), kernelDebounce: kernel)
        #expect(output.output && output.outputValue)
        #expect(output.drive == 1)
        #expect(output.edge == 0)
    }

    @Test("the compiled libgpiod holds exactly what the settings ask for")
    func nativeTranslation() {
        let live = LiveGPIOSystem()
        let input = LineSettings.input(
            bias: .pullUp, activeLow: true, edges: .both, debounce: .milliseconds(5))
        let output = LineSettings.output(initial: .active, drive: .openDrain)
        if live.apiMajor == 1 {
            #expect(!live.hasKernelDebounce)
            #expect(
                live.nativeDescription(of: input)
                    == "v1 request=event-both-edges flags=active-low|bias-pull-up default=0 debounce=software"
            )
            #expect(
                live.nativeDescription(of: output)
                    == "v1 request=output flags=open-drain default=1 debounce=none")
            #expect(
                live.nativeDescription(of: .input(bias: .pullDown, edges: .falling))
                    == "v1 request=event-falling-edge flags=bias-pull-down default=0 debounce=none")
        } else {
            #expect(live.hasKernelDebounce)
            #expect(
                live.nativeDescription(of: input)
                    == "v2 direction=input edge=both bias=pull-up drive=push-pull active-low=1 debounce-us=5000 output=inactive"
            )
            #expect(
                live.nativeDescription(of: output)
                    == "v2 direction=output edge=none bias=as-is drive=open-drain active-low=0 debounce-us=0 output=active"
            )
            #expect(
                live.nativeDescription(of: .input(bias: .disabled, edges: .rising))
                    == "v2 direction=input edge=rising bias=disabled drive=push-pull active-low=0 debounce-us=0 output=inactive"
            )
        }
        #expect(live.libraryVersion.hasPrefix(live.apiMajor == 1 ? "1." : "2."))
    }

    @Test("values are read and written in one call; EINTR is retried; inputs cannot be set")
    func valuesAndEINTR() throws {
        let (gpio, system) = backend()
        let chip = try gpio.openChip(.path("/dev/gpiochip0"))
        let request = try chip.requestLines(
            [
                LineConfig(.name("COL0"), .output(initial: .active)), LineConfig(.name("COL1"), .output()),
                LineConfig(.name("ROW0"), .input()),
            ],
            consumer: "t")
        system.fail("get", with: 4, 4)
        #expect(try request.values() == [.active, .inactive, .inactive])
        #expect(system.log.filter { $0 == "get" }.count == 3)
        try request.setValues([.inactive, .active], at: [0, 1])
        #expect(try request.values() == [.inactive, .active, .inactive])
        let error = #expect(throws: GPIOError.self) { try request.setValue(.active, at: 2) }
        #expect(error?.kind == .invalidArgument)
        system.fail("get", with: 5)
        let io = #expect(throws: GPIOError.self) { try request.values() }
        #expect(io?.kind == .io)
        #expect(io?.errno == 5)
    }

    @Test("libgpiod 1.6 refusing a reconfiguration says why")
    func reconfigureOnV1() throws {
        let (gpio, system) = backend(apiMajor: 1)
        let request = try gpio.openChip(.path("/dev/gpiochip0")).requestLines(
            [LineConfig(.name("COL0"), .output())], consumer: "t")
        system.fail("reconfigure", with: 95)
        let error = #expect(throws: GPIOError.self) { try request.reconfigure([.input()]) }
        #expect(error?.kind == .unsupportedSetting)
        #expect(error?.detail.contains("libgpiod 1.6") == true)
    }

    @Test("kernel edge events reach the handler on the clock with their kernel timestamps")
    func edgeEvents() throws {
        let clock = VirtualClock()
        let (gpio, system) = backend(clock: clock)
        let request = try gpio.openChip(.path("/dev/gpiochip0")).requestLines(
            [
                LineConfig(.name("ROW0"), .input(bias: .pullUp, edges: .both)),
                LineConfig(.name("ROW1"), .input(edges: .both)),
            ],
            consumer: "t")
        let received = Protected([EdgeEvent]())
        request.setEdgeHandler { event in received.withLock { $0.append(event) } }
        let handle = try #require(system.state.withLock { $0.requests.keys.max() })
        system.edge(request: handle, index: 1, to: true, at: 1_500_000)
        let linux = try #require(request as? LinuxLineRequest)
        linux.drainEvents(descriptor: Int32(handle))
        #expect(
            received.withLock { $0.isEmpty }, "events are delivered on the clock, not on the reader thread")
        clock.runUntilIdle()
        let events = received.withLock { $0 }
        #expect(
            events == [
                EdgeEvent(
                    kind: .rising, index: 1, offset: 1, timestamp: MonotonicInstant(nanoseconds: 1_500_000),
                    sequence: 1)
            ])
    }

    @Test("with libgpiod 1.6 debounce runs in software on the clock")
    func softwareDebounce() throws {
        let clock = VirtualClock()
        let (gpio, system) = backend(apiMajor: 1, clock: clock)
        let request = try gpio.openChip(.path("/dev/gpiochip0")).requestLines(
            [LineConfig(.name("ROW0"), .input(edges: .both, debounce: .milliseconds(5)))], consumer: "t")
        #expect(system.state.withLock { $0.requests.values.first?.settings.first?.debounceMicroseconds } == 0)
        let received = Protected([EdgeEvent]())
        request.setEdgeHandler { event in received.withLock { $0.append(event) } }
        let handle = try #require(system.state.withLock { $0.requests.keys.max() })
        let linux = try #require(request as? LinuxLineRequest)
        // A bouncing press: high, low, high within 2 ms, then stable.
        for (value, ms) in [(true, 0), (false, 1), (true, 2)] {
            clock.advance(to: MonotonicInstant(nanoseconds: Int64(ms) * 1_000_000))
            system.edge(request: handle, index: 0, to: value, at: UInt64(ms) * 1_000_000)
            linux.drainEvents(descriptor: Int32(handle))
            clock.runUntilIdle()
        }
        clock.advance(by: .milliseconds(4))
        #expect(received.withLock { $0.isEmpty }, "not stable for 5 ms yet")
        clock.advance(by: .milliseconds(1))
        let events = received.withLock { $0 }
        #expect(events.map(\.kind) == [.rising])
        #expect(events.first?.timestamp == MonotonicInstant(nanoseconds: 7_000_000))
    }

    @Test("shutdown releases every line still held; later requests fail")
    func shutdownReleasesLines() throws {
        let (gpio, system) = backend()
        let chip = try gpio.openChip(.path("/dev/gpiochip0"))
        let a = try chip.requestLines([LineConfig(.name("ROW0"), .input())], consumer: "t")
        let b = try chip.requestLines([LineConfig(.name("MOTOR_IN1"), .output())], consumer: "t")
        gpio.shutdown()
        #expect(system.state.withLock { $0.released.count } == 2)
        #expect(throws: GPIOError.self) { try a.values() }
        b.release()
        #expect(system.state.withLock { $0.released.count } == 2, "releasing twice does nothing")
        let error = #expect(throws: GPIOError.self) {
            try chip.requestLines([LineConfig(.name("ROW1"), .input())], consumer: "t")
        }
        #expect(error?.kind == .released)
    }

    @Test("a request that goes out of scope releases its lines")
    func releaseOnDeinit() throws {
        let (gpio, system) = backend()
        let chip = try gpio.openChip(.path("/dev/gpiochip0"))
        do { _ = try chip.requestLines([LineConfig(.name("ROW0"), .input())], consumer: "t") }
        #expect(system.state.withLock { $0.released.count } == 1)
    }
}
