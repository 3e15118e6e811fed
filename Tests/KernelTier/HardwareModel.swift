// The hardware model: `boltwork-kernel-tests model` runs as its own process in the guest and
// plays the parts of the lock that gpio-sim cannot: a 4x4 key matrix and the bolt mechanism
// (DRV8833 motor, end switches, door contact). It sees what the real drivers drive only
// through gpio-sim's sysfs files (`value` of the column and motor lines) and answers only
// through them (`pull` of the row, switch and door lines), so the drivers' scans and moves go
// through libgpiod and the kernel's GPIO character device exactly as on a board.
//
// Timing, and why it is reliable:
// - The model runs SCHED_FIFO. The guest has one CPU and a non-preemptible kernel: when the
//   model becomes runnable, it runs before the (normal-priority) program under test executes
//   its next user-space instruction.
// - It watches every line it cares about with the GPIO v2 line-info watch
//   (GPIO_V2_GET_LINEINFO_WATCH_IOCTL). A request, a release or a reconfigure (a column of a
//   matrix whose inactive columns are inputs switches direction on every scan step) wakes it
//   at once, so it has answered before the driver's next read: no race at all.
// - Value changes of outputs raise no kernel event (open-drain columns, the motor inputs), so
//   it also polls: every 1 ms while a key is down, a key sequence is being typed or the motor
//   is driven, every 10 ms otherwise. An open-drain matrix therefore needs a column settle
//   time longer than that (the keypad's `columnSettleDelay`, a board file's
//   `keypad.column-settle-us`); 10 ms or more leaves a wide margin.
// - gpio-sim applies a requester's bias to the simulated pin (a request with pull-up "opens"
//   a closed switch). The model writes its pulls again after every request or reconfigure
//   event, before the requester reads the line. A line with debounce keeps the level it had at
//   request time for one debounce period, so read such lines after they settle (or use no
//   debounce, as the boltd board does).
// - A released open-drain or input column keeps gpio-sim's last driven value; the model writes
//   the inactive pull to every column before reading it, which updates released columns and
//   leaves driven ones alone.
//
// Commands on stdin, one per line; one answer line per command on stdout ("ok ..." or
// "error ..."):
//   type KEYS [SECONDS-PER-KEY]   press and release each key, handshaking with the scan (below)
//   bolt retracted|extended|F     put the bolt at an end or at fraction F (0 = retracted)
//   door open|closed
//   obstruct F                    the strike plate stops the bolt extending past fraction F
//   clear                         remove the obstruction
//   wait retracted|extended|blocked SECONDS
//                                 answer when the bolt is there (blocked: held at the
//                                 obstruction while the motor drives it out)
//   status                        position (per mille), bridge state, switches, door, run
//                                 counters, number of keys down (never which: it may be a code)
//   quit
//
// Typing handshake (no timing assumptions): a key is pressed only when the keypad is idle
// (every column active); it is held until the driver has read the key's column, alone, twice
// with the key down (once suffices after an edge; twice covers a scan already running), and
// released; the key is done when the keypad is idle again, which it only becomes after it has
// reported every key up.
import BoltworkHAL

#if canImport(Glibc)
    import Glibc
#endif

/// One gpio-sim line: its `value` (read) and `pull` (written) attributes.
final class SimLine {
    let name: String
    let offset: UInt32
    private let valueFD: Int32
    private let pullFD: Int32

    init(name: String, offset: UInt32, directory: String) throws {
        self.name = name
        self.offset = offset
        valueFD = open(directory + "/value", O_RDONLY | O_CLOEXEC)
        pullFD = open(directory + "/pull", O_WRONLY | O_CLOEXEC)
        guard valueFD >= 0, pullFD >= 0 else {
            throw CheckFailure(description: "cannot open \(directory)/value and pull: errno \(errno)")
        }
    }

    deinit {
        close(valueFD)
        close(pullFD)
    }

    /// The level gpio-sim shows: what the requester drives, or the pull.
    func level() throws -> Int {
        var buffer = [UInt8](repeating: 0, count: 8)
        let count = buffer.withUnsafeMutableBytes { pread(valueFD, $0.baseAddress, $0.count, 0) }
        guard count > 0 else {
            throw CheckFailure(description: "cannot read \(name)'s value: errno \(errno)")
        }
        return buffer[0] == UInt8(ascii: "1") ? 1 : 0
    }

    /// Pulls the line up or down (what an input reads).
    func pull(up: Bool) throws {
        let text = Array((up ? "pull-up" : "pull-down").utf8)
        let count = text.withUnsafeBytes { pwrite(pullFD, $0.baseAddress, $0.count, 0) }
        guard count == text.count else {
            throw CheckFailure(description: "cannot write \(name)'s pull: errno \(errno)")
        }
    }
}

/// The gpio-sim lines by name, from the harness's table (`/run/boltwork-gpio-lines`).
struct SimLineTable {
    struct Entry {
        var chip: String
        var offset: UInt32
        var directory: String
    }
    var entries: [String: Entry] = [:]

    init(path: String) throws {
        for line in try readFile(path).split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count == 6, let offset = UInt32(fields[3]) else { continue }
            entries[fields[4]] = Entry(chip: fields[2], offset: offset, directory: fields[5])
        }
    }

    func line(_ name: String) throws -> SimLine {
        guard let entry = entries[name] else {
            throw CheckFailure(description: "the simulated board has no line \(name)")
        }
        return try SimLine(name: name, offset: entry.offset, directory: entry.directory)
    }
}

/// The model process (see the file's header).
final class HardwareModel {
    enum Bridge: String {
        case forward, reverse, brake, coast, standby
        var isDriving: Bool { self == .forward || self == .reverse }
    }

    struct KeyPosition: Hashable {
        var row: Int
        var column: Int
    }

    enum TypePhase {
        case waitIdle
        case down(served: Int, sawAlone: Bool)
        case up
    }

    enum Job {
        case type(keys: [KeyPosition], index: Int, phase: TypePhase, perKey: Int64, deadline: Int64)
        case wait(target: String, deadline: Int64)
    }

    static let keyMap: [[Character]] = [
        ["1", "2", "3", "A"], ["4", "5", "6", "B"], ["7", "8", "9", "C"], ["*", "0", "#", "D"],
    ]

    private let rows: [SimLine]
    private let columns: [SimLine]
    private let in1: SimLine
    private let in2: SimLine
    private let sleep: SimLine
    private let retracted: SimLine
    private let extended: SimLine
    private let door: SimLine
    private let chip: Int32
    private let travelNanoseconds: Double
    /// Watched offsets to names.
    private var watched: [UInt32: String] = [:]
    /// The pull last written per line name (true = up); nil = write again.
    private var pulls: [String: Bool] = [:]

    private var position: Double
    private var obstruction: Double?
    private var doorClosed = true
    private var pressed: Set<KeyPosition> = []
    private var bridge = Bridge.coast
    private var columnActive: [Bool]
    private var lastStep: Int64
    private var forwardRuns = 0
    private var reverseRuns = 0
    private var releasedWhileDriving = 0
    private var job: Job?
    private var input: [UInt8] = []

    init(travelMilliseconds: Int, bolt: Double) throws {
        let table = try SimLineTable(
            path: ProcessInfoLite().value("BOLTWORK_GPIOSIM_LINES_FILE") ?? "/run/boltwork-gpio-lines")
        rows = try ["ROW0", "ROW1", "ROW2", "ROW3"].map(table.line)
        columns = try ["COL0", "COL1", "COL2", "COL3"].map(table.line)
        in1 = try table.line("MOTOR_IN1")
        in2 = try table.line("MOTOR_IN2")
        sleep = try table.line("MOTOR_SLEEP")
        retracted = try table.line("BOLT_RETRACTED")
        extended = try table.line("BOLT_EXTENDED")
        door = try table.line("DOOR")
        guard let chipPath = table.entries["ROW0"]?.chip else {
            throw CheckFailure(description: "no chip for ROW0 in the lines table")
        }
        chip = open(chipPath, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard chip >= 0 else { throw CheckFailure(description: "cannot open \(chipPath): errno \(errno)") }
        travelNanoseconds = Double(max(1, travelMilliseconds)) * 1_000_000
        position = min(1, max(0, bolt))
        columnActive = Array(repeating: false, count: 4)
        lastStep = SystemClock.monotonicNow().nanoseconds
        for line in rows + columns + [in1, in2, sleep, retracted, extended, door] {
            try watch(line)
        }
    }

    deinit { close(chip) }

    /// `GPIO_V2_GET_LINEINFO_WATCH_IOCTL`: line-info change events for `line` on `chip`.
    private func watch(_ line: SimLine) throws {
        // struct gpio_v2_line_info is 256 bytes; the offset is at byte 64.
        var info = [UInt8](repeating: 0, count: 256)
        withUnsafeBytes(of: line.offset.littleEndian) { info.replaceSubrange(64..<68, with: $0) }
        let request: UInt = 0xC100_B406  // _IOWR(0xB4, 0x06, struct gpio_v2_line_info)
        let rc = info.withUnsafeMutableBytes { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return -1 }
            return ioctl(chip, request, base)
        }
        guard rc == 0 else {
            throw CheckFailure(description: "cannot watch line \(line.name): errno \(errno)")
        }
        watched[line.offset] = line.name
    }

    /// Runs until `quit` or the end of stdin; the process's exit status.
    func run() -> Int32 {
        var priority = sched_param(sched_priority: 50)
        guard sched_setscheduler(0, SCHED_FIFO, &priority) == 0 else {
            reply(
                "error cannot run SCHED_FIFO (errno \(errno)); the model needs it to answer before the driver reads"
            )
            return 3
        }
        do {
            try step()
            reply("ok ready")
            while true {
                let busy = !pressed.isEmpty || job != nil || bridge.isDriving
                var descriptors = [
                    pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: chip, events: Int16(POLLIN), revents: 0),
                ]
                let ready = poll(&descriptors, 2, busy ? 1 : 10)
                if ready < 0 && errno != EINTR {
                    throw CheckFailure(description: "poll failed: errno \(errno)")
                }
                if descriptors[1].revents != 0 { try drainLineEvents() }
                // Look at the pins first, so answers (status) describe them as they are now.
                try step()
                if descriptors[0].revents != 0 {
                    guard let commands = readCommands() else { return 0 }
                    for command in commands {
                        if command == "quit" {
                            reply("ok bye")
                            return 0
                        }
                        try handle(command)
                    }
                }
            }
        } catch {
            reply("error model failed: \(error)")
            return 3
        }
    }

    private func reply(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
    }

    /// Complete lines from stdin; nil at its end.
    private func readCommands() -> [String]? {
        var chunk = [UInt8](repeating: 0, count: 1024)
        let count = chunk.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { return [] }
        guard count > 0 else { return nil }
        input += chunk[0..<count]
        var lines: [String] = []
        while let newline = input.firstIndex(of: 0x0A) {
            lines.append(String(decoding: input[..<newline], as: UTF8.self).trimmingCharacters(in: " \r"))
            input.removeSubrange(...newline)
        }
        return lines
    }

    /// Line-info events: a request, release or reconfigure may have changed a pull the model
    /// owns (gpio-sim applies the requester's bias), so those pulls are written again.
    private func drainLineEvents() throws {
        // struct gpio_v2_line_info_changed: info (256 bytes, offset at 64), timestamp (8),
        // event_type (4, at 264), padding: 288 bytes.
        let size = 288
        var buffer = [UInt8](repeating: 0, count: size * 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(chip, $0.baseAddress, $0.count) }
            if count < 0 && (errno == EAGAIN || errno == EINTR) { return }
            guard count > 0 else {
                throw CheckFailure(description: "reading line events failed: errno \(errno)")
            }
            for start in stride(from: 0, to: count - size + 1, by: size) {
                let offset = buffer.withUnsafeBytes {
                    $0.loadUnaligned(fromByteOffset: start + 64, as: UInt32.self)
                }
                let type = buffer.withUnsafeBytes {
                    $0.loadUnaligned(fromByteOffset: start + 264, as: UInt32.self)
                }
                guard let name = watched[offset] else { continue }
                pulls[name] = nil
                // GPIO_V2_LINE_CHANGED_RELEASED = 2: the driver let go of IN1 while it drove.
                if type == 2, name == in1.name, bridge.isDriving { releasedWhileDriving += 1 }
            }
        }
    }

    private func handle(_ command: String) throws {
        let words = command.split(separator: " ").map(String.init)
        guard let verb = words.first else { return }
        let now = SystemClock.monotonicNow().nanoseconds
        switch verb {
        case "type":
            guard job == nil else { return reply("error busy with an earlier command") }
            guard words.count >= 2 else { return reply("error type KEYS [SECONDS-PER-KEY]") }
            var keys: [KeyPosition] = []
            for character in words[1] {
                guard let position = Self.position(of: character) else {
                    return reply("error no key '\(character)' on the 4x4 keypad")
                }
                keys.append(position)
            }
            let perKey = Int64((words.count > 2 ? Double(words[2]) : nil) ?? 10) * 1_000_000_000
            job = .type(
                keys: keys, index: 0, phase: .waitIdle, perKey: perKey, deadline: now + perKey)
        case "bolt":
            guard words.count == 2 else { return reply("error bolt retracted|extended|FRACTION") }
            switch words[1] {
            case "retracted": position = 0
            case "extended": position = 1
            default:
                guard let fraction = Double(words[1]), (0...1).contains(fraction) else {
                    return reply("error bolt wants retracted, extended or a fraction 0...1")
                }
                position = fraction
            }
            try step()
            reply("ok")
        case "door":
            guard words.count == 2, ["open", "closed"].contains(words[1]) else {
                return reply("error door open|closed")
            }
            doorClosed = words[1] == "closed"
            try step()
            reply("ok")
        case "obstruct":
            guard words.count == 2, let fraction = Double(words[1]), (0...1).contains(fraction) else {
                return reply("error obstruct FRACTION")
            }
            obstruction = fraction
            reply("ok")
        case "clear":
            obstruction = nil
            reply("ok")
        case "wait":
            guard job == nil else { return reply("error busy with an earlier command") }
            guard words.count == 3, ["retracted", "extended", "blocked"].contains(words[1]),
                let seconds = Double(words[2])
            else { return reply("error wait retracted|extended|blocked SECONDS") }
            job = .wait(target: words[1], deadline: now + Int64(seconds * 1e9))
        case "status":
            reply("ok " + status)
        default:
            reply("error unknown command '\(verb)'")
        }
    }

    private var status: String {
        return "position=\(Int((position * 1000).rounded())) bridge=\(bridge.rawValue) "
            + "retracted=\(position <= 0 ? "closed" : "open") extended=\(position >= 1 ? "closed" : "open") "
            + "door=\(doorClosed ? "closed" : "open") forward-runs=\(forwardRuns) reverse-runs=\(reverseRuns) "
            + "released-while-driving=\(releasedWhileDriving) keys-down=\(pressed.count)"
    }

    private static func position(of key: Character) -> KeyPosition? {
        for (row, keys) in keyMap.enumerated() {
            if let column = keys.firstIndex(of: key) { return KeyPosition(row: row, column: column) }
        }
        return nil
    }

    /// One look at the pins: moves the bolt, follows the columns, writes the pulls.
    private func step() throws {
        let now = SystemClock.monotonicNow().nanoseconds
        let travelled = Double(now - lastStep) / travelNanoseconds
        lastStep = now
        switch bridge {
        case .forward: move(by: travelled)
        case .reverse: move(by: -travelled)
        case .brake, .coast, .standby: break
        }
        let next = try readBridge()
        if next != bridge {
            if next == .forward { forwardRuns += 1 }
            if next == .reverse { reverseRuns += 1 }
            bridge = next
        }

        if !pressed.isEmpty || job != nil {
            // Inactive pull first: it updates released columns and leaves driven ones alone.
            columnActive = try columns.map { column in
                try column.pull(up: true)
                return try column.level() == 0
            }
        } else {
            columnActive = Array(repeating: false, count: columns.count)
        }
        try advanceJob(now)

        for (index, row) in rows.enumerated() {
            let active = pressed.contains { $0.row == index && columnActive[$0.column] }
            try setPull(row, up: !active)
        }
        try setPull(retracted, up: position > 0)
        try setPull(extended, up: position < 1)
        try setPull(door, up: !doorClosed)
    }

    private func setPull(_ line: SimLine, up: Bool) throws {
        guard pulls[line.name] != up else { return }
        try line.pull(up: up)
        pulls[line.name] = up
    }

    /// DRV8833 with nSLEEP: 1/0 forward, 0/1 reverse, 1/1 brake, 0/0 coast, nSLEEP low sleeps
    /// (its internal pull-down keeps it asleep when nobody drives it).
    private func readBridge() throws -> Bridge {
        guard try sleep.level() == 1 else { return .standby }
        switch (try in1.level(), try in2.level()) {
        case (1, 0): return .forward
        case (0, 1): return .reverse
        case (1, 1): return .brake
        default: return .coast
        }
    }

    /// Forward extends the bolt (the board's `extend: forward`).
    private func move(by delta: Double) {
        var next = min(1, max(0, position + delta))
        if let obstruction, delta > 0, position <= obstruction, next > obstruction { next = obstruction }
        position = next
    }

    private var blocked: Bool {
        guard let obstruction else { return false }
        return position == obstruction && bridge == .forward
    }

    private func advanceJob(_ now: Int64) throws {
        guard let current = job else { return }
        switch current {
        case .wait(let target, let deadline):
            let reached =
                switch target {
                case "retracted": position <= 0
                case "extended": position >= 1
                default: blocked
                }
            if reached {
                job = nil
                reply("ok " + status)
            } else if now > deadline {
                job = nil
                reply("error the bolt is not \(target) in time: " + status)
            }
        case .type(let keys, var index, var phase, let perKey, var deadline):
            let all = columnActive.allSatisfy { $0 }
            // Several phases may pass in one look (a key done and the next pressed).
            while index < keys.count {
                let key = keys[index]
                if now > deadline {
                    pressed.removeAll()
                    job = nil
                    let columns = columnActive.map { $0 ? "1" : "0" }.joined()
                    // The key itself is not named: the text may be a code.
                    reply(
                        "error key \(index + 1) of \(keys.count) (row \(key.row), column \(key.column)): "
                            + "the keypad did not scan it in time (phase \(phase), active columns \(columns))"
                    )
                    return
                }
                var progressed = false
                switch phase {
                case .waitIdle:
                    if all {
                        pressed = [key]
                        phase = .down(served: 0, sawAlone: false)
                        progressed = true
                    }
                case .down(var served, var sawAlone):
                    let alone = columnActive[key.column] && columnActive.filter { $0 }.count == 1
                    if alone {
                        sawAlone = true
                    } else if sawAlone && !columnActive[key.column] {
                        served += 1
                        sawAlone = false
                    }
                    if served >= 2 {
                        pressed.remove(key)
                        phase = .up
                        progressed = true
                    } else {
                        phase = .down(served: served, sawAlone: sawAlone)
                    }
                case .up:
                    if all {
                        index += 1
                        phase = .waitIdle
                        deadline = now + perKey
                        progressed = true
                    }
                }
                if !progressed { break }
            }
            if index == keys.count {
                job = nil
                reply("ok typed \(keys.count) keys")
            } else {
                job = .type(keys: keys, index: index, phase: phase, perKey: perKey, deadline: deadline)
            }
        }
    }
}
