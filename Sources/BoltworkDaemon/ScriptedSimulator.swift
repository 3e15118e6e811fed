import BoltworkBoard
import BoltworkDrivers
import BoltworkHAL
import BoltworkLock
import BoltworkSimulation
import Foundation

/// The simulator without a terminal: a script of key presses and world events on virtual
/// time, output as lines. Scripts and tests drive the same lock the interactive simulator
/// shows.
///
/// Commands, one per line (`#` starts a comment only at the start of a line):
///
///     init NAME CODE        set the admin code (as `boltd init` does)
///     keys 2468#            type keys on the keypad
///     wait 5s | 200ms       let virtual time pass
///     lock | unlock         press the inside button (lock) or a trusted remote unlock
///     door open | close     open or close the door
///     jam PERCENT | free    jam the bolt at a position, or free it
///     turn PERCENT          turn the bolt by hand to a position
///     battery PERCENT       set the battery's charge
///     power off | on        cut or restore the motor's power
///     mode MODE             normal, vacation, privacy, passage
///     status                print the lock's state
///     log                   print the audit log
///     verify                check the audit hash chain
public final class ScriptedSimulator {
    /// The virtual clock.
    public let clock = VirtualClock()
    /// The lock.
    public let lock: RunningLock
    /// The simulated board under it.
    public let board: SimulatedBoard
    private let output: @Sendable (String) -> Void

    /// Builds the simulated lock from `boardFile` with the policy in `config` and an in-memory
    /// store; `output` receives every line printed.
    public init(
        boardFile: BoardFile, config: LockConfigFile = LockConfigFile(),
        store: any LockStore = MemoryLockStore(),
        output: @escaping @Sendable (String) -> Void
    )
        throws
    {
        self.output = output
        board = try SimulatedBoard(board: boardFile, clock: clock)
        let wall = LinkedWallClock(clock: clock, epoch: Date(timeIntervalSince1970: 1_800_000_000))
        lock = try RunningLock(
            hardware: try board.hardware(), store: store, wallClock: wall, clock: clock, config: config,
            hashing: .testing,
            simulation: board)
        let clock = self.clock
        lock.controller.setNoticeHandler { notice in
            switch notice {
            case .recorded(let event): output("[\(clock.now)] \(describe(event))")
            case .storeFailed(let detail): output("[\(clock.now)] STORE FAILED: \(detail)")
            case .fault(let detail): output("[\(clock.now)] fault: \(detail)")
            }
        }
        lock.controller.bolt.setStateChangeHandler { change in output("[\(clock.now)] bolt \(change.state)") }
        try lock.start()
        clock.runUntilIdle()
    }

    /// Runs a whole script; returns false when a line could not be understood.
    @discardableResult
    public func run(script: String) -> Bool {
        var ok = true
        for line in script.split(separator: "\n", omittingEmptySubsequences: false) {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty || text.hasPrefix("#") { continue }
            if !execute(text) { ok = false }
        }
        lock.shutdown()
        return ok
    }

    /// Executes one command; returns false (and prints why) when it is not understood.
    @discardableResult
    public func execute(_ line: String) -> Bool {
        let words = line.split(separator: " ").map(String.init)
        guard let command = words.first else { return true }
        let argument = words.dropFirst().first
        let mechanism = board.mechanism
        switch (command, argument) {
        case ("init", _) where words.count == 3:
            do {
                _ = try lock.controller.access.initializeAdmin(name: words[1], pin: words[2])
                lock.controller.reportNewRecords()
            } catch {
                output("[\(clock.now)] init refused: \(error)")
            }
        case ("keys", let keys?):
            board.keypad.type(keys)
            clock.advance(by: .milliseconds(250 * keys.count + 200))
        case ("wait", let text?):
            guard let duration = Self.duration(text) else {
                return reject(line, "a duration like 5s or 200ms")
            }
            clock.advance(by: duration)
        case ("lock", nil):
            lock.controller.bolt.lock(source: .button)
            clock.runUntilIdle()
        case ("unlock", nil):
            lock.controller.bolt.unlock(source: .remote)
            clock.runUntilIdle()
        case ("door", "open"?): mechanism.openDoor()
        case ("door", "close"?): mechanism.closeDoor()
        case ("jam", let text?):
            guard let percent = Double(text) else { return reject(line, "a position in percent") }
            mechanism.jam(at: percent)
        case ("free", nil): mechanism.clearJam()
        case ("turn", let text?):
            guard let percent = Double(text) else { return reject(line, "a position in percent") }
            mechanism.turnByHand(to: percent, over: .milliseconds(800))
            clock.advance(by: .seconds(1))
        case ("battery", let text?):
            guard let percent = Double(text) else { return reject(line, "a charge in percent") }
            board.battery.setStateOfCharge(percent)
            lock.controller.battery?.refresh()
        case ("power", "off"?): mechanism.cutPower()
        case ("power", "on"?): mechanism.restorePower()
        case ("mode", let text?):
            guard let mode = OperatingMode(rawValue: text) else {
                return reject(line, "normal, vacation, privacy or passage")
            }
            do {
                try lock.controller.setMode(mode, by: .installer)
                clock.runUntilIdle()
            } catch {
                output("[\(clock.now)] mode refused: \(error)")
            }
        case ("status", nil):
            output(Self.summary(lock.controller.status(), mechanism: mechanism.percent))
        case ("log", nil):
            for record in (try? lock.store.auditRecords(AuditQuery())) ?? [] {
                output("  #\(record.sequence) \(describe(record.event))")
            }
        case ("verify", nil):
            output("audit chain: \((try? lock.store.verifyAudit()).map { "\($0)" } ?? "unreadable")")
        default:
            return reject(line, "a command from the list in `boltd simulate --help`")
        }
        return true
    }

    private func reject(_ line: String, _ expected: String) -> Bool {
        output("? \(line): expected \(expected)")
        return false
    }

    static func duration(_ text: String) -> Duration? {
        if text.hasSuffix("ms"), let value = Int(text.dropLast(2)) { return .milliseconds(value) }
        if text.hasSuffix("s"), let value = Double(text.dropLast()) {
            return .milliseconds(Int(value * 1000))
        }
        if text.hasSuffix("m"), let value = Int(text.dropLast()) { return .seconds(value * 60) }
        return nil
    }

    /// One line summarising the lock.
    public static func summary(_ status: LockStatus, mechanism percent: Double) -> String {
        var parts = ["bolt \(status.bolt) (\(Int(percent.rounded())) % out)"]
        if let door = status.door { parts.append("door \(door == .closed ? "closed" : "open")") }
        if let battery = status.battery { parts.append("battery \(Int(battery.percent.rounded())) %") }
        if let fault = status.gaugeFault { parts.append("gauge fault: \(fault)") }
        parts.append("mode \(status.mode.rawValue)")
        if status.lockout.keypadDisabled {
            parts.append("keypad disabled until an admin resets it")
        } else if status.lockout.consecutiveFailures > 0 {
            parts.append("\(status.lockout.consecutiveFailures) wrong code(s)")
        }
        if !status.hasAdminCode { parts.append("no admin code: run `boltd init`") }
        return "status: " + parts.joined(separator: ", ")
    }
}

extension ScriptedSimulator {
    /// The demonstration `boltd simulate --demo` runs: no default code, setting the admin code,
    /// a wrong code, the right one, auto-relock, a lockout, a jam, an open door and a dying
    /// battery, each shown as the lock records it.
    public static let demoScript = """
        # A new lock has no working code: the keypad refuses everything.
        status
        keys 123456#
        # The installer sets the admin code (boltd init).
        init admin 246810
        lock
        wait 3s
        status
        # A wrong code, then the right one: the bolt retracts, and relocks after 30 s.
        keys 111111#
        keys 246810#
        wait 3s
        status
        wait 35s
        status
        # Five wrong codes in a row start a lockout; even the right code waits it out.
        keys 111111#
        keys 222222#
        keys 333333#
        keys 444444#
        keys 555555#
        keys 246810#
        wait 40s
        keys 246810#
        wait 3s
        # The door opens: the lock refuses to throw the bolt into an open frame.
        door open
        wait 1s
        lock
        wait 3s
        door close
        wait 1s
        # The strike is misaligned: the bolt jams half way.
        jam 50
        lock
        wait 10s
        free
        lock
        wait 3s
        # The battery runs down: below the reserve, moves are refused rather than risk a
        # brown-out that would leave the bolt between ends.
        battery 3
        unlock
        wait 3s
        status
        verify
        """
}
