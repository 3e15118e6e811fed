/// A line's logical value: `active` is "on" after active-low inversion, as libgpiod reports it.
public enum LineValue: Sendable, Hashable, CustomStringConvertible {
    /// Logical 0.
    case inactive
    /// Logical 1.
    case active

    /// `active` for `true`.
    public init(_ isActive: Bool) { self = isActive ? .active : .inactive }

    /// Whether the value is `active`.
    public var isActive: Bool { self == .active }

    /// The other value.
    public var toggled: LineValue { self == .active ? .inactive : .active }

    /// `active` or `inactive`.
    public var description: String { self == .active ? "active" : "inactive" }
}

/// A physical level on a pin, before active-low inversion.
public enum PinLevel: Sendable, Hashable, CustomStringConvertible {
    /// Electrically low.
    case low
    /// Electrically high.
    case high

    /// The other level.
    public var inverted: PinLevel { self == .high ? .low : .high }

    /// `low` or `high`.
    public var description: String { self == .high ? "high" : "low" }
}

/// Which GPIO chip a line lives on. Never a chip number alone: numbers change between kernels
/// (the Raspberry Pi 5 moved its header from gpiochip4 to gpiochip0).
public enum GPIOChipID: Sendable, Hashable, CustomStringConvertible {
    /// A character device path, such as `/dev/gpiochip0`.
    case path(String)
    /// The chip's label, such as `pinctrl-bcm2711` or `pinctrl-rp1`.
    case label(String)

    /// The path or the label in quotes.
    public var description: String {
        switch self {
        case .path(let path): path
        case .label(let label): "chip labelled '\(label)'"
        }
    }
}

/// A line on a chip: its name from the device tree (`GPIO17`) or its offset.
public enum GPIOLineID: Sendable, Hashable, CustomStringConvertible {
    /// The line's name, as `gpioinfo` shows it.
    case name(String)
    /// The line's offset on its chip.
    case offset(UInt32)

    /// The name, or `offset N`.
    public var description: String {
        switch self {
        case .name(let name): name
        case .offset(let offset): "offset \(offset)"
        }
    }
}

/// Bias resistor setting of a line.
public enum LineBias: Sendable, Hashable {
    /// Leave the bias as it is.
    case asIs
    /// No pull resistor.
    case disabled
    /// Internal pull-up.
    case pullUp
    /// Internal pull-down.
    case pullDown
}

/// Output drive of a line.
public enum LineDrive: Sendable, Hashable {
    /// Drives both levels.
    case pushPull
    /// Drives low, floats (high impedance) for high.
    case openDrain
    /// Drives high, floats (high impedance) for low.
    case openSource
}

/// Which edges of an input's logical value raise events.
public enum EdgeDetection: Sendable, Hashable {
    /// No events.
    case none
    /// Inactive to active.
    case rising
    /// Active to inactive.
    case falling
    /// Both.
    case both

    /// Whether a transition to `value` is reported.
    public func reports(transitionTo value: LineValue) -> Bool {
        switch self {
        case .none: false
        case .rising: value == .active
        case .falling: value == .inactive
        case .both: true
        }
    }
}

/// Direction of a line; outputs carry the value they start with.
public enum LineDirection: Sendable, Hashable {
    /// An input.
    case input
    /// An output driven to `initial` as soon as it is requested.
    case output(initial: LineValue)
}

/// How one line is configured when it is requested.
public struct LineSettings: Sendable, Hashable {
    /// Input or output (with its initial value).
    public var direction: LineDirection
    /// Whether the logical value is the inverse of the physical level.
    public var activeLow: Bool
    /// Pull resistor.
    public var bias: LineBias
    /// Output drive; ignored for inputs.
    public var drive: LineDrive
    /// Edge events; inputs only.
    public var edges: EdgeDetection
    /// Debounce period for edge events: the value must be stable this long before an event is
    /// reported. `nil` for none.
    public var debounce: Duration?

    /// Creates settings; defaults describe a plain input.
    public init(
        direction: LineDirection = .input, activeLow: Bool = false, bias: LineBias = .asIs,
        drive: LineDrive = .pushPull, edges: EdgeDetection = .none, debounce: Duration? = nil
    ) {
        self.direction = direction
        self.activeLow = activeLow
        self.bias = bias
        self.drive = drive
        self.edges = edges
        self.debounce = debounce
    }

    /// An input with the given pull, polarity, edges and debounce.
    public static func input(
        bias: LineBias = .asIs, activeLow: Bool = false, edges: EdgeDetection = .none,
        debounce: Duration? = nil
    ) -> LineSettings {
        LineSettings(direction: .input, activeLow: activeLow, bias: bias, edges: edges, debounce: debounce)
    }

    /// An output starting at `initial`.
    public static func output(
        initial: LineValue = .inactive, activeLow: Bool = false, drive: LineDrive = .pushPull,
        bias: LineBias = .asIs
    ) -> LineSettings {
        LineSettings(direction: .output(initial: initial), activeLow: activeLow, bias: bias, drive: drive)
    }

    /// Whether the line is an output.
    public var isOutput: Bool {
        if case .output = direction { return true }
        return false
    }
}

/// One line of a request: which line, and how.
public struct LineConfig: Sendable, Hashable {
    /// The line on the chip.
    public var line: GPIOLineID
    /// Its settings.
    public var settings: LineSettings

    /// Pairs a line with its settings.
    public init(_ line: GPIOLineID, _ settings: LineSettings) {
        self.line = line
        self.settings = settings
    }
}

/// An edge on a requested input.
public struct EdgeEvent: Sendable, Hashable {
    /// Direction of the logical change.
    public enum Kind: Sendable, Hashable {
        /// Inactive to active.
        case rising
        /// Active to inactive.
        case falling
    }

    /// Rising or falling.
    public var kind: Kind
    /// Position of the line in its request.
    public var index: Int
    /// Offset of the line on its chip.
    public var offset: UInt32
    /// When the edge happened (the kernel's `CLOCK_MONOTONIC` timestamp on Linux; for debounced
    /// lines, when the value was accepted as stable).
    public var timestamp: MonotonicInstant
    /// Per-line sequence number, starting at 1.
    public var sequence: UInt64

    /// Creates an event.
    public init(kind: Kind, index: Int, offset: UInt32, timestamp: MonotonicInstant, sequence: UInt64) {
        self.kind = kind
        self.index = index
        self.offset = offset
        self.timestamp = timestamp
        self.sequence = sequence
    }

    /// The logical value after the edge.
    public var value: LineValue { kind == .rising ? .active : .inactive }
}

/// What is known about a chip.
public struct GPIOChipInfo: Sendable, Hashable {
    /// Character device path (`/dev/gpiochip0`).
    public var path: String
    /// Kernel name (`gpiochip0`).
    public var name: String
    /// Label (`pinctrl-bcm2711`).
    public var label: String
    /// Number of lines.
    public var lineCount: Int

    /// Creates chip information.
    public init(path: String, name: String, label: String, lineCount: Int) {
        self.path = path
        self.name = name
        self.label = label
        self.lineCount = lineCount
    }
}

/// What is known about one line of a chip.
public struct GPIOLineInfo: Sendable, Hashable {
    /// Offset on the chip.
    public var offset: UInt32
    /// Name, empty when the line has none.
    public var name: String
    /// Who holds the line, empty when nobody or unnamed.
    public var consumer: String
    /// Whether the line is requested by someone (this process included).
    public var isUsed: Bool

    /// Creates line information.
    public init(offset: UInt32, name: String, consumer: String, isUsed: Bool) {
        self.offset = offset
        self.name = name
        self.consumer = consumer
        self.isUsed = isUsed
    }
}

/// Opens GPIO chips: the factory a backend provides (libgpiod, simulation).
public protocol GPIOProvider: Sendable {
    /// The chips that exist.
    func chips() throws(GPIOError) -> [GPIOChipInfo]
    /// Opens a chip by path or label.
    func openChip(_ id: GPIOChipID) throws(GPIOError) -> any GPIOChip
}

/// An open GPIO chip.
public protocol GPIOChip: Sendable {
    /// The chip's path, name, label and size.
    var info: GPIOChipInfo { get }
    /// Information about the line at `offset`.
    func lineInfo(at offset: UInt32) throws(GPIOError) -> GPIOLineInfo
    /// The offset of a line given by name or offset; throws `noSuchLine` (with near matches)
    /// when there is none.
    func resolve(_ line: GPIOLineID) throws(GPIOError) -> UInt32
    /// Requests lines, each with its own settings, as one group: values of the group are read
    /// and written in one call. `consumer` names the owner in `gpioinfo`.
    func requestLines(_ lines: [LineConfig], consumer: String) throws(GPIOError) -> any GPIOLineRequest
}

/// Requested lines. Indices are positions in the request, in the order they were requested.
///
/// Edge events are delivered through ``setEdgeHandler(_:)`` on the backend's ``BoltClock``, so
/// they run serially with timers; ``GPIOLineRequest/edgeEvents(bufferingNewest:)`` offers the
/// same events as an async sequence.
public protocol GPIOLineRequest: AnyObject, Sendable {
    /// The chip the lines belong to.
    var chip: GPIOChipInfo { get }
    /// The lines' offsets, in request order.
    var offsets: [UInt32] { get }
    /// Reads every line's logical value in one call.
    func values() throws(GPIOError) -> [LineValue]
    /// Sets the outputs at `indices` to `values` in one call.
    func setValues(_ values: [LineValue], at indices: [Int]) throws(GPIOError)
    /// Changes every line's settings (one per line, in request order) without releasing them.
    func reconfigure(_ settings: [LineSettings]) throws(GPIOError)
    /// Installs the function that receives edge events (replacing any earlier one), or removes
    /// it with `nil`. It runs on the backend's clock.
    func setEdgeHandler(_ handler: (@Sendable (EdgeEvent) -> Void)?)
    /// Releases the lines. Later calls throw `released`; releasing twice does nothing.
    func release()
}

extension GPIOLineRequest {
    /// Reads the logical value of the line at `index`.
    public func value(at index: Int) throws(GPIOError) -> LineValue {
        let all = try values()
        guard all.indices.contains(index) else {
            throw GPIOError(
                .invalidArgument, chip: chip.path, detail: "no line at index \(index) in this request")
        }
        return all[index]
    }

    /// Sets the output at `index`.
    public func setValue(_ value: LineValue, at index: Int) throws(GPIOError) {
        try setValues([value], at: [index])
    }

    /// Sets every line of an all-output request.
    public func setValues(_ values: [LineValue]) throws(GPIOError) {
        try setValues(values, at: Array(values.indices))
    }

    /// The request's edge events as an async sequence. Installing it replaces any edge handler;
    /// the sequence ends when the consumer stops iterating. At most `limit` events are buffered
    /// (the newest are kept), like the kernel's event buffer.
    public func edgeEvents(bufferingNewest limit: Int = 64) -> AsyncStream<EdgeEvent> {
        AsyncStream(bufferingPolicy: .bufferingNewest(limit)) { continuation in
            setEdgeHandler { event in continuation.yield(event) }
            continuation.onTermination = { [weak self] _ in self?.setEdgeHandler(nil) }
        }
    }
}
