import BoltworkHAL

/// In-memory GPIO chips with named lines, implementing the same protocols as the Linux
/// backend, deterministic on a ``VirtualClock`` (or any ``BoltClock``).
///
/// The outside world drives inputs (``SimulatedGPIOChip/drive(_:to:)``), reads what outputs do
/// (``SimulatedGPIOChip/level(of:)``) and sees a time-stamped history of every line's level.
/// Device models (a keypad, a bolt mechanism) observe output changes and drive inputs in
/// response. Edge events and debounce behave like the kernel's character device.
public final class SimulatedGPIO: GPIOProvider, Sendable {
    /// The clock edge events and debounce run on.
    public let clock: any BoltClock
    /// How many level changes each line's history keeps at least: older ones are dropped, so a
    /// long-running simulation (`boltd run --simulated`) does not grow.
    public let historyLimit: Int
    private let state = Protected([SimulatedGPIOChip]())

    /// Creates an empty set of chips whose lines keep at least their newest `historyLimit`
    /// level changes (10,000 by default).
    public init(clock: any BoltClock, historyLimit: Int = 10_000) {
        self.clock = clock
        self.historyLimit = max(1, historyLimit)
    }

    /// Adds a chip with one line per name (an empty name leaves the line unnamed). Its path is
    /// `/dev/gpiochipN` with N its position unless `path` is given.
    @discardableResult
    public func addChip(label: String, lineNames: [String], path: String? = nil) -> SimulatedGPIOChip {
        state.withLock { chips in
            let index = chips.count
            let chip = SimulatedGPIOChip(
                clock: clock, historyLimit: historyLimit,
                info: GPIOChipInfo(
                    path: path ?? "/dev/gpiochip\(index)", name: "gpiochip\(index)", label: label,
                    lineCount: lineNames.count),
                lineNames: lineNames)
            chips.append(chip)
            return chip
        }
    }

    /// The chip with this label, present or not.
    public func chip(labelled label: String) -> SimulatedGPIOChip? {
        state.withLock { chips in chips.first { $0.info.label == label } }
    }

    /// The chips that are present.
    public func chips() throws(GPIOError) -> [GPIOChipInfo] {
        state.withLock { chips in chips.filter(\.isPresent).map(\.info) }
    }

    /// Opens a present chip by path or label.
    public func openChip(_ id: GPIOChipID) throws(GPIOError) -> any GPIOChip {
        let all = state.withLock { $0.filter(\.isPresent) }
        let found = all.first { chip in
            switch id {
            case .path(let path): chip.info.path == path
            case .label(let label): chip.info.label == label
            }
        }
        guard let found else {
            let listing = all.map { "\($0.info.path) '\($0.info.label)' (\($0.info.lineCount) lines)" }
            throw GPIOError(
                .noSuchChip, errno: id.isPath ? 2 : nil, chip: id.description,
                detail: listing.isEmpty
                    ? "there are no GPIO chips."
                    : "no such GPIO chip. Chips on this system: \(listing.joined(separator: ", ")).")
        }
        return found
    }
}

extension GPIOChipID {
    fileprivate var isPath: Bool {
        if case .path = self { return true }
        return false
    }
}

/// A change of level seen on a simulated line.
public struct LevelChange: Sendable, Hashable {
    /// When it happened.
    public var time: MonotonicInstant
    /// The new physical level.
    public var level: PinLevel
}

/// What drives a simulated line right now.
public enum SimulatedLineState: Sendable, Hashable {
    /// Nobody requested it.
    case unrequested
    /// Requested as an input.
    case input
    /// An output actively driving `level`.
    case driving(PinLevel)
    /// An open-drain or open-source output that is not driving (high impedance).
    case highImpedance
}

/// A simulated GPIO chip. It is also its own open handle: opening it twice returns the same
/// object.
public final class SimulatedGPIOChip: GPIOChip, Sendable {
    /// Path, name, label and line count.
    public let info: GPIOChipInfo
    let clock: any BoltClock
    let historyLimit: Int
    private let state: Protected<ChipState>

    struct Line {
        var name: String
        var external: PinLevel?
        var owner: ObjectIdentifier?
        var settings: LineSettings?
        var output: LineValue = .inactive
        var level: PinLevel = .low
        var history: [LevelChange] = []
        var heldBy: String?
    }

    struct ChipState {
        var lines: [Line]
        var present = true
        var observers: [UInt64: @Sendable ([UInt32]) -> Void] = [:]
        var nextObserver: UInt64 = 0
        var requests: [ObjectIdentifier: WeakSimulatedRequest] = [:]
    }

    init(clock: any BoltClock, historyLimit: Int, info: GPIOChipInfo, lineNames: [String]) {
        self.clock = clock
        self.historyLimit = historyLimit
        self.info = info
        let now = clock.now
        self.state = Protected(
            ChipState(lines: lineNames.map { Line(name: $0, history: [LevelChange(time: now, level: .low)]) })
        )
    }

    // MARK: GPIOChip

    /// Information about a line.
    public func lineInfo(at offset: UInt32) throws(GPIOError) -> GPIOLineInfo {
        let result = state.withLock { state -> GPIOLineInfo? in
            guard state.lines.indices.contains(Int(offset)) else { return nil }
            let line = state.lines[Int(offset)]
            let consumer = line.heldBy ?? (line.owner != nil ? "boltwork" : "")
            return GPIOLineInfo(
                offset: offset, name: line.name, consumer: consumer,
                isUsed: line.owner != nil || line.heldBy != nil)
        }
        guard let result else { throw noSuchOffset(offset) }
        return result
    }

    /// The offset of a line by name or offset.
    public func resolve(_ line: GPIOLineID) throws(GPIOError) -> UInt32 {
        switch line {
        case .offset(let offset):
            guard Int(offset) < info.lineCount else { throw noSuchOffset(offset) }
            return offset
        case .name(let name):
            let names = state.withLock { $0.lines.map(\.name) }
            if let index = names.firstIndex(of: name) { return UInt32(index) }
            let near = NearMatch.suggestions(for: name, in: names)
            throw GPIOError(
                .noSuchLine, errno: 2, chip: description, line: name,
                detail: "the chip has no line with this name. "
                    + (near.isEmpty
                        ? "Its lines: \(names.filter { !$0.isEmpty }.joined(separator: ", "))."
                        : "Did you mean \(near.map { "'\($0)'" }.joined(separator: ", "))?"))
        }
    }

    /// Requests lines; fails like the kernel for busy lines, duplicates and a removed chip.
    public func requestLines(_ lines: [LineConfig], consumer: String) throws(GPIOError) -> any GPIOLineRequest
    {
        guard isPresent else { throw gone() }
        guard !lines.isEmpty else {
            throw GPIOError(.invalidArgument, chip: description, detail: "a request needs at least one line")
        }
        var offsets: [UInt32] = []
        for config in lines {
            let offset = try resolve(config.line)
            guard !offsets.contains(offset) else {
                throw GPIOError(
                    .invalidArgument, chip: description, line: config.line.description,
                    detail:
                        "the line appears twice in one request (check the board file for a line used twice)")
            }
            offsets.append(offset)
        }
        let request = SimulatedLineRequest(chip: self, offsets: offsets, configs: lines)
        let busy = state.withLock { state -> (String, String)? in
            for offset in offsets {
                let line = state.lines[Int(offset)]
                if let holder = line.heldBy { return (line.name, holder) }
                if line.owner != nil { return (line.name, "boltwork") }
            }
            for (offset, config) in zip(offsets, lines) {
                state.lines[Int(offset)].owner = ObjectIdentifier(request)
                state.lines[Int(offset)].settings = config.settings
                if case .output(let initial) = config.settings.direction {
                    state.lines[Int(offset)].output = initial
                }
            }
            state.requests[ObjectIdentifier(request)] = WeakSimulatedRequest(request: request)
            return nil
        }
        if let (name, holder) = busy {
            throw GPIOError(
                .lineBusy, errno: 16, chip: description, line: name,
                detail: "another program or a kernel driver holds the line. \(name) is held by '\(holder)'.")
        }
        // Applying a request's own bias is not an edge, as with the kernel.
        settle(raiseEdges: false)
        request.installDebouncers()
        return request
    }

    // MARK: The outside world

    /// Drives a line from outside (a switch, a keypad row) to `level`, or stops driving it
    /// (`nil`), letting the pull decide. Raises edge events on requested inputs.
    public func drive(_ line: String, to level: PinLevel?) {
        guard let offset = try? resolve(.name(line)) else { return }
        drive(offset: offset, to: level)
    }

    /// Drives the line at `offset` from outside.
    public func drive(offset: UInt32, to level: PinLevel?) {
        state.withLock { state in
            guard state.lines.indices.contains(Int(offset)) else { return }
            state.lines[Int(offset)].external = level
        }
        settle()
    }

    /// The physical level on a line now.
    public func level(of line: String) -> PinLevel? {
        guard let offset = try? resolve(.name(line)) else { return nil }
        return level(offset: offset)
    }

    /// The physical level on the line at `offset` now.
    public func level(offset: UInt32) -> PinLevel? {
        state.withLock { state in
            state.lines.indices.contains(Int(offset)) ? state.lines[Int(offset)].level : nil
        }
    }

    /// What drives a line now.
    public func lineState(of line: String) -> SimulatedLineState {
        guard let offset = try? resolve(.name(line)) else { return .unrequested }
        return lineState(offset: offset)
    }

    /// What drives the line at `offset` now.
    public func lineState(offset: UInt32) -> SimulatedLineState {
        state.withLock { state in
            guard state.lines.indices.contains(Int(offset)) else { return .unrequested }
            let line = state.lines[Int(offset)]
            guard let settings = line.settings else { return .unrequested }
            guard settings.isOutput else { return .input }
            if let driven = Self.driven(line) { return .driving(driven) }
            return .highImpedance
        }
    }

    /// The levels the line has had, time-stamped, oldest first, starting with its level at
    /// creation; once it has changed more than ``SimulatedGPIO/historyLimit`` times, the oldest
    /// changes are dropped (at least the newest `historyLimit` are kept).
    public func history(of line: String) -> [LevelChange] {
        guard let offset = try? resolve(.name(line)) else { return [] }
        return state.withLock { $0.lines[Int(offset)].history }
    }

    /// Calls `observer` with the offsets whose level changed, after every change (requests,
    /// output writes, outside drives). Device models use it to react to outputs. Returns a
    /// token for ``removeObserver(_:)``.
    @discardableResult
    public func observe(_ observer: @escaping @Sendable (_ changedOffsets: [UInt32]) -> Void) -> UInt64 {
        state.withLock { state in
            state.nextObserver += 1
            state.observers[state.nextObserver] = observer
            return state.nextObserver
        }
    }

    /// Stops calling an observer.
    public func removeObserver(_ token: UInt64) {
        state.withLock { _ = $0.observers.removeValue(forKey: token) }
    }

    // MARK: Fault injection

    /// Marks a line as held by another consumer: requests for it fail with `lineBusy`.
    public func hold(_ line: String, consumer: String) {
        guard let offset = try? resolve(.name(line)) else { return }
        state.withLock { $0.lines[Int(offset)].heldBy = consumer }
    }

    /// Ends a ``hold(_:consumer:)``.
    public func unhold(_ line: String) {
        guard let offset = try? resolve(.name(line)) else { return }
        state.withLock { $0.lines[Int(offset)].heldBy = nil }
    }

    /// Makes the chip disappear (a removed overlay, an unplugged expander): opening it fails
    /// with `noSuchChip` and its requests' calls fail with `noSuchChip` (ENODEV).
    public func remove() {
        state.withLock { $0.present = false }
    }

    /// Brings a removed chip back.
    public func restore() {
        state.withLock { $0.present = true }
    }

    /// Whether the chip is present.
    public var isPresent: Bool { state.withLock { $0.present } }

    /// Whether any request still holds lines of this chip.
    public var hasRequestedLines: Bool {
        state.withLock { state in state.lines.contains { $0.owner != nil } }
    }

    // MARK: Internals

    var description: String { "\(info.path) '\(info.label)'" }

    func gone() -> GPIOError {
        GPIOError(.noSuchChip, errno: 19, chip: description, detail: "the chip went away")
    }

    private func noSuchOffset(_ offset: UInt32) -> GPIOError {
        GPIOError(
            .noSuchLine, chip: description, line: "offset \(offset)",
            detail: "the chip has \(info.lineCount) lines (offsets 0-\(max(0, info.lineCount - 1))).")
    }

    private static func driven(_ line: Line) -> PinLevel? {
        guard let settings = line.settings, settings.isOutput else { return nil }
        let physical: PinLevel = (line.output.isActive != settings.activeLow) ? .high : .low
        switch settings.drive {
        case .pushPull: return physical
        case .openDrain: return physical == .low ? .low : nil
        case .openSource: return physical == .high ? .high : nil
        }
    }

    private static func resolvedLevel(_ line: Line) -> PinLevel {
        if let driven = driven(line) { return driven }
        if let external = line.external { return external }
        switch line.settings?.bias {
        case .pullUp?: return .high
        default: return .low
        }
    }

    /// Recomputes every line's level, records changes, raises edges and tells observers.
    func settle(raiseEdges: Bool = true) {
        let now = clock.now
        let (changed, edges, observers) = state.withLock {
            state -> ([UInt32], [(SimulatedLineRequest, Int, LineValue)], [@Sendable ([UInt32]) -> Void]) in
            var changed: [UInt32] = []
            var edges: [(SimulatedLineRequest, Int, LineValue)] = []
            for index in state.lines.indices {
                let level = Self.resolvedLevel(state.lines[index])
                guard level != state.lines[index].level else { continue }
                state.lines[index].level = level
                state.lines[index].history.append(LevelChange(time: now, level: level))
                dropOldest(&state.lines[index].history, keeping: historyLimit)
                changed.append(UInt32(index))
                let line = state.lines[index]
                if raiseEdges, let settings = line.settings, !settings.isOutput, settings.edges != .none,
                    let owner = line.owner, let request = state.requests[owner]?.request,
                    let position = request.offsets.firstIndex(of: UInt32(index))
                {
                    let value = LineValue((level == .high) != settings.activeLow)
                    edges.append((request, position, value))
                }
            }
            return (changed, edges, Array(state.observers.values))
        }
        for (request, index, value) in edges { request.rawEdge(index: index, value: value) }
        guard !changed.isEmpty else { return }
        for observer in observers { observer(changed) }
    }

    // Called by requests.
    func logicalValues(_ offsets: [UInt32]) -> [LineValue] {
        state.withLock { state in
            offsets.map { offset in
                let line = state.lines[Int(offset)]
                return LineValue((line.level == .high) != (line.settings?.activeLow ?? false))
            }
        }
    }

    func write(_ offsets: [UInt32], _ values: [LineValue]) {
        state.withLock { state in
            for (offset, value) in zip(offsets, values) { state.lines[Int(offset)].output = value }
        }
        settle()
    }

    func apply(_ offsets: [UInt32], _ settings: [LineSettings]) {
        state.withLock { state in
            for (offset, setting) in zip(offsets, settings) {
                state.lines[Int(offset)].settings = setting
                if case .output(let initial) = setting.direction { state.lines[Int(offset)].output = initial }
            }
        }
        settle(raiseEdges: false)
    }

    func free(_ request: SimulatedLineRequest) {
        state.withLock { state in
            for offset in request.offsets where state.lines[Int(offset)].owner == ObjectIdentifier(request) {
                state.lines[Int(offset)].owner = nil
                state.lines[Int(offset)].settings = nil
            }
            state.requests.removeValue(forKey: ObjectIdentifier(request))
        }
        settle()
    }
}

struct WeakSimulatedRequest {
    weak var request: SimulatedLineRequest?
}

/// Lines requested from a ``SimulatedGPIOChip``.
final class SimulatedLineRequest: GPIOLineRequest, Sendable {
    let chipObject: SimulatedGPIOChip
    let offsets: [UInt32]
    private let state: Protected<State>

    private struct State {
        var configs: [LineConfig]
        var released = false
        var handler: (@Sendable (EdgeEvent) -> Void)?
        var sequences: [Int: UInt64] = [:]
        var debouncers: [Int: EdgeDebouncer] = [:]
    }

    init(chip: SimulatedGPIOChip, offsets: [UInt32], configs: [LineConfig]) {
        self.chipObject = chip
        self.offsets = offsets
        self.state = Protected(State(configs: configs))
    }

    var chip: GPIOChipInfo { chipObject.info }

    func installDebouncers() {
        let configs = state.withLock { $0.configs }
        let current = chipObject.logicalValues(offsets)
        var debouncers: [Int: EdgeDebouncer] = [:]
        for (index, config) in configs.enumerated() {
            let settings = config.settings
            guard !settings.isOutput, settings.edges != .none, let period = settings.debounce, period > .zero
            else {
                continue
            }
            let offset = offsets[index]
            debouncers[index] = EdgeDebouncer(
                clock: chipObject.clock, period: period, edges: settings.edges, initial: current[index]
            ) { [chipObject] in chipObject.logicalValues([offset]).first }
        }
        let old = state.withLock { state -> [EdgeDebouncer] in
            defer { state.debouncers = debouncers }
            return Array(state.debouncers.values)
        }
        for debouncer in old { debouncer.cancel() }
    }

    func rawEdge(index: Int, value: LineValue) {
        let (debouncer, edges) = state.withLock { state in
            (state.debouncers[index], state.configs[index].settings.edges)
        }
        let clock = chipObject.clock
        let offset = offsets[index]
        if let debouncer {
            debouncer.rawEdge { [weak self] kind, timestamp, sequence in
                self?.deliver(
                    EdgeEvent(
                        kind: kind, index: index, offset: offset, timestamp: timestamp, sequence: sequence))
            }
            return
        }
        guard edges.reports(transitionTo: value) else { return }
        let sequence = state.withLock { state -> UInt64 in
            state.sequences[index, default: 0] += 1
            return state.sequences[index, default: 0]
        }
        let event = EdgeEvent(
            kind: value == .active ? .rising : .falling, index: index, offset: offset, timestamp: clock.now,
            sequence: sequence)
        clock.execute { [weak self] in self?.deliver(event) }
    }

    private func deliver(_ event: EdgeEvent) {
        let handler = state.withLock { $0.released ? nil : $0.handler }
        handler?(event)
    }

    private func checkUsable() throws(GPIOError) {
        if state.withLock({ $0.released }) {
            throw GPIOError(.released, chip: chipObject.description, detail: "the lines were released")
        }
        guard chipObject.isPresent else { throw chipObject.gone() }
    }

    func values() throws(GPIOError) -> [LineValue] {
        try checkUsable()
        return chipObject.logicalValues(offsets)
    }

    func setValues(_ values: [LineValue], at indices: [Int]) throws(GPIOError) {
        try checkUsable()
        let configs = state.withLock { $0.configs }
        guard values.count == indices.count, indices.allSatisfy({ configs.indices.contains($0) }) else {
            throw GPIOError(
                .invalidArgument, chip: chipObject.description,
                detail: "indices \(indices) do not match this request of \(offsets.count) lines")
        }
        if let input = indices.first(where: { !configs[$0].settings.isOutput }) {
            throw GPIOError(
                .invalidArgument, chip: chipObject.description, line: configs[input].line.description,
                detail: "the line is an input; only outputs can be set")
        }
        chipObject.write(indices.map { offsets[$0] }, values)
    }

    func reconfigure(_ settings: [LineSettings]) throws(GPIOError) {
        try checkUsable()
        guard settings.count == offsets.count else {
            throw GPIOError(
                .invalidArgument, chip: chipObject.description,
                detail: "reconfigure needs one setting per line (\(offsets.count)), got \(settings.count)")
        }
        state.withLock { state in
            for index in settings.indices { state.configs[index].settings = settings[index] }
        }
        chipObject.apply(offsets, settings)
        installDebouncers()
    }

    func setEdgeHandler(_ handler: (@Sendable (EdgeEvent) -> Void)?) {
        state.withLock { $0.handler = handler }
    }

    func release() {
        let debouncers = state.withLock { state -> [EdgeDebouncer]? in
            guard !state.released else { return nil }
            state.released = true
            state.handler = nil
            return Array(state.debouncers.values)
        }
        guard let debouncers else { return }
        for debouncer in debouncers { debouncer.cancel() }
        chipObject.free(self)
    }

    deinit {
        if !state.withLock({ $0.released }) { chipObject.free(self) }
    }
}

/// Drops the oldest entries of a record that must not grow forever, keeping the newest `limit`.
/// It trims only once the record holds half as many again, so appending stays O(1) amortised.
func dropOldest<Entry>(_ entries: inout [Entry], keeping limit: Int) {
    if entries.count > limit + limit / 2 { entries.removeFirst(entries.count - limit) }
}
