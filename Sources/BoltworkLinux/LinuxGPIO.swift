import BoltworkHAL

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// GPIO through the Linux character device and libgpiod, 1.6 or 2.x, whichever the package was
/// built against: callers see the same API either way.
///
/// Lines are found by chip path or label plus line name or offset. Edge events arrive without
/// polling: one thread blocks in `poll(2)` on the requests' event descriptors and hands events
/// to the clock. Where libgpiod 1.6 has no kernel debounce, debounce runs in software on the
/// clock. Call ``shutdown()`` to release every line still held.
public final class LinuxGPIO: GPIOProvider, Sendable {
    let system: any GPIOSystem
    let clock: any BoltClock
    let devDirectory: String
    let reactor: GPIOEventReactor?
    private let registry = Protected(Registry())

    private struct Registry {
        var requests: [ObjectIdentifier: WeakRequest] = [:]
        var isShutDown = false
    }

    /// Creates the backend; edge events and software debounce run on `clock`.
    public convenience init(clock: any BoltClock) {
        self.init(clock: clock, system: LiveGPIOSystem(), devDirectory: "/dev", startReactor: true)
    }

    init(clock: any BoltClock, system: any GPIOSystem, devDirectory: String, startReactor: Bool) {
        self.system = system
        self.clock = clock
        self.devDirectory = devDirectory
        self.reactor = startReactor ? GPIOEventReactor(system: system) : nil
    }

    deinit {
        reactor?.stop()
    }

    /// The libgpiod version underneath, e.g. `1.6.3` or `2.1.3`.
    public var libgpiodVersion: String { system.libraryVersion }

    /// 1 for libgpiod 1.x, 2 for 2.x.
    public var libgpiodAPIMajor: Int { system.apiMajor }

    /// Every `/dev/gpiochip*` with its name, label and size. Chips that cannot be opened are
    /// left out.
    public func chips() throws(GPIOError) -> [GPIOChipInfo] {
        system.listDevices(in: devDirectory, prefix: "gpiochip").compactMap { name in
            let path = devDirectory + "/" + name
            guard case .success(let handle) = system.openChip(path) else { return nil }
            defer { system.closeChip(handle) }
            guard case .success(let info) = system.chipInfo(handle) else { return nil }
            return GPIOChipInfo(path: path, name: info.name, label: info.label, lineCount: info.lines)
        }
    }

    /// Opens a chip by path or by label.
    public func openChip(_ id: GPIOChipID) throws(GPIOError) -> any GPIOChip {
        switch id {
        case .path(let path):
            return try open(path: path, id: id)
        case .label(let label):
            let paths = system.listDevices(in: devDirectory, prefix: "gpiochip").map {
                devDirectory + "/" + $0
            }
            var permissionError: GPIOError?
            for path in paths {
                do {
                    let chip = try open(path: path, id: id)
                    if chip.info.label == label { return chip }
                } catch {
                    if error.kind == .permissionDenied { permissionError = error }
                }
            }
            if let permissionError { throw permissionError }
            throw GPIOError(
                .noSuchChip, chip: id.description,
                detail:
                    "no GPIO chip has this label. \(chipListing()) Check the board file's chip label against `gpiodetect`."
            )
        }
    }

    /// Releases every line still requested through this backend and stops the event thread.
    /// Requests made afterwards fail.
    public func shutdown() {
        let requests = registry.withLock { registry -> [LinuxLineRequest] in
            registry.isShutDown = true
            defer { registry.requests.removeAll() }
            return registry.requests.values.compactMap(\.request)
        }
        for request in requests { request.release() }
        reactor?.stop()
    }

    func register(_ request: LinuxLineRequest) -> Bool {
        registry.withLock { registry in
            guard !registry.isShutDown else { return false }
            registry.requests = registry.requests.filter { $0.value.request != nil }
            registry.requests[ObjectIdentifier(request)] = WeakRequest(request: request)
            return true
        }
    }

    func unregister(_ request: LinuxLineRequest) {
        registry.withLock { registry in
            _ = registry.requests.removeValue(forKey: ObjectIdentifier(request))
        }
    }

    private func open(path: String, id: GPIOChipID) throws(GPIOError) -> LinuxGPIOChip {
        let handle: ChipHandle
        switch system.openChip(path) {
        case .success(let opened): handle = opened
        case .failure(let error): throw openError(path: path, errno: error.errno)
        }
        switch system.chipInfo(handle) {
        case .success(let info):
            let chipInfo = GPIOChipInfo(path: path, name: info.name, label: info.label, lineCount: info.lines)
            return LinuxGPIOChip(backend: self, handle: handle, info: chipInfo)
        case .failure(let error):
            system.closeChip(handle)
            throw GPIOError(.io, errno: error.errno, chip: path, detail: "cannot read the chip's information")
        }
    }

    func openError(path: String, errno code: Int32) -> GPIOError {
        switch code {
        case ENOENT, ENODEV, ENXIO:
            return GPIOError(
                .noSuchChip, errno: code, chip: path,
                detail:
                    "this GPIO chip does not exist. \(chipListing()) Prefer the chip's label in the board file: chip numbers change between kernels."
            )
        case EACCES, EPERM:
            var owner = ""
            if let ownership = system.ownership(of: path) {
                owner =
                    " It belongs to group '\(ownership.group)' with mode \(String(ownership.mode, radix: 8))."
            }
            let group = system.ownership(of: path)?.group ?? "gpio"
            return GPIOError(
                .permissionDenied, errno: code, chip: path,
                detail:
                    "this user may not open the GPIO chip.\(owner) Add the user to that group (`sudo usermod -aG \(group) $USER`, then log in again), or install Boltwork's udev rule (udev/60-boltwork.rules), which gives group 'boltwork' access to /dev/gpiochip*."
            )
        case ENOTTY, EINVAL:
            return GPIOError(
                .noSuchChip, errno: code, chip: path,
                detail: "this is not a GPIO character device. \(chipListing())")
        default:
            return GPIOError(.io, errno: code, chip: path, detail: "cannot open the GPIO chip")
        }
    }

    /// `Chips on this system: /dev/gpiochip0 'pinctrl-bcm2711' (58 lines), ...`
    func chipListing() -> String {
        let chips = (try? chips()) ?? []
        if chips.isEmpty {
            return
                "There are no GPIO chips in \(devDirectory) (is this a single-board computer with GPIO enabled?)."
        }
        let list = chips.map { "\($0.path) '\($0.label)' (\($0.lineCount) lines)" }.joined(separator: ", ")
        return "Chips on this system: \(list)."
    }
}

private struct WeakRequest {
    weak var request: LinuxLineRequest?
}

/// A chip opened through libgpiod.
final class LinuxGPIOChip: GPIOChip, @unchecked Sendable {
    // Safety: `handle` and `info` are immutable; libgpiod chip calls are serialised by `lock`.
    let backend: LinuxGPIO
    let handle: ChipHandle
    let info: GPIOChipInfo
    let lock = Protected(())

    init(backend: LinuxGPIO, handle: ChipHandle, info: GPIOChipInfo) {
        self.backend = backend
        self.handle = handle
        self.info = info
    }

    deinit {
        backend.system.closeChip(handle)
    }

    private var system: any GPIOSystem { backend.system }

    func lineInfo(at offset: UInt32) throws(GPIOError) -> GPIOLineInfo {
        guard Int(offset) < info.lineCount else {
            throw GPIOError(
                .noSuchLine, chip: info.path, line: "offset \(offset)",
                detail: "the chip has \(info.lineCount) lines (offsets 0-\(max(0, info.lineCount - 1))).")
        }
        let result = lock.withLock { _ in system.lineInfo(handle, offset: offset) }
        switch result {
        case .success(let line): return line
        case .failure(let error):
            throw GPIOError(
                .io, errno: error.errno, chip: info.path, line: "offset \(offset)",
                detail: "cannot read the line's information")
        }
    }

    func resolve(_ line: GPIOLineID) throws(GPIOError) -> UInt32 {
        switch line {
        case .offset(let offset):
            guard Int(offset) < info.lineCount else {
                throw GPIOError(
                    .noSuchLine, chip: chipDescription, line: "offset \(offset)",
                    detail: "the chip has \(info.lineCount) lines (offsets 0-\(max(0, info.lineCount - 1))).")
            }
            return offset
        case .name(let name):
            let result = lock.withLock { _ in system.findLine(handle, name: name) }
            switch result {
            case .success(let offset): return offset
            case .failure(let error) where error.errno == ENOENT:
                let names = (0..<UInt32(info.lineCount)).compactMap { try? lineInfo(at: $0).name }
                let near = NearMatch.suggestions(for: name, in: names)
                let hint =
                    near.isEmpty
                    ? "Run `gpioinfo \(info.name)` to see the line names."
                    : "Did you mean \(near.map { "'\($0)'" }.joined(separator: ", "))?"
                throw GPIOError(
                    .noSuchLine, errno: error.errno, chip: chipDescription, line: name,
                    detail: "the chip has no line with this name. \(hint)")
            case .failure(let error):
                throw GPIOError(
                    .io, errno: error.errno, chip: chipDescription, line: name,
                    detail: "cannot look up the line")
            }
        }
    }

    var chipDescription: String { "\(info.path) '\(info.label)'" }

    func requestLines(_ lines: [LineConfig], consumer: String) throws(GPIOError) -> any GPIOLineRequest {
        try request(lines, consumer: consumer)
    }

    func request(_ lines: [LineConfig], consumer: String) throws(GPIOError) -> LinuxLineRequest {
        guard !lines.isEmpty else {
            throw GPIOError(
                .invalidArgument, chip: chipDescription, detail: "a request needs at least one line")
        }
        var offsets: [UInt32] = []
        for config in lines {
            let offset = try resolve(config.line)
            if offsets.contains(offset) {
                throw GPIOError(
                    .invalidArgument, chip: chipDescription, line: config.line.description,
                    detail:
                        "the line appears twice in one request (check the board file for a line used twice)")
            }
            offsets.append(offset)
        }
        let kernelDebounce = system.hasKernelDebounce
        let native = lines.map { NativeLineSettings($0.settings, kernelDebounce: kernelDebounce) }
        let result = lock.withLock { _ in
            system.requestLines(handle, consumer: consumer, offsets: offsets, settings: native)
        }
        switch result {
        case .success(let handle):
            let request = LinuxLineRequest(chip: self, handle: handle, offsets: offsets, configs: lines)
            guard backend.register(request) else {
                request.release()
                throw GPIOError(.released, chip: chipDescription, detail: "the GPIO backend was shut down")
            }
            try request.startEvents()
            return request
        case .failure(let error):
            throw requestError(errno: error.errno, lines: lines, offsets: offsets)
        }
    }

    func requestError(errno code: Int32, lines: [LineConfig], offsets: [UInt32]) -> GPIOError {
        let names = zip(lines, offsets).map { "\($0.line) (offset \($1))" }.joined(separator: ", ")
        switch code {
        case EBUSY:
            let holders = offsets.compactMap { offset -> String? in
                guard let line = try? lineInfo(at: offset), line.isUsed else { return nil }
                let who = line.consumer.isEmpty ? "an unnamed consumer" : "'\(line.consumer)'"
                return "\(line.name.isEmpty ? "offset \(offset)" : line.name) is held by \(who)"
            }
            let held = holders.isEmpty ? "" : " " + holders.joined(separator: "; ") + "."
            return GPIOError(
                .lineBusy, errno: code, chip: chipDescription, line: names,
                detail:
                    "another program or a kernel driver holds the line.\(held) Stop that program, or remove the overlay or driver that claims the pin (see `gpioinfo`)."
            )
        case EACCES, EPERM:
            return backend.openError(path: info.path, errno: code)
        case EINVAL, EOPNOTSUPP:
            return GPIOError(
                .unsupportedSetting, errno: code, chip: chipDescription, line: names,
                detail:
                    "the kernel refused these line settings (bias needs Linux 5.5, debounce Linux 5.10; open-drain/open-source need a chip that supports them)."
            )
        case ENODEV, ENXIO:
            return GPIOError(
                .noSuchChip, errno: code, chip: chipDescription, line: names, detail: "the chip went away")
        default:
            return GPIOError(
                .io, errno: code, chip: chipDescription, line: names, detail: "cannot request the lines")
        }
    }
}

/// Lines requested through libgpiod.
final class LinuxLineRequest: GPIOLineRequest, Sendable {
    let chipObject: LinuxGPIOChip
    let offsets: [UInt32]
    let descriptors: [Int32]
    private let handle: RequestHandle
    private let state: Protected<State>

    private struct State {
        var released = false
        var configs: [LineConfig]
        var handler: (@Sendable (EdgeEvent) -> Void)?
        var debouncers: [Int: EdgeDebouncer] = [:]
        var eventDescriptors: [Int32] = []
    }

    init(chip: LinuxGPIOChip, handle: RequestHandle, offsets: [UInt32], configs: [LineConfig]) {
        self.chipObject = chip
        self.handle = handle
        self.offsets = offsets
        self.descriptors = []
        self.state = Protected(State(configs: configs))
    }

    var chip: GPIOChipInfo { chipObject.info }
    private var system: any GPIOSystem { chipObject.backend.system }
    private var clock: any BoltClock { chipObject.backend.clock }

    /// Sets up software debounce (libgpiod 1.6) and registers event descriptors with the reactor.
    func startEvents() throws(GPIOError) {
        let configs = state.withLock { $0.configs }
        guard configs.contains(where: { !$0.settings.isOutput && $0.settings.edges != .none }) else { return }
        try installDebouncers(configs)
        let descriptors: [Int32]
        switch system.eventDescriptors(handle) {
        case .success(let fds): descriptors = fds
        case .failure(let error):
            throw GPIOError(
                .io, errno: error.errno, chip: chipObject.chipDescription,
                detail: "cannot get the request's event descriptor")
        }
        state.withLock { $0.eventDescriptors = descriptors }
        chipObject.backend.reactor?.add(self, descriptors: descriptors)
    }

    private func installDebouncers(_ configs: [LineConfig]) throws(GPIOError) {
        guard !system.hasKernelDebounce else { return }
        var debouncers: [Int: EdgeDebouncer] = [:]
        let needed = configs.indices.filter {
            let settings = configs[$0].settings
            return !settings.isOutput && settings.edges != .none && (settings.debounce ?? .zero) > .zero
        }
        guard !needed.isEmpty else { return }
        let initial = try values()
        for index in needed {
            let settings = configs[index].settings
            debouncers[index] = EdgeDebouncer(
                clock: clock, period: settings.debounce ?? .zero, edges: settings.edges,
                initial: initial[index]
            ) { [weak self] in try? self?.value(at: index) }
        }
        state.withLock { $0.debouncers = debouncers }
    }

    func values() throws(GPIOError) -> [LineValue] {
        let result = state.withLock { state -> Result<[Bool], SystemError>? in
            guard !state.released else { return nil }
            return retryingInterrupted { system.getValues(handle, count: offsets.count) }
        }
        switch result {
        case nil: throw releasedError
        case .success(let raw)?: return raw.map(LineValue.init)
        case .failure(let error)?:
            throw GPIOError(
                ioKind(error.errno), errno: error.errno, chip: chipObject.chipDescription, line: lineList,
                detail: "cannot read the lines")
        }
    }

    func setValues(_ values: [LineValue], at indices: [Int]) throws(GPIOError) {
        guard values.count == indices.count, indices.allSatisfy({ offsets.indices.contains($0) }) else {
            throw GPIOError(
                .invalidArgument, chip: chipObject.chipDescription,
                detail: "indices \(indices) do not match this request of \(offsets.count) lines")
        }
        enum Outcome {
            case released
            case input(Int)
            case done(Result<Void, SystemError>)
        }
        let outcome = state.withLock { state -> Outcome in
            guard !state.released else { return .released }
            if let input = indices.first(where: { !state.configs[$0].settings.isOutput }) {
                return .input(input)
            }
            return .done(
                retryingInterrupted {
                    system.setValues(handle, indices: indices, values: values.map(\.isActive))
                })
        }
        switch outcome {
        case .released: throw releasedError
        case .input(let index):
            throw GPIOError(
                .invalidArgument, chip: chipObject.chipDescription, line: lineName(index),
                detail: "the line is an input; only outputs can be set")
        case .done(.success): return
        case .done(.failure(let error)):
            throw GPIOError(
                ioKind(error.errno), errno: error.errno, chip: chipObject.chipDescription, line: lineList,
                detail: "cannot set the lines")
        }
    }

    func reconfigure(_ settings: [LineSettings]) throws(GPIOError) {
        guard settings.count == offsets.count else {
            throw GPIOError(
                .invalidArgument, chip: chipObject.chipDescription,
                detail: "reconfigure needs one setting per line (\(offsets.count)), got \(settings.count)")
        }
        let kernelDebounce = system.hasKernelDebounce
        let native = settings.map { NativeLineSettings($0, kernelDebounce: kernelDebounce) }
        let result = state.withLock { state -> Result<Void, SystemError>? in
            guard !state.released else { return nil }
            let outcome = retryingInterrupted { system.reconfigure(handle, settings: native) }
            if case .success = outcome {
                for index in settings.indices { state.configs[index].settings = settings[index] }
            }
            return outcome
        }
        switch result {
        case nil: throw releasedError
        case .success?: return
        case .failure(let error)? where error.errno == EOPNOTSUPP || error.errno == EINVAL:
            throw GPIOError(
                .unsupportedSetting, errno: error.errno, chip: chipObject.chipDescription, line: lineList,
                detail: system.apiMajor == 1
                    ? "libgpiod 1.6 can only reconfigure lines requested together with the same settings, and not edge-detecting lines; request them separately or use libgpiod 2"
                    : "the kernel refused the new settings")
        case .failure(let error)?:
            throw GPIOError(
                ioKind(error.errno), errno: error.errno, chip: chipObject.chipDescription, line: lineList,
                detail: "cannot reconfigure the lines")
        }
    }

    func setEdgeHandler(_ handler: (@Sendable (EdgeEvent) -> Void)?) {
        state.withLock { $0.handler = handler }
    }

    func release() {
        let debouncers = state.withLock { state -> [EdgeDebouncer]? in
            guard !state.released else { return nil }
            state.released = true
            state.handler = nil
            system.releaseRequest(handle)
            return Array(state.debouncers.values)
        }
        guard let debouncers else { return }
        for debouncer in debouncers { debouncer.cancel() }
        chipObject.backend.reactor?.remove(self)
        chipObject.backend.unregister(self)
    }

    deinit {
        let live = state.withLock { state -> Bool in
            defer { state.released = true }
            return !state.released
        }
        if live { system.releaseRequest(handle) }
    }

    var isReleased: Bool { state.withLock { $0.released } }

    /// Reads the events pending on `descriptor` and hands them to the clock. Called by the
    /// reactor when the descriptor is readable (and by tests).
    func drainEvents(descriptor: Int32) {
        let batch = state.withLock { state -> (events: [RawEdgeEvent], debouncers: [Int: EdgeDebouncer])? in
            guard !state.released, state.eventDescriptors.contains(descriptor) else { return nil }
            switch retryingInterrupted({ system.readEvents(handle, descriptor: descriptor, max: 16) }) {
            case .success(let events): return (events, state.debouncers)
            case .failure: return nil
            }
        }
        guard let batch else { return }
        for raw in batch.events {
            guard let index = offsets.firstIndex(of: raw.offset) else { continue }
            if let debouncer = batch.debouncers[index] {
                clock.execute { [weak self] in
                    debouncer.rawEdge { [weak self] kind, timestamp, sequence in
                        self?.deliver(
                            EdgeEvent(
                                kind: kind, index: index, offset: raw.offset, timestamp: timestamp,
                                sequence: sequence))
                    }
                }
            } else {
                let event = EdgeEvent(
                    kind: raw.rising ? .rising : .falling, index: index, offset: raw.offset,
                    timestamp: MonotonicInstant(nanoseconds: Int64(clamping: raw.timestampNanoseconds)),
                    sequence: raw.lineSequence)
                clock.execute { [weak self] in self?.deliver(event) }
            }
        }
    }

    private func deliver(_ event: EdgeEvent) {
        let handler = state.withLock { $0.released ? nil : $0.handler }
        handler?(event)
    }

    private var releasedError: GPIOError {
        GPIOError(
            .released, chip: chipObject.chipDescription, line: lineList, detail: "the lines were released")
    }

    private var lineList: String {
        offsets.indices.map(lineName).joined(separator: ", ")
    }

    private func lineName(_ index: Int) -> String {
        let configs = state.withLock { $0.configs }
        guard configs.indices.contains(index) else { return "?" }
        if case .name(let name) = configs[index].line { return "\(name) (offset \(offsets[index]))" }
        return "offset \(offsets[index])"
    }

    private func ioKind(_ code: Int32) -> GPIOError.Kind {
        switch code {
        case ENODEV, ENXIO: .noSuchChip
        case EACCES: .permissionDenied
        default: .io
        }
    }
}

/// Repeats a call that failed with `EINTR`.
func retryingInterrupted<T>(_ body: () -> Result<T, SystemError>) -> Result<T, SystemError> {
    while true {
        let result = body()
        if case .failure(let error) = result, error.errno == EINTR { continue }
        return result
    }
}
