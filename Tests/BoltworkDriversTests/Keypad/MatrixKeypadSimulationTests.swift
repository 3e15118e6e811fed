import BoltworkDrivers
import BoltworkHAL
import BoltworkSimulation
import Testing

/// The real driver scanning the simulated matrix's electrics on virtual time.
@Suite("Matrix keypad on a simulated matrix")
struct MatrixKeypadSimulationTests {
    @Test(
        "a bouncing press and a bouncing release give one press and one release",
        arguments: [GPIOKeypadMatrix.InactiveColumns.released, .inputs])
    func bounce(mode: GPIOKeypadMatrix.InactiveColumns) throws {
        let rig = try KeypadRig(wiring: .init(inactiveColumns: mode))
        // Contacts chatter for 3 ms (7 changes, ending closed).
        rig.matrix.bounce("5", transitions: 7, within: .milliseconds(3))
        rig.clock.advance(by: .milliseconds(3))
        #expect(rig.chip.history(of: "ROW1").count >= 8, "the chatter reaches the row pin")
        rig.clock.advance(by: .milliseconds(297))
        #expect(rig.log == ["p5"])
        rig.matrix.bounce("5", transitions: 9, within: .milliseconds(4))
        rig.clock.advance(by: .milliseconds(300))
        #expect(rig.log == ["p5", "r5"])
        #expect(rig.matrix.shortCircuitCount == 0)
        #expect(rig.keypad.isIdle)
    }

    @Test("a contact that opens for 2 ms while held is not a release, wherever it falls between polls")
    func glitchWhileHeld() throws {
        for offset in 0..<25 {
            let rig = try KeypadRig()
            rig.matrix.press("8")
            rig.clock.advance(by: .milliseconds(100 + Int64(offset)))
            rig.matrix.bounce("8", transitions: 2, within: .milliseconds(2))
            rig.clock.advance(by: .milliseconds(100))
            #expect(rig.log == ["p8"], "glitch \(offset) ms into the poll cycle")
            rig.matrix.bounce("8", transitions: 5, within: .milliseconds(4))
            rig.clock.advance(by: .milliseconds(100))
            #expect(rig.log == ["p8", "r8"], "release bounce \(offset) ms into the poll cycle")
        }
    }

    @Test("events carry the time of the scan that saw them")
    func timestamps() throws {
        let rig = try KeypadRig()
        let debounce: Int64 = 5
        let interval: Int64 = 20
        rig.clock.advance(by: .milliseconds(100))
        rig.matrix.hold("3", for: .milliseconds(200))
        rig.clock.advance(by: .milliseconds(400))
        let events = rig.events.withLock { $0 }
        #expect(events.map(\.kind) == [.press, .release])
        // The press: one debounce period after the edge.
        let pressAt: Int64 = 100 + debounce
        #expect(events.first?.timestamp == rig.instant(pressAt))
        // The release: the first poll after 300 ms sees it, the confirming scan one debounce later
        // reports it.
        var poll = pressAt
        while poll < 300 { poll += interval }
        #expect(events.last?.timestamp == rig.instant(poll + debounce))
    }

    @Test("with zero debounce the press is reported at the edge and the release at the next poll")
    func zeroDebounce() throws {
        let rig = try KeypadRig(options: .init(debounce: .zero))
        rig.clock.advance(by: .milliseconds(100))
        rig.matrix.hold("6", for: .milliseconds(50))
        rig.clock.runUntilIdle()
        #expect(rig.log == ["p6"], "scanned at once, without waiting")
        #expect(rig.events.withLock { $0.first?.timestamp } == rig.instant(100))
        rig.clock.advance(by: .milliseconds(200))
        #expect(rig.log == ["p6", "r6"])
        // The polls at 120, 140 ms still see the key; the poll at 160 ms sees the release and the
        // confirming scan follows at once.
        #expect(rig.events.withLock { $0.last?.timestamp } == rig.instant(160))
        #expect(rig.keypad.isIdle)
    }

    @Test("a negative debounce is a configuration error")
    func negativeDebounce() throws {
        let rig = try KeypadRig()
        let error = #expect(throws: DeviceError.self) {
            try MatrixKeypad(
                backend: rig.backend, clock: rig.clock, options: .init(debounce: .milliseconds(-1)))
        }
        #expect(error?.kind == .configuration)
    }

    @Test("without diodes, a ghost rectangle is discarded and the fourth corner is never reported")
    func ghostDiscarded() throws {
        let rig = try KeypadRig()
        // 1 = (0,0), 2 = (0,1), 4 = (1,0): the matrix makes 5 = (1,1) read as pressed.
        rig.matrix.press("1")
        rig.clock.advance(by: .milliseconds(50))
        rig.matrix.press("2")
        rig.clock.advance(by: .milliseconds(50))
        #expect(rig.log == ["p1", "p2"])
        let ghostsBefore = rig.keypad.ghostScanCount
        rig.matrix.press("4")
        rig.clock.advance(by: .milliseconds(200))
        #expect(rig.keypad.ghostScanCount > ghostsBefore, "the rectangle's scans are discarded")
        #expect(rig.log == ["p1", "p2"], "neither 4 nor the ghost 5 is reported")
        rig.matrix.release("2")
        rig.clock.advance(by: .milliseconds(100))
        #expect(rig.log == ["p1", "p2", "r2", "p4"])
        rig.matrix.releaseAll()
        rig.clock.advance(by: .milliseconds(100))
        #expect(!rig.log.contains("p5"))
        #expect(rig.keypad.isIdle)
        #expect(rig.matrix.shortCircuitCount == 0)
    }

    @Test("with diodes, three keys of a rectangle are three keys, and the fourth is real when pressed")
    func diodesAllowMultiKey() throws {
        let rig = try KeypadRig(options: .init(hasDiodes: true), diodes: true)
        rig.matrix.press(["1", "2", "4"])
        rig.clock.advance(by: .milliseconds(100))
        #expect(rig.log == ["p1", "p2", "p4"])
        rig.matrix.press("5")
        rig.clock.advance(by: .milliseconds(100))
        #expect(rig.log == ["p1", "p2", "p4", "p5"])
        #expect(rig.keypad.ghostScanCount == 0)
        #expect(rig.keypad.pressedKeys == ["1", "2", "4", "5"])
    }

    @Test("the ghost comes from the wiring: a driver told there are diodes reports the phantom key")
    func ghostIsPhysical() throws {
        // The matrix has no diodes but the driver is told it has: it trusts every scan, and the
        // fourth corner, which nobody pressed, is reported. This is what ghost detection prevents.
        let rig = try KeypadRig(options: .init(hasDiodes: true), diodes: false)
        rig.matrix.press(["1", "2"])
        rig.clock.advance(by: .milliseconds(100))
        rig.matrix.press("4")
        rig.clock.advance(by: .milliseconds(100))
        #expect(rig.log == ["p1", "p2", "p4", "p5"])
        #expect(rig.matrix.pressedKeys == ["1", "2", "4"])
    }

    @Test("a stuck key is reported once, ignored while held, and its release is reported")
    func stuckKey() throws {
        let limit = Duration.seconds(30)
        let rig = try KeypadRig(options: .init(stuckKeyLimit: limit))
        rig.matrix.press("7")
        rig.clock.advance(by: .seconds(29))
        #expect(rig.log == ["p7"])
        rig.clock.advance(by: .seconds(2))
        #expect(rig.log == ["p7", "s7"])
        let events = rig.events.withLock { $0 }
        let held = events[1].timestamp - events[0].timestamp
        #expect(
            held >= limit && held < limit + .milliseconds(20), "reported at the first scan past the limit")
        rig.clock.advance(by: .seconds(60))
        #expect(rig.log == ["p7", "s7"], "reported once")
        rig.matrix.press("9")
        rig.clock.advance(by: .milliseconds(100))
        #expect(rig.log == ["p7", "s7", "p9"], "other keys still work")
        rig.matrix.releaseAll()
        rig.clock.advance(by: .milliseconds(100))
        #expect(rig.log == ["p7", "s7", "p9", "r7", "r9"])
        #expect(rig.keypad.isIdle)
    }

    @Test("an idle keypad schedules no periodic work, after start and after a press and release")
    func idleCostsNothing() throws {
        let rig = try KeypadRig()
        rig.clock.runUntilIdle()
        let timers = rig.clock.firedTimerCount
        let scans = rig.keypad.scanCount
        rig.clock.advance(by: .seconds(60))
        #expect(rig.clock.firedTimerCount == timers)
        #expect(rig.keypad.scanCount == scans)
        #expect(rig.clock.pendingCount == 0)

        rig.matrix.tap("0")
        rig.clock.advance(by: .seconds(1))
        #expect(rig.log == ["p0", "r0"])
        #expect(rig.keypad.scanCount > scans, "the tap was scanned")
        let timersAfter = rig.clock.firedTimerCount
        let scansAfter = rig.keypad.scanCount
        rig.clock.advance(by: .seconds(60))
        #expect(rig.clock.firedTimerCount == timersAfter)
        #expect(rig.keypad.scanCount == scansAfter)
        #expect(rig.keypad.isIdle)
        #expect(rig.clock.pendingCount == 0)
        // Idle means every column active and waiting: a press is a row edge.
        for column in 0..<3 { #expect(rig.chip.lineState(of: "COL\(column)") == .driving(.low)) }
    }

    @Test("a 4×4 keypad with an active-high matrix and a column settle delay reads its letters")
    func activeHigh4x4() throws {
        let rig = try KeypadRig(
            keyMap: KeyMap.keypad4x4, wiring: .init(activeLevel: .high),
            options: .init(columnSettleDelay: .microseconds(2)))
        #expect(rig.chip.lineState(of: "COL3") == .driving(.high))
        rig.matrix.type("A9D", holdFor: .milliseconds(80), gap: .milliseconds(120))
        rig.clock.advance(by: .seconds(1))
        #expect(rig.log == ["pA", "rA", "p9", "r9", "pD", "rD"])
        #expect(rig.keypad.isIdle)
    }

    @Test("a vanished chip mid-scan is reported once; the keypad retries and recovers")
    func errorRecovery() throws {
        let rig = try KeypadRig()
        rig.matrix.press("5")
        rig.clock.advance(by: .milliseconds(10))
        #expect(rig.log == ["p5"])
        rig.chip.remove()
        rig.clock.advance(by: .milliseconds(30))
        let first = rig.errors.withLock { $0 }
        #expect(first.count == 2, "the scan failure and the failed return to idle")
        #expect(first.allSatisfy { $0.kind == .hardware })
        #expect(first.last?.description.contains("retrying") == true)
        #expect(rig.log == ["p5", "r5"], "a key the driver can no longer see is released")
        rig.clock.advance(by: .seconds(5))
        #expect(rig.errors.withLock { $0.count } == 2, "retries are quiet")
        rig.chip.restore()
        rig.clock.advance(by: .seconds(2))
        #expect(rig.log == ["p5", "r5", "p5"], "the key still held is seen again")
        rig.matrix.release("5")
        rig.clock.advance(by: .milliseconds(100))
        rig.matrix.tap("6")
        rig.clock.advance(by: .milliseconds(300))
        #expect(rig.log == ["p5", "r5", "p5", "r5", "p6", "r6"])
        #expect(rig.keypad.isIdle)
    }

    @Test("stop deactivates the columns and ignores keys; the owner releases the lines")
    func stopAndRelease() throws {
        let rig = try KeypadRig()
        rig.keypad.stop()
        for column in 0..<3 { #expect(rig.chip.lineState(of: "COL\(column)") == .highImpedance) }
        rig.matrix.tap("1")
        rig.clock.advance(by: .seconds(1))
        #expect(rig.log.isEmpty)
        #expect(rig.chip.hasRequestedLines, "stop releases nothing")
        rig.backend.release()
        #expect(!rig.chip.hasRequestedLines)
    }

    @Test("a row line held by another consumer fails the request with a message naming the lines")
    func busyLine() throws {
        let clock = VirtualClock()
        let chip = SimulatedGPIO(clock: clock).addChip(label: "sim", lineNames: ["R0", "R1", "C0", "C1"])
        chip.hold("R1", consumer: "gpio-keys")
        let error = #expect(throws: DeviceError.self) {
            try GPIOKeypadMatrix(
                chip: chip, rows: [.name("R0"), .name("R1")], columns: [.name("C0"), .name("C1")])
        }
        #expect(error?.kind == .hardware)
        #expect(error?.description.contains("cannot request the keypad rows") == true)
        #expect(error?.description.contains("gpio-keys") == true)
        #expect(!chip.hasRequestedLines)
    }

    @Test(
        "columns switched to inputs are requested one per column, so each is reconfigured alone",
        arguments: [GPIOKeypadMatrix.InactiveColumns.released, .inputs])
    func columnRequests(mode: GPIOKeypadMatrix.InactiveColumns) throws {
        let rig = try KeypadRig(wiring: .init(activeLevel: .low, inactiveColumns: mode))
        defer { rig.backend.release() }
        // libgpiod 1.6 reconfigures all the lines of one request together, to one setting.
        #expect(rig.backend.columnRequests.count == (mode == .inputs ? 3 : 1))
        #expect(rig.backend.columnRequests.allSatisfy { mode == .released || $0.offsets.count == 1 })
        rig.matrix.tap("5")
        rig.clock.advance(by: .seconds(1))
        rig.matrix.tap("9")
        rig.clock.advance(by: .seconds(1))
        #expect(rig.log == ["p5", "r5", "p9", "r9"])
        rig.backend.release()
        #expect(!rig.chip.hasRequestedLines, "release frees every column request")
    }

    @Test("a key map that does not match the matrix is a configuration error")
    func configuration() throws {
        let rig = try KeypadRig()
        let error = #expect(throws: DeviceError.self) {
            try MatrixKeypad(backend: rig.backend, keyMap: KeyMap.keypad4x4, clock: rig.clock)
        }
        #expect(error?.kind == .configuration)
        #expect(error?.description.contains("3 column lines") == true)
    }
}
