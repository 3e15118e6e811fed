import BoltworkBoard
import BoltworkDrivers
import BoltworkHAL
import BoltworkLock
import BoltworkSimulation
import Foundation

/// The interactive simulator's model: the real controller over the real drivers on the
/// simulated board, the first-time setup of the admin code on the simulated keypad, and the
/// world around the lock (door, jams, a hand on the thumb-turn, the battery, the motor's
/// power), driven by ``SimulatorAction``s and seen through ``snapshot()``.
///
/// It runs on any ``BoltClock``: the terminal front end paces a virtual clock in real time
/// (``PacedVirtualClock``); tests use a `VirtualClock` and advance it. Actions hop onto the
/// clock, so they run in order with the lock's own work.
public final class SimulatorSession: Sendable {
    /// Where the session is.
    public enum Phase: Sendable, Hashable {
        /// Setup: typing the first admin's name on the terminal.
        case name
        /// Setup: entering the new admin code on the simulated keypad.
        case code
        /// Setup: entering the same code again.
        case confirm
        /// The lock runs.
        case running
    }

    private struct State {
        var phase: Phase
        var name = ""
        var firstEntry: PINEntry?
        var enteredDigits = 0
        var message: String?
        var events: [String] = []
        var nextKeyAt = MonotonicInstant.zero
        var motorPowered = true
        var jamAt: Double?
        var lastFeedback: String?
    }

    /// The longest admin name the setup accepts.
    public static let maximumNameLength = 32
    /// How many audit lines the session keeps for the view.
    public static let eventCapacity = 200
    /// How long a simulated key is held down.
    public static let keyHold = Duration.milliseconds(120)
    /// The pause between the release of a key and the press of the next queued key.
    public static let keyGap = Duration.milliseconds(100)

    /// The clock everything runs on.
    public let clock: any BoltClock
    /// The simulated hardware.
    public let board: SimulatedBoard
    /// The lock on top of it.
    public let lock: RunningLock
    /// The wall clock (audit times, lockout ends).
    public let wallClock: any WallClock
    /// The board's name, for the title.
    public let boardName: String
    private let setupCollector: KeyCollector
    private let timeZone: TimeZone
    private let state: Protected<State>

    /// Builds the simulated board from `boardFile`, the lock over it with the policy in
    /// `config` and `store`, and starts either the setup (no admin code in the store yet) or
    /// the lock. `hashing` is the PIN hash cost (the standard cost on a lock; tests use
    /// `.testing`).
    public init(
        boardFile: BoardFile, config: LockConfigFile = LockConfigFile(),
        store: any LockStore = MemoryLockStore(),
        clock: any BoltClock, wallClock: (any WallClock)? = nil, hashing: PINHasher.Parameters = .standard
    ) throws {
        self.clock = clock
        let wallClock = wallClock ?? LinkedWallClock(clock: clock, epoch: Date())
        self.wallClock = wallClock
        boardName = boardFile.name
        timeZone = config.timeZone.flatMap(TimeZone.init(identifier:)) ?? .current
        board = try SimulatedBoard(board: boardFile, clock: clock)
        lock = try RunningLock(
            hardware: try board.hardware(), store: store, wallClock: wallClock, clock: clock, config: config,
            hashing: hashing, simulation: board)
        let bounds = lock.controller.access.configuration.pinLengths
        setupCollector = try KeyCollector(
            clock: clock,
            configuration: KeyCollector.Configuration(
                minimumLength: bounds.minimum, maximumLength: bounds.maximum,
                timeout: .seconds(max(config.entryTimeoutSeconds, 1))))
        let hasAdminCode = try lock.controller.access.hasAdminCode()
        state = Protected(State(phase: hasAdminCode ? .running : .name))

        // Earlier events (a kept state directory), then everything recorded from now on.
        let earlier = (try? store.auditRecords(AuditQuery(limit: 8))) ?? []
        state.withLock { state in state.events = earlier.map { self.line(for: $0.event) } }
        lock.controller.setNoticeHandler { [weak self] notice in self?.note(notice) }
        watchFeedback()

        if hasAdminCode {
            try startLock()
        } else {
            let collector = setupCollector
            collector.setProgressHandler { [weak self] count in self?.setupProgress(count) }
            collector.setOutcomeHandler { [weak self] outcome, _ in self?.setupOutcome(outcome) }
            lock.hardware.keypad.setKeyHandler { event in collector.handle(event) }
            try lock.hardware.keypad.start()
        }
    }

    /// The phase now.
    public var phase: Phase { state.withLock { $0.phase } }

    /// Whether the setup is asking for the admin's name (the terminal's keys are text then).
    public var isEditingName: Bool { phase == .name }

    /// The smallest and largest number of digits a code may have.
    public var codeLengths: PINHasher.LengthBounds { lock.controller.access.configuration.pinLengths }

    // MARK: Actions

    /// Performs `action`. Name editing takes effect at once; everything else hops onto the
    /// clock and runs in order with the lock's work.
    public func perform(_ action: SimulatorAction) {
        switch action {
        case .text(let character):
            state.withLock { state in
                guard state.phase == .name, state.name.count < Self.maximumNameLength else { return }
                state.name.append(character)
            }
        case .deleteBackward:
            state.withLock { state in
                guard state.phase == .name, !state.name.isEmpty else { return }
                state.name.removeLast()
            }
        case .submitName:
            state.withLock { state in
                guard state.phase == .name else { return }
                state.name = state.name.trimmingCharacters(in: .whitespaces)
                if state.name.isEmpty { state.name = "admin" }
                state.phase = .code
                state.message = nil
            }
        case .redraw, .quit:
            break
        default:
            clock.execute { [weak self] in self?.apply(action) }
        }
    }

    private func apply(_ action: SimulatorAction) {
        let phase = self.phase
        if case .press(let key) = action {
            guard phase != .name else { return }
            press(key)
            return
        }
        guard phase == .running else {
            say("the lock starts once the admin code is set")
            return
        }
        let mechanism = board.mechanism
        let controller = lock.controller
        switch action {
        case .toggleDoor:
            if mechanism.isDoorOpen { mechanism.closeDoor() } else { mechanism.openDoor() }
            say(nil)
        case .jam:
            let percent = mechanism.percent
            let ahead: Double
            switch controller.bolt.state {
            case .locking: ahead = min(100, percent + 1)
            case .unlocking: ahead = max(0, percent - 1)
            default: ahead = percent > 50 ? max(0, percent - 10) : min(100, percent + 10)
            }
            mechanism.jam(at: ahead)
            state.withLock { $0.jamAt = ahead }
            say("an obstacle blocks the bolt at \(Int(ahead.rounded())) %")
        case .freeJam:
            mechanism.clearJam()
            state.withLock { $0.jamAt = nil }
            say("the obstacle is gone")
        case .turnByHand:
            guard !(controller.bolt.state == .locking || controller.bolt.state == .unlocking) else {
                say("the motor is moving the bolt: the thumb-turn does not turn now")
                return
            }
            let target: Double = mechanism.percent >= 50 ? 0 : 100
            mechanism.turnByHand(to: target, over: .seconds(1))
            say(target == 0 ? "turning the thumb-turn to open" : "turning the thumb-turn to close")
        case .drainBattery, .chargeBattery:
            let step: Double = action == .drainBattery ? -10 : 10
            board.battery.setStateOfCharge(board.battery.stateOfCharge + step)
            _ = controller.battery?.refresh()
            say(nil)
        case .toggleMotorPower:
            let powered = state.withLock { state in
                state.motorPowered.toggle()
                return state.motorPowered
            }
            if powered { mechanism.restorePower() } else { mechanism.cutPower() }
            say(powered ? "motor power restored" : "motor power cut: the bolt cannot move")
        case .insideButton:
            say(nil)
            controller.requestLock(source: .button) { [weak self] result in self?.report(result) }
        case .remoteUnlock:
            say(nil)
            controller.requestUnlock(source: .remote) { [weak self] result in self?.report(result) }
        case .cycleMode:
            let modes = OperatingMode.allCases
            let current = (try? controller.access.mode()) ?? .normal
            let next = modes[((modes.firstIndex(of: current) ?? 0) + 1) % modes.count]
            do {
                try controller.setMode(next, by: .installer)
                say(nil)
            } catch {
                say("mode not changed: \(error)")
            }
        case .press, .text, .deleteBackward, .submitName, .redraw, .quit:
            break
        }
    }

    /// Presses `key` on the simulated keypad after the keys still queued, holds it, releases it.
    private func press(_ key: Character) {
        guard board.keypad.keyMap.contains(where: { $0.contains(key) }) else { return }
        let keypad = board.keypad
        let start = state.withLock { state -> MonotonicInstant in
            let start = max(clock.now, state.nextKeyAt)
            state.nextKeyAt = start + Self.keyHold + Self.keyGap
            return start
        }
        clock.schedule(at: start) { keypad.press(key) }
        clock.schedule(at: start + Self.keyHold) { keypad.release(key) }
    }

    private func say(_ message: String?) {
        state.withLock { $0.message = message }
    }

    /// Shows why an inside-button or remote request did not move the bolt.
    private func report(_ result: LockResult) {
        switch result {
        case .done: break
        case .refused(_, let detail): say(detail)
        case .failed(_, let detail): say(detail)
        }
    }

    // MARK: Setup

    private func setupProgress(_ count: Int) {
        state.withLock { $0.enteredDigits = count }
        try? lock.hardware.buzzer?.play(.keyClick)
    }

    private func setupOutcome(_ outcome: KeyCollector.Outcome) {
        let bounds = codeLengths
        state.withLock { $0.enteredDigits = 0 }
        switch outcome {
        case .submitted(let entry):
            let first = state.withLock { state -> PINEntry? in state.firstEntry }
            guard let first else {
                state.withLock { state in
                    state.firstEntry = entry
                    state.phase = .confirm
                    state.message = nil
                }
                try? lock.hardware.buzzer?.play(.accepted)
                return
            }
            guard entry == first else {
                restartCode("the two codes differ; nothing was stored. Enter a new code")
                return
            }
            // Finish outside the keypad's delivery: starting the lock replaces its key handler.
            clock.execute { [weak self] in self?.finishSetup(entry) }
        case .tooShort:
            restartCode("too short: a code has at least \(bounds.minimum) digits")
        case .tooLong:
            restartCode("too long: a code has at most \(bounds.maximum) digits")
        case .cleared:
            state.withLock { $0.message = "cleared (*): start the code again" }
        case .timedOut:
            state.withLock { $0.message = "too slow between keys: the partial code was dropped" }
        }
    }

    private func restartCode(_ message: String) {
        state.withLock { state in
            state.firstEntry = nil
            state.phase = .code
            state.message = message
        }
        try? lock.hardware.buzzer?.play(.refused)
    }

    private func finishSetup(_ entry: PINEntry) {
        let name = state.withLock { $0.name }
        do {
            _ = try lock.controller.access.initializeAdmin(name: name, pin: entry.revealedDigits)
        } catch {
            restartCode("not stored: \(error)")
            return
        }
        lock.controller.reportNewRecords()
        try? lock.hardware.buzzer?.play(.accepted)
        setupCollector.setOutcomeHandler(nil)
        setupCollector.setProgressHandler(nil)
        state.withLock { state in
            state.firstEntry = nil
            state.phase = .running
            state.message = "admin code set for \(name): the keypad now opens the lock"
        }
        do {
            try startLock()
        } catch {
            say("the lock did not start: \(error)")
        }
    }

    private func startLock() throws {
        try lock.start()
        lock.startRetention()
    }

    /// Stops the lock (finishing or safely stopping a move) and releases every line.
    public func shutdown() {
        lock.hardware.keypad.setKeyHandler(nil)
        if phase == .running {
            lock.shutdown()
        } else {
            lock.hardware.shutdown()
        }
    }

    // MARK: Observation

    private func note(_ notice: LockNotice) {
        let text: String
        switch notice {
        case .recorded(let event): text = line(for: event)
        case .storeFailed(let detail): text = "\(time(wallClock.now)) NOT RECORDED: \(detail)"
        case .fault(let detail): text = "\(time(wallClock.now)) fault: \(detail)"
        }
        state.withLock { state in
            state.events.append(text)
            if state.events.count > Self.eventCapacity {
                state.events.removeFirst(state.events.count - Self.eventCapacity)
            }
        }
    }

    private func line(for event: AuditEvent) -> String {
        "\(time(event.time)) \(describe(event))"
    }

    private func time(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String {
            let text = String(value ?? 0)
            return text.count < 2 ? "0" + text : text
        }
        return "\(two(parts.hour)):\(two(parts.minute)):\(two(parts.second))"
    }

    /// Remembers which pattern the buzzer played last, so the view can name it after the sound
    /// is over.
    private func watchFeedback() {
        guard let buzzer = lock.hardware.buzzer, let name = lineName(boardFile: board.board.buzzer),
            let chip = feedbackChip(board.board.buzzer)
        else {
            return
        }
        let offset = try? chip.resolve(.name(name))
        let clock = self.clock
        chip.observe { [weak self] changed in
            guard let offset, changed.contains(offset), chip.level(offset: offset) == .high else { return }
            // The buzzer's own lock is held while it writes: read its pattern afterwards.
            clock.execute { [weak self] in
                guard let pattern = buzzer.playing else { return }
                self?.state.withLock { $0.lastFeedback = Self.name(of: pattern) }
            }
        }
    }

    private func lineName(boardFile line: BoardLine?) -> String? {
        guard let line, case .name(let name) = line.line else { return nil }
        return name
    }

    private func feedbackChip(_ line: BoardLine?) -> SimulatedGPIOChip? {
        guard let line else { return nil }
        switch line.chip ?? board.board.defaultChip {
        case .label(let label): return board.gpio.chip(labelled: label)
        case .path: return nil
        }
    }

    private func outputIsOn(_ line: BoardLine?) -> Bool? {
        guard let name = lineName(boardFile: line), let chip = feedbackChip(line) else { return nil }
        return chip.level(of: name) == .high
    }

    static func name(of pattern: FeedbackPattern) -> String {
        switch pattern {
        case .keyClick: "key click"
        case .accepted: "accepted"
        case .refused: "refused"
        case .lockedOut: "locked out"
        default: "pattern"
        }
    }

    /// What the view shows, read now. Call it between clock steps (the front end's loop does).
    public func snapshot() -> SimulatorSnapshot {
        let mechanism = board.mechanism
        let configuration = mechanism.configuration
        func closed(_ line: String?) -> Bool? {
            guard let line else { return nil }
            return mechanism.chip.level(of: line) == configuration.switchClosedLevel
        }
        let ui = state.withLock { $0 }
        var snapshot = SimulatorSnapshot(
            boardName: boardName, time: time(wallClock.now), keyMap: board.keypad.keyMap,
            pressedKeys: board.keypad.pressedKeys, phase: ui.phase)
        snapshot.adminName = ui.name
        snapshot.enteredDigits = ui.enteredDigits
        snapshot.codeLengths = codeLengths
        snapshot.message = ui.message
        snapshot.events = ui.events
        snapshot.boltPercent = mechanism.percent
        snapshot.retractedSwitchClosed = closed(configuration.retractedSwitch)
        snapshot.extendedSwitchClosed = closed(configuration.extendedSwitch)
        snapshot.doorOpen = configuration.doorContact == nil ? nil : mechanism.isDoorOpen
        snapshot.motor = mechanism.bridgeState.description
        snapshot.motorPowered = ui.motorPowered
        snapshot.jamAt = ui.jamAt
        snapshot.buzzerOn = outputIsOn(board.board.buzzer)
        snapshot.ledOn = outputIsOn(board.board.led)
        snapshot.lastFeedback = ui.lastFeedback
        snapshot.cellPercent = board.battery.stateOfCharge
        if ui.phase == .running {
            let status = lock.controller.status()
            snapshot.bolt = status.bolt
            snapshot.battery = status.battery
            snapshot.batteryLevel = status.batteryLevel
            snapshot.gaugeFault = status.gaugeFault
            snapshot.mode = status.mode
            snapshot.wrongCodes = status.lockout.consecutiveFailures
            snapshot.keypadDisabled = status.lockout.keypadDisabled
            if let until = status.lockout.lockedUntil {
                let remaining = until.timeIntervalSince(wallClock.now)
                if remaining > 0 { snapshot.lockoutSeconds = Int(remaining.rounded(.up)) }
            }
        }
        return snapshot
    }

    /// Whether the view changes without an event: the bolt moving, a key held, a lockout
    /// counting down. The front end then redraws more often.
    public var isAnimating: Bool { board.mechanism.isMoving || !board.keypad.pressedKeys.isEmpty }
}
