import BoltworkHAL
import CBoltworkGPIOD

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// An open chip handle as the funnel hands it out.
struct ChipHandle: Hashable, Sendable {
    let raw: UInt
}

/// A line request handle as the funnel hands it out.
struct RequestHandle: Hashable, Sendable {
    let raw: UInt
}

/// The failure of one funnel call: the errno the library or kernel set.
struct SystemError: Error, Sendable, Hashable {
    let errno: Int32
}

/// One edge event as libgpiod reports it.
struct RawEdgeEvent: Sendable, Hashable {
    var offset: UInt32
    var rising: Bool
    var timestampNanoseconds: UInt64
    var lineSequence: UInt64
}

/// Ownership of a device node, for permission messages.
struct DeviceOwnership: Sendable, Hashable {
    var group: String
    var mode: UInt32
}

/// The funnel: every libgpiod and system call the GPIO backend makes goes through one value of
/// this type. ``LiveGPIOSystem`` calls the C shim; tests substitute a recording fake that
/// injects errno values (the shape of apple/swift-system's syscall funnel).
protocol GPIOSystem: Sendable {
    /// libgpiod API major (1 or 2) and version string.
    var apiMajor: Int { get }
    var libraryVersion: String { get }
    /// Whether the kernel debounces through this API.
    var hasKernelDebounce: Bool { get }

    /// Names in `directory` starting with `prefix` (`gpiochip` in `/dev`), sorted.
    func listDevices(in directory: String, prefix: String) -> [String]
    /// Group and mode of a device node, if it can be read.
    func ownership(of path: String) -> DeviceOwnership?

    func openChip(_ path: String) -> Result<ChipHandle, SystemError>
    func closeChip(_ chip: ChipHandle)
    func chipInfo(_ chip: ChipHandle) -> Result<(name: String, label: String, lines: Int), SystemError>
    func findLine(_ chip: ChipHandle, name: String) -> Result<UInt32, SystemError>
    func lineInfo(_ chip: ChipHandle, offset: UInt32) -> Result<GPIOLineInfo, SystemError>

    func requestLines(
        _ chip: ChipHandle, consumer: String, offsets: [UInt32], settings: [NativeLineSettings]
    ) -> Result<RequestHandle, SystemError>
    func releaseRequest(_ request: RequestHandle)
    func getValues(_ request: RequestHandle, count: Int) -> Result<[Bool], SystemError>
    func setValues(_ request: RequestHandle, indices: [Int], values: [Bool]) -> Result<Void, SystemError>
    func reconfigure(_ request: RequestHandle, settings: [NativeLineSettings]) -> Result<Void, SystemError>
    func eventDescriptors(_ request: RequestHandle) -> Result<[Int32], SystemError>
    func readEvents(_ request: RequestHandle, descriptor: Int32, max: Int) -> Result<
        [RawEdgeEvent], SystemError
    >

    /// Waits until one of `descriptors` is readable or `timeout` (nil: forever) passes; returns
    /// the readable ones.
    func poll(_ descriptors: [Int32], timeout: Duration?) -> Result<[Int32], SystemError>
}

/// Line settings in the C shim's terms.
struct NativeLineSettings: Sendable, Hashable {
    var output: Bool
    var activeLow: Bool
    var bias: Int32
    var drive: Int32
    var edge: Int32
    var outputValue: Bool
    var debounceMicroseconds: UInt64

    /// Translates the portable settings. `kernelDebounce` false leaves debounce to software.
    init(_ settings: LineSettings, kernelDebounce: Bool) {
        switch settings.direction {
        case .input:
            output = false
            outputValue = false
        case .output(let initial):
            output = true
            outputValue = initial.isActive
        }
        activeLow = settings.activeLow
        bias =
            switch settings.bias {
            case .asIs: Int32(BW_BIAS_AS_IS.rawValue)
            case .disabled: Int32(BW_BIAS_DISABLED.rawValue)
            case .pullUp: Int32(BW_BIAS_PULL_UP.rawValue)
            case .pullDown: Int32(BW_BIAS_PULL_DOWN.rawValue)
            }
        drive =
            switch settings.drive {
            case .pushPull: Int32(BW_DRIVE_PUSH_PULL.rawValue)
            case .openDrain: Int32(BW_DRIVE_OPEN_DRAIN.rawValue)
            case .openSource: Int32(BW_DRIVE_OPEN_SOURCE.rawValue)
            }
        let edges: EdgeDetection = output ? .none : settings.edges
        edge =
            switch edges {
            case .none: Int32(BW_EDGE_NONE.rawValue)
            case .rising: Int32(BW_EDGE_RISING.rawValue)
            case .falling: Int32(BW_EDGE_FALLING.rawValue)
            case .both: Int32(BW_EDGE_BOTH.rawValue)
            }
        if kernelDebounce, !output, settings.edges != .none, let debounce = settings.debounce {
            debounceMicroseconds = UInt64(max(0, debounce.totalMicroseconds))
        } else {
            debounceMicroseconds = 0
        }
    }

    var c: bw_line_settings {
        bw_line_settings(
            direction: output ? Int32(BW_DIRECTION_OUTPUT.rawValue) : Int32(BW_DIRECTION_INPUT.rawValue),
            active_low: activeLow ? 1 : 0, bias: bias, drive: drive, edge: edge,
            output_value: outputValue ? 1 : 0, debounce_us: debounceMicroseconds)
    }
}

/// The funnel's real implementation: the C shim over libgpiod, and POSIX calls.
struct LiveGPIOSystem: GPIOSystem {
    var apiMajor: Int { Int(bw_gpiod_api_major()) }
    var libraryVersion: String { String(cString: bw_gpiod_version()) }
    var hasKernelDebounce: Bool { bw_gpiod_has_kernel_debounce() != 0 }

    func listDevices(in directory: String, prefix: String) -> [String] {
        PosixDirectory.list(directory, prefix: prefix)
    }

    func ownership(of path: String) -> DeviceOwnership? {
        PosixDirectory.ownership(of: path)
    }

    private func pointer(_ chip: ChipHandle) -> OpaquePointer? { OpaquePointer(bitPattern: chip.raw) }
    private func pointer(_ request: RequestHandle) -> OpaquePointer? {
        OpaquePointer(bitPattern: request.raw)
    }

    func openChip(_ path: String) -> Result<ChipHandle, SystemError> {
        errno = 0
        guard let chip = bw_chip_open(path) else { return .failure(SystemError(errno: errno)) }
        return .success(ChipHandle(raw: UInt(bitPattern: chip)))
    }

    func closeChip(_ chip: ChipHandle) {
        bw_chip_close(pointer(chip))
    }

    func chipInfo(_ chip: ChipHandle) -> Result<(name: String, label: String, lines: Int), SystemError> {
        var name = [CChar](repeating: 0, count: 64)
        var label = [CChar](repeating: 0, count: 64)
        var lines: UInt32 = 0
        guard bw_chip_get_info(pointer(chip), &name, name.count, &label, label.count, &lines) == 0 else {
            return .failure(SystemError(errno: errno))
        }
        return .success((Self.string(name), Self.string(label), Int(lines)))
    }

    func findLine(_ chip: ChipHandle, name: String) -> Result<UInt32, SystemError> {
        errno = 0
        let offset = bw_chip_find_line(pointer(chip), name)
        guard offset >= 0 else { return .failure(SystemError(errno: errno == 0 ? ENOENT : errno)) }
        return .success(UInt32(offset))
    }

    func lineInfo(_ chip: ChipHandle, offset: UInt32) -> Result<GPIOLineInfo, SystemError> {
        var name = [CChar](repeating: 0, count: 64)
        var consumer = [CChar](repeating: 0, count: 64)
        var used: Int32 = 0
        guard
            bw_chip_get_line_info(pointer(chip), offset, &name, name.count, &consumer, consumer.count, &used)
                == 0
        else { return .failure(SystemError(errno: errno)) }
        return .success(
            GPIOLineInfo(
                offset: offset, name: Self.string(name), consumer: Self.string(consumer), isUsed: used != 0)
        )
    }

    func requestLines(
        _ chip: ChipHandle, consumer: String, offsets: [UInt32], settings: [NativeLineSettings]
    ) -> Result<RequestHandle, SystemError> {
        let native = settings.map(\.c)
        errno = 0
        guard let request = bw_request_lines(pointer(chip), consumer, offsets, native, offsets.count) else {
            return .failure(SystemError(errno: errno))
        }
        return .success(RequestHandle(raw: UInt(bitPattern: request)))
    }

    func releaseRequest(_ request: RequestHandle) {
        bw_request_release(pointer(request))
    }

    func getValues(_ request: RequestHandle, count: Int) -> Result<[Bool], SystemError> {
        var values = [Int32](repeating: 0, count: count)
        guard bw_request_get_values(pointer(request), &values) == 0 else {
            return .failure(SystemError(errno: errno))
        }
        return .success(values.map { $0 != 0 })
    }

    func setValues(_ request: RequestHandle, indices: [Int], values: [Bool]) -> Result<Void, SystemError> {
        let cIndices = indices.map { Int($0) }
        let cValues = values.map { Int32($0 ? 1 : 0) }
        guard bw_request_set_values(pointer(request), cIndices, cValues, cIndices.count) == 0 else {
            return .failure(SystemError(errno: errno))
        }
        return .success(())
    }

    func reconfigure(_ request: RequestHandle, settings: [NativeLineSettings]) -> Result<Void, SystemError> {
        let native = settings.map(\.c)
        guard bw_request_reconfigure(pointer(request), native) == 0 else {
            return .failure(SystemError(errno: errno))
        }
        return .success(())
    }

    func eventDescriptors(_ request: RequestHandle) -> Result<[Int32], SystemError> {
        var fds = [Int32](repeating: -1, count: 64)
        let count = bw_request_event_fds(pointer(request), &fds, fds.count)
        guard count >= 0 else { return .failure(SystemError(errno: errno)) }
        return .success(Array(fds.prefix(Int(count))))
    }

    func readEvents(_ request: RequestHandle, descriptor: Int32, max: Int) -> Result<
        [RawEdgeEvent], SystemError
    > {
        var events = [bw_edge_event](repeating: bw_edge_event(), count: max)
        let count = bw_request_read_events(pointer(request), descriptor, &events, max)
        guard count >= 0 else { return .failure(SystemError(errno: errno)) }
        return .success(
            events.prefix(Int(count)).map {
                RawEdgeEvent(
                    offset: $0.offset, rising: $0.rising != 0, timestampNanoseconds: $0.timestamp_ns,
                    lineSequence: $0.line_seqno)
            })
    }

    func poll(_ descriptors: [Int32], timeout: Duration?) -> Result<[Int32], SystemError> {
        PosixDirectory.poll(descriptors, timeout: timeout)
    }

    static func string(_ buffer: [CChar]) -> String {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Small POSIX helpers shared by the GPIO and I2C funnels.
enum PosixDirectory {
    static func list(_ directory: String, prefix: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name.hasPrefix(prefix) { names.append(name) }
        }
        return names.sorted { naturalOrder($0, $1) }
    }

    /// `gpiochip2` before `gpiochip10`.
    static func naturalOrder(_ a: String, _ b: String) -> Bool {
        let aDigits = a.reversed().prefix { $0.isNumber }
        let bDigits = b.reversed().prefix { $0.isNumber }
        let aStem = a.dropLast(aDigits.count)
        let bStem = b.dropLast(bDigits.count)
        if aStem != bStem { return aStem < bStem }
        return (Int(String(aDigits.reversed())) ?? 0) < (Int(String(bDigits.reversed())) ?? 0)
    }

    static func ownership(of path: String) -> DeviceOwnership? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        var groupName = String(info.st_gid)
        if let group = getgrgid(info.st_gid), let name = group.pointee.gr_name {
            groupName = String(cString: name)
        }
        return DeviceOwnership(group: groupName, mode: UInt32(info.st_mode) & 0o777)
    }

    static func poll(_ descriptors: [Int32], timeout: Duration?) -> Result<[Int32], SystemError> {
        var fds = descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let milliseconds: Int32 =
            if let timeout { Int32(clamping: max(0, (timeout.totalNanoseconds + 999_999) / 1_000_000)) } else
            { -1 }
        let rc = Glibc.poll(&fds, nfds_t(fds.count), milliseconds)
        guard rc >= 0 else { return .failure(SystemError(errno: errno)) }
        return .success(fds.filter { $0.revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 }.map(\.fd))
    }
}

extension LiveGPIOSystem {
    /// What libgpiod holds after translating `settings`: the v1 request type and flags, or the
    /// v2 settings object read back through its getters.
    func nativeDescription(of settings: LineSettings) -> String {
        var native = NativeLineSettings(settings, kernelDebounce: hasKernelDebounce).c
        if !hasKernelDebounce, let debounce = settings.debounce, settings.edges != .none, !settings.isOutput {
            native.debounce_us = UInt64(max(0, debounce.totalMicroseconds))
        }
        var buffer = [CChar](repeating: 0, count: 256)
        guard bw_describe_native_settings(&native, &buffer, buffer.count) >= 0 else { return "invalid" }
        return Self.string(buffer)
    }
}
