import BoltworkHAL
import Synchronization

@testable import BoltworkLinux

/// A recording stand-in for libgpiod: chips and lines in memory, every call logged, errno
/// values injected per call name.
final class FakeGPIOSystem: GPIOSystem, Sendable {
    struct Chip: Sendable {
        var path: String
        var name: String
        var label: String
        var lines: [String]
        var consumers: [UInt32: String] = [:]
    }

    struct State: Sendable {
        var chips: [Chip] = []
        var log: [String] = []
        var errors: [String: [Int32]] = [:]
        var open: [UInt: Int] = [:]
        var nextHandle: UInt = 100
        var requests: [UInt: (chip: Int, offsets: [UInt32], settings: [NativeLineSettings])] = [:]
        var values: [UInt: [Bool]] = [:]
        var pendingEvents: [UInt: [RawEdgeEvent]] = [:]
        var released: [UInt] = []
        var closed: [UInt] = []
        var ownership: DeviceOwnership?
    }

    let apiMajor: Int
    let libraryVersion: String
    let hasKernelDebounce: Bool
    let state = Mutex(State())

    init(apiMajor: Int = 2, chips: [Chip]) {
        self.apiMajor = apiMajor
        self.libraryVersion = apiMajor == 1 ? "1.6.3" : "2.1.3"
        self.hasKernelDebounce = apiMajor == 2
        state.withLock { $0.chips = chips }
    }

    /// Makes the next calls named `call` fail with these errno values, in order.
    func fail(_ call: String, with errnos: Int32...) {
        state.withLock { $0.errors[call, default: []].append(contentsOf: errnos) }
    }

    var log: [String] { state.withLock { $0.log } }

    private func injected(_ call: String, _ state: inout State) -> SystemError? {
        state.log.append(call)
        guard var queue = state.errors[call], !queue.isEmpty else { return nil }
        let code = queue.removeFirst()
        state.errors[call] = queue
        return SystemError(errno: code)
    }

    func listDevices(in directory: String, prefix: String) -> [String] {
        state.withLock {
            $0.chips.map { String($0.path.split(separator: "/").last ?? "") }.filter { $0.hasPrefix(prefix) }
        }
    }

    func ownership(of path: String) -> DeviceOwnership? { state.withLock { $0.ownership } }

    func openChip(_ path: String) -> Result<ChipHandle, SystemError> {
        state.withLock { state in
            if let error = injected("open \(path)", &state) { return .failure(error) }
            guard let index = state.chips.firstIndex(where: { $0.path == path }) else {
                return .failure(SystemError(errno: 2))
            }
            state.nextHandle += 1
            state.open[state.nextHandle] = index
            return .success(ChipHandle(raw: state.nextHandle))
        }
    }

    func closeChip(_ chip: ChipHandle) {
        state.withLock { state in
            state.log.append("close chip")
            state.closed.append(chip.raw)
            state.open.removeValue(forKey: chip.raw)
        }
    }

    func chipInfo(_ chip: ChipHandle) -> Result<(name: String, label: String, lines: Int), SystemError> {
        state.withLock { state in
            guard let index = state.open[chip.raw] else { return .failure(SystemError(errno: 9)) }
            let chip = state.chips[index]
            return .success((chip.name, chip.label, chip.lines.count))
        }
    }

    func findLine(_ chip: ChipHandle, name: String) -> Result<UInt32, SystemError> {
        state.withLock { state in
            guard let index = state.open[chip.raw] else { return .failure(SystemError(errno: 9)) }
            guard let offset = state.chips[index].lines.firstIndex(of: name) else {
                return .failure(SystemError(errno: 2))
            }
            return .success(UInt32(offset))
        }
    }

    func lineInfo(_ chip: ChipHandle, offset: UInt32) -> Result<GPIOLineInfo, SystemError> {
        state.withLock { state in
            guard let index = state.open[chip.raw] else { return .failure(SystemError(errno: 9)) }
            let chip = state.chips[index]
            let consumer = chip.consumers[offset] ?? ""
            return .success(
                GPIOLineInfo(
                    offset: offset, name: chip.lines[Int(offset)], consumer: consumer,
                    isUsed: !consumer.isEmpty))
        }
    }

    func requestLines(_ chip: ChipHandle, consumer: String, offsets: [UInt32], settings: [NativeLineSettings])
        -> Result<RequestHandle, SystemError>
    {
        state.withLock { state in
            if let error = injected("request", &state) { return .failure(error) }
            guard let index = state.open[chip.raw] else { return .failure(SystemError(errno: 9)) }
            state.nextHandle += 1
            state.requests[state.nextHandle] = (index, offsets, settings)
            state.values[state.nextHandle] = settings.map { $0.output && $0.outputValue }
            return .success(RequestHandle(raw: state.nextHandle))
        }
    }

    func releaseRequest(_ request: RequestHandle) {
        state.withLock { state in
            state.log.append("release")
            state.released.append(request.raw)
        }
    }

    func getValues(_ request: RequestHandle, count: Int) -> Result<[Bool], SystemError> {
        state.withLock { state in
            if let error = injected("get", &state) { return .failure(error) }
            return .success(state.values[request.raw] ?? [])
        }
    }

    func setValues(_ request: RequestHandle, indices: [Int], values: [Bool]) -> Result<Void, SystemError> {
        state.withLock { state in
            if let error = injected("set", &state) { return .failure(error) }
            for (index, value) in zip(indices, values) { state.values[request.raw]?[index] = value }
            return .success(())
        }
    }

    func reconfigure(_ request: RequestHandle, settings: [NativeLineSettings]) -> Result<Void, SystemError> {
        state.withLock { state in
            if let error = injected("reconfigure", &state) { return .failure(error) }
            state.requests[request.raw]?.settings = settings
            return .success(())
        }
    }

    func eventDescriptors(_ request: RequestHandle) -> Result<[Int32], SystemError> {
        .success([Int32(truncatingIfNeeded: request.raw)])
    }

    func readEvents(_ request: RequestHandle, descriptor: Int32, max: Int) -> Result<
        [RawEdgeEvent], SystemError
    > {
        state.withLock { state in
            if let error = injected("read events", &state) { return .failure(error) }
            let events = state.pendingEvents[request.raw] ?? []
            state.pendingEvents[request.raw] = []
            return .success(events)
        }
    }

    func poll(_ descriptors: [Int32], timeout: Duration?) -> Result<[Int32], SystemError> {
        .success([])
    }

    /// Sets a line's raw value and queues the edge event the kernel would report.
    func edge(request: UInt, index: Int, to value: Bool, at nanoseconds: UInt64) {
        state.withLock { state in
            state.values[request]?[index] = value
            guard let offsets = state.requests[request]?.offsets else { return }
            state.pendingEvents[request, default: []].append(
                RawEdgeEvent(
                    offset: offsets[index], rising: value, timestampNanoseconds: nanoseconds, lineSequence: 1)
            )
        }
    }
}

/// A recording stand-in for /dev/i2c-N and libi2c.
final class FakeI2CSystem: I2CSystem, Sendable {
    struct State: Sendable {
        var log: [String] = []
        var openResult: Int32 = 3
        var functionality: UInt64 = I2CCapabilities.all.rawValue
        var transferErrors: [Int32] = []
        var addressErrors: [Int32] = []
        var responses: [I2COperation: [UInt8]] = [:]
        var closed: [Int32] = []
        var buses: [String] = ["i2c-1"]
        var ownership: DeviceOwnership?
    }

    let state = Mutex(State())

    var log: [String] { state.withLock { $0.log } }

    func listDevices(in directory: String, prefix: String) -> [String] {
        state.withLock { $0.buses.filter { $0.hasPrefix(prefix) } }
    }

    func ownership(of path: String) -> DeviceOwnership? { state.withLock { $0.ownership } }

    func open(_ path: String) -> Int32 {
        state.withLock { state in
            state.log.append("open \(path)")
            return state.openResult
        }
    }

    func close(_ descriptor: Int32) {
        state.withLock { state in
            state.log.append("close \(descriptor)")
            state.closed.append(descriptor)
        }
    }

    func functionality(_ descriptor: Int32) -> Result<UInt64, SystemError> {
        state.withLock { state in
            state.log.append("I2C_FUNCS")
            return .success(state.functionality)
        }
    }

    func setAddress(_ descriptor: Int32, _ address: UInt8, force: Bool) -> Int32 {
        state.withLock { state in
            state.log.append("\(force ? "I2C_SLAVE_FORCE" : "I2C_SLAVE") \(address)")
            if !state.addressErrors.isEmpty { return -state.addressErrors.removeFirst() }
            return 0
        }
    }

    func transfer(_ descriptor: Int32, _ operation: I2COperation, address: UInt8) -> Result<
        [UInt8], SystemError
    > {
        state.withLock { state in
            state.log.append("\(operation)")
            if !state.transferErrors.isEmpty {
                return .failure(SystemError(errno: state.transferErrors.removeFirst()))
            }
            return .success(
                state.responses[operation] ?? [UInt8](repeating: 0, count: operation.responseLength))
        }
    }
}
