import BoltworkBoard
import BoltworkDaemon
import BoltworkHAL
import BoltworkLock
import BoltworkSimulation
import BoltworkStore
import Foundation
import Testing

/// The interactive simulator's model and view, driven with actions on virtual time; the
/// assertions read the rendered frames, as a person reads the screen.
@Suite("The interactive simulator")
struct InteractiveSimulatorTests {
    static let boardPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
            "Boards/simulator.yaml"
        )
        .path

    struct Harness {
        let session: SimulatorSession
        let clock: VirtualClock

        init(store: any LockStore = MemoryLockStore(), config: LockConfigFile = LockConfigFile()) throws {
            clock = VirtualClock()
            session = try SimulatorSession(
                boardFile: try BoardFile.load(path: InteractiveSimulatorTests.boardPath), config: config,
                store: store, clock: clock,
                wallClock: LinkedWallClock(clock: clock, epoch: Date(timeIntervalSince1970: 1_800_000_000)),
                hashing: .testing)
            clock.runUntilIdle()
        }

        var frame: String { frame(width: 80, height: 32) }

        func frame(width: Int, height: Int, color: Bool = false) -> String {
            SimulatorRenderer(width: width, height: height, color: color).render(session.snapshot())
                .joined(separator: "\n")
        }

        /// Presses `keys` on the simulated keypad (queued, each held and released) and lets
        /// them be scanned.
        func type(_ keys: String) {
            for key in keys { session.perform(.press(key)) }
            clock.advance(
                by: (SimulatorSession.keyHold + SimulatorSession.keyGap) * keys.count + .milliseconds(300))
        }

        func perform(_ action: SimulatorAction, thenWait wait: Duration = .milliseconds(100)) {
            session.perform(action)
            clock.advance(by: wait)
        }

        /// The whole first-time setup: a name, the code twice.
        func setUp(name: String = "ada", code: String = "246810") {
            for character in name { session.perform(.text(character)) }
            session.perform(.submitName)
            type(code + "#")
            type(code + "#")
            clock.advance(by: .seconds(1))
        }
    }

    @Test("the setup explains there is no default code, takes a name and the code twice, then runs the lock")
    func setup() throws {
        let h = try Harness()
        #expect(h.session.phase == .name)
        #expect(h.frame.contains("no default code"))
        #expect(h.frame.contains("Step 1 of 3"))
        for character in "adx" { h.session.perform(.text(character)) }
        h.session.perform(.deleteBackward)
        h.session.perform(.text("a"))
        #expect(h.frame.contains("Name: ada_"))

        h.session.perform(.submitName)
        #expect(h.session.phase == .code)
        #expect(h.frame.contains("Step 2 of 3"))
        #expect(h.frame.contains("Type 6 to 10 digits, then #"))
        h.type("246")
        #expect(h.frame.contains("Code: ●●●"))
        h.type("810#")
        #expect(h.session.phase == .confirm)
        #expect(h.frame.contains("Step 3 of 3"))
        h.type("246810#")
        h.clock.advance(by: .seconds(1))

        #expect(h.session.phase == .running)
        #expect(try h.session.lock.controller.access.hasAdminCode())
        let frame = h.frame
        #expect(frame.contains("Bolt     unlocked"))
        #expect(frame.contains("admin code set for ada"))
        #expect(frame.contains("user-added by ada"))
        #expect(frame.contains("code-set by ada"))
        #expect(frame.contains("started: bolt unlocked"))
        #expect(!frame.contains("246810"), "the code never appears on the screen")
    }

    @Test("a short code and a differing confirmation start the code again with the reason")
    func setupMistakes() throws {
        let h = try Harness()
        h.session.perform(.submitName)
        h.type("2468#")
        #expect(h.session.phase == .code)
        #expect(h.frame.contains("too short: a code has at least 6 digits"))
        h.type("246810#")
        h.type("135790#")
        #expect(h.session.phase == .code)
        #expect(h.frame.contains("the two codes differ; nothing was stored"))
        #expect(!(try h.session.lock.controller.access.hasAdminCode()))
        // World keys wait for the lock to start.
        h.perform(.toggleDoor)
        #expect(h.frame.contains("the lock starts once the admin code is set"))
        // An empty name becomes "admin".
        h.type("975310#")
        h.type("975310#")
        h.clock.advance(by: .seconds(1))
        #expect(h.session.phase == .running)
        #expect(h.frame.contains("code-set by admin"))
    }

    @Test("the inside button locks; a valid code on the keypad unlocks; the pressed key is highlighted")
    func lockAndUnlock() throws {
        let h = try Harness()
        h.setUp()
        h.perform(.insideButton, thenWait: .seconds(3))
        var frame = h.frame
        #expect(frame.contains("Bolt     locked"))
        // The controller stops the motor when the extended switch closes, just short of the end.
        #expect(frame.contains("retracted ○ [████████████████] ● extended"))
        #expect(h.session.snapshot().boltPercent > 97)
        #expect(frame.contains("locked (button)"))

        h.session.perform(.press("5"))
        h.clock.advance(by: .milliseconds(60))
        #expect(h.frame.contains("│[5]│"))
        h.clock.advance(by: .milliseconds(500))
        #expect(!h.frame.contains("[5]"))
        h.perform(.press("*"), thenWait: .milliseconds(500))

        h.type("246810#")
        h.clock.advance(by: .seconds(3))
        frame = h.frame
        #expect(frame.contains("Bolt     unlocked"))
        #expect(frame.contains("retracted ● [░░░░░░░░░░░░░░░░] ○ extended"))
        #expect(frame.contains("unlocked (keypad) by ada"))
        #expect(frame.contains("last: accepted"))
    }

    @Test("the door key opens the door, and the lock refuses to throw the bolt into it")
    func door() throws {
        let h = try Harness()
        h.setUp()
        #expect(h.frame.contains("Door     closed"))
        h.perform(.toggleDoor)
        #expect(h.frame.contains("Door     open"))
        h.perform(.insideButton, thenWait: .seconds(2))
        #expect(h.frame.contains("door-open (button)"))
        #expect(h.frame.contains("Bolt     unlocked"))
        h.perform(.toggleDoor)
        #expect(h.frame.contains("Door     closed"))
    }

    @Test("the jam key stops the bolt on its next move: jammed; freed, it locks")
    func jam() throws {
        let h = try Harness()
        h.setUp()
        h.perform(.jam)
        #expect(h.frame.contains("obstacle at 10 %"))
        h.perform(.insideButton, thenWait: .seconds(15))
        var frame = h.frame
        #expect(frame.contains("Bolt     jammed while locking"))
        #expect(frame.contains("jammed (button)"))
        h.perform(.freeJam)
        #expect(h.frame.contains("no obstacle"))
        h.perform(.insideButton, thenWait: .seconds(3))
        frame = h.frame
        #expect(frame.contains("Bolt     locked"))
    }

    @Test("a jam while the bolt moves stops it right there")
    func jamWhileMoving() throws {
        let h = try Harness()
        h.setUp()
        h.perform(.insideButton, thenWait: .milliseconds(700))
        #expect(h.frame.contains("Bolt     locking…"))
        h.perform(.jam, thenWait: .seconds(15))
        let snapshot = h.session.snapshot()
        #expect(h.frame.contains("jammed while locking"))
        #expect(snapshot.boltPercent < 98)
    }

    @Test("cutting the motor's power makes a lock attempt fail; the view says the power is cut")
    func powerCut() throws {
        let h = try Harness()
        h.setUp()
        h.perform(.toggleMotorPower)
        #expect(h.frame.contains("power cut"))
        h.perform(.insideButton, thenWait: .seconds(15))
        #expect(h.frame.contains("Bolt     jammed while locking"))
        h.perform(.toggleMotorPower)
        h.perform(.insideButton, thenWait: .seconds(3))
        #expect(h.frame.contains("Bolt     locked"))
    }

    @Test("five wrong codes start a lockout whose countdown the view shows")
    func lockoutCountdown() throws {
        let h = try Harness()
        h.setUp()
        for wrong in ["111111", "222222", "333333", "444444", "555555"] { h.type(wrong + "#") }
        let first = try #require(h.session.snapshot().lockoutSeconds)
        #expect(first > 20 && first <= 30)
        #expect(h.frame.contains("5 wrong in a row · locked out: \(first) s left"))
        h.clock.advance(by: .seconds(10))
        #expect(h.frame.contains("locked out: \(first - 10) s left"))
        h.type("246810#")
        #expect(h.frame.contains("locked-out (keypad)"))
        h.clock.advance(by: .seconds(30))
        #expect(!h.frame.contains("locked out:"))
        h.type("246810#")
        h.clock.advance(by: .seconds(2))
        #expect(h.frame.contains("no wrong codes"))
    }

    @Test("turning by hand moves the bolt with no motor; the lock records a manual lock")
    func turnByHand() throws {
        let h = try Harness()
        h.setUp()
        h.perform(.turnByHand, thenWait: .seconds(2))
        #expect(h.frame.contains("Bolt     locked"))
        #expect(h.frame.contains("locked (manual)"))
        h.perform(.turnByHand, thenWait: .seconds(2))
        #expect(h.frame.contains("Bolt     unlocked"))
    }

    @Test("draining the battery reaches the reserve: moves are refused; charging recovers")
    func battery() throws {
        let h = try Harness()
        h.setUp()
        #expect(h.frame.contains("Battery  80 %"))
        for _ in 0..<8 { h.perform(.drainBattery) }
        h.clock.advance(by: .seconds(2))
        #expect(h.frame.contains("Battery  0 %"))
        #expect(h.frame.contains("battery-critical"))
        h.perform(.insideButton, thenWait: .seconds(2))
        #expect(h.frame.contains("insufficient-battery (button)"))
        for _ in 0..<5 { h.perform(.chargeBattery) }
        h.clock.advance(by: .seconds(2))
        #expect(h.frame.contains("Battery  50 %"))
        #expect(h.frame.contains("· normal"))
    }

    @Test("the mode key cycles the modes; privacy refuses a remote unlock, passage refuses to lock")
    func modes() throws {
        let h = try Harness()
        h.setUp()
        h.perform(.insideButton, thenWait: .seconds(3))
        h.perform(.cycleMode)
        #expect(h.frame.contains("Mode     vacation"))
        h.perform(.cycleMode)
        #expect(h.frame.contains("Mode     privacy"))
        h.perform(.remoteUnlock, thenWait: .seconds(3))
        #expect(h.frame.contains("privacy mode: entry from outside is refused"))
        #expect(h.frame.contains("refused-by-mode (remote)"), "the controller records the refusal")
        #expect(h.frame.contains("Bolt     locked"))
        h.perform(.cycleMode, thenWait: .seconds(3))
        #expect(h.frame.contains("Mode     passage"))
        #expect(h.frame.contains("Bolt     unlocked"))
        h.perform(.insideButton, thenWait: .seconds(3))
        #expect(h.frame.contains("in passage mode: it stays unlocked"))
        #expect(h.frame.contains("refused-by-mode (button)"), "the controller records the refusal")
        h.perform(.cycleMode)
        #expect(h.frame.contains("Mode     normal"))
    }

    @Test("a kept store skips the setup and shows the earlier audit lines")
    func keptState() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "boltwork-sim-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("boltwork.db").path
        do {
            let h = try Harness(store: try SQLiteLockStore(path: path))
            h.setUp(name: "grace")
            h.perform(.insideButton, thenWait: .seconds(3))
            h.session.shutdown()
        }
        let h = try Harness(store: try SQLiteLockStore(path: path))
        #expect(h.session.phase == .running)
        // The simulated bolt starts retracted in every run; the log is the one kept.
        let frame = h.frame
        #expect(frame.contains("Bolt     unlocked"))
        #expect(frame.contains("locked (button)"))
        #expect(frame.contains("stopped: bolt locked"))
        h.type("246810#")
        h.clock.advance(by: .seconds(3))
        #expect(h.frame.contains("unlocked (keypad) by grace"))
    }

    @Test("frames fit the screen in every size, with and without colour")
    func frameSizes() throws {
        let h = try Harness()
        h.setUp()
        for wrong in ["111111", "222222"] { h.type(wrong + "#") }
        h.perform(.jam)
        h.session.perform(.press("5"))
        h.clock.advance(by: .milliseconds(60))
        for (width, height) in [(80, 24), (100, 40), (60, 16), (40, 10)] {
            for color in [false, true] {
                let lines = SimulatorRenderer(width: width, height: height, color: color).render(
                    h.session.snapshot())
                #expect(lines.count == height)
                #expect(lines.allSatisfy { SimulatorRenderer.visibleWidth($0) <= width })
                #expect(lines.contains { $0.contains("q quit") }, "the help line is always shown")
                let text = lines.joined()
                #expect(text.contains("\u{1B}[") == color)
            }
        }
        let colored = h.frame(width: 80, height: 24, color: true)
        #expect(colored.contains("\u{1B}[7;1m 5 \u{1B}[0m"), "the pressed key is shown inverted")
        #expect(!colored.contains("[5]"))
    }
}

@Suite("The simulator's input mapper")
struct SimulatorInputTests {
    @Test("keypad keys, world keys and quit")
    func keys() {
        var input = SimulatorInput()
        #expect(
            input.actions(for: Array("0123456789#*".utf8), editingName: false)
                == "0123456789#*".map { .press($0) })
        let world: [(Character, SimulatorAction)] = [
            ("d", .toggleDoor), ("j", .jam), ("f", .freeJam), ("h", .turnByHand), ("b", .drainBattery),
            ("c", .chargeBattery), ("p", .toggleMotorPower), ("l", .insideButton), ("u", .remoteUnlock),
            ("m", .cycleMode), ("q", .quit), ("D", .toggleDoor), ("Q", .quit),
        ]
        for (key, action) in world {
            #expect(
                input.action(for: UInt8(ascii: key.unicodeScalars.first ?? "x"), editingName: false) == action
            )
        }
        #expect(input.action(for: 0x03, editingName: false) == .quit)
        #expect(input.action(for: 0x0C, editingName: false) == .redraw)
        #expect(input.action(for: UInt8(ascii: "x"), editingName: false) == nil)
        #expect(input.action(for: UInt8(ascii: " "), editingName: false) == nil)
    }

    @Test("escape sequences (arrows, function keys) are swallowed whole")
    func escapes() {
        var input = SimulatorInput()
        // Up arrow, F1, Delete (ESC [ 3 ~), then a real key.
        let bytes: [UInt8] = [0x1B, 0x5B, 0x41, 0x1B, 0x4F, 0x50, 0x1B, 0x5B, 0x33, 0x7E, UInt8(ascii: "d")]
        #expect(input.actions(for: bytes, editingName: false) == [.toggleDoor])
        // A lone ESC followed by a key drops only the ESC's next byte.
        #expect(
            input.actions(for: [0x1B, UInt8(ascii: "x"), UInt8(ascii: "j")], editingName: false) == [.jam])
    }

    @Test("while the name is edited, keys are text; Backspace deletes, Enter confirms, Ctrl-C quits")
    func nameEditing() {
        var input = SimulatorInput()
        #expect(
            input.actions(for: Array("dq 7".utf8), editingName: true) == [
                .text("d"), .text("q"), .text(" "), .text("7"),
            ])
        #expect(input.action(for: 0x7F, editingName: true) == .deleteBackward)
        #expect(input.action(for: 0x0D, editingName: true) == .submitName)
        #expect(input.action(for: 0x03, editingName: true) == .quit)
    }
}

@Suite("The real-time pacing of virtual time")
struct PacedVirtualClockTests {
    @Test("work from another thread runs at its real time, deadlines run exactly, never ahead of real time")
    func pacing() throws {
        let clock = PacedVirtualClock()
        let seen = Protected([String: MonotonicInstant]())
        let start = SystemClock.monotonicNow()
        let loop = Thread {
            clock.run(tick: { nil }, afterStep: {})
        }
        loop.start()
        clock.execute {
            seen.withLock { $0["first"] = clock.now }
            clock.schedule(after: .milliseconds(80)) {
                seen.withLock { $0["timer"] = clock.now }
                seen.withLock { $0["timerReal"] = SystemClock.monotonicNow() }
            }
        }
        let deadline = SystemClock.monotonicNow() + .seconds(10)
        while seen.withLock({ $0["timer"] }) == nil && SystemClock.monotonicNow() < deadline {
            usleep(1000)
        }
        clock.stop()
        let values = seen.withLock { $0 }
        let first = try #require(values["first"])
        let timer = try #require(values["timer"])
        let timerReal = try #require(values["timerReal"])
        #expect(timer - first == .milliseconds(80), "inside work, now is the item's deadline")
        #expect(timerReal - start >= .milliseconds(80), "virtual time never runs ahead of real time")
    }
}
