import BoltworkHAL

// Device-level contracts: what the lock logic sees of each part of the lock. Drivers in this
// module implement them over the hardware-abstraction protocols (so they run unchanged on
// libgpiod/libi2c and on the simulated backend); the lock controller depends on these
// protocols only. Drivers expose mechanisms and measurements; policy (what a jam means, when
// to lock) belongs to the lock logic.

/// A failure of a device: which device, what went wrong, and the bus or GPIO error underneath.
public struct DeviceError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, independent of the device.
    public enum Kind: Sendable, Hashable {
        /// The GPIO or I2C transfer failed (see `underlying`).
        case hardware
        /// The device answered with something impossible (SOC above 100 %, both end switches
        /// closed, a wrong version register): wiring or address, not a measurement.
        case implausible
        /// The device refused the request in its current state (running a stopped motor in
        /// standby, reading a released keypad).
        case invalidState
        /// The configuration cannot work (a 0×4 keypad, a key map of the wrong size).
        case configuration
    }

    /// The portable kind.
    public var kind: Kind
    /// The device, as the board file names it (`keypad`, `motor`, `gauge`).
    public var device: String
    /// What failed and what to do about it.
    public var detail: String
    /// The GPIO or I2C error underneath, when there is one.
    public var underlying: (any Error & Sendable)?

    /// Creates an error.
    public init(_ kind: Kind, device: String, detail: String, underlying: (any Error & Sendable)? = nil) {
        self.kind = kind
        self.device = device
        self.detail = detail
        self.underlying = underlying
    }

    /// `motor: cannot drive IN1/IN2: GPIO I/O error on ... (errno 5 EIO): ...`
    public var description: String {
        var text = "\(device): \(detail)"
        if let underlying { text += ": \(underlying)" }
        return text
    }
}

// MARK: Keypad

/// A key press or release.
public struct KeyEvent: Sendable, Hashable {
    /// Press or release.
    public enum Kind: Sendable, Hashable {
        /// The key went down.
        case press
        /// The key came up.
        case release
        /// The key has been held beyond the stuck-key limit; it is ignored until released.
        case stuck
    }

    /// The key's character from the key map (`"1"`, `"#"`, `"*"`, `"A"`).
    public var key: Character
    /// What happened.
    public var kind: Kind
    /// When the scan that saw it ran.
    public var timestamp: MonotonicInstant

    /// Creates an event.
    public init(key: Character, kind: Kind, timestamp: MonotonicInstant) {
        self.key = key
        self.kind = kind
        self.timestamp = timestamp
    }
}

/// A keypad that reports key events on its clock.
public protocol KeypadDevice: AnyObject, Sendable {
    /// Installs the function that receives key events (replacing any earlier one).
    func setKeyHandler(_ handler: (@Sendable (KeyEvent) -> Void)?)
}

// MARK: Motor

/// Which way to move the bolt. Which motor direction extends the bolt is board wiring, set when
/// the driver is created.
public enum BoltDirection: Sendable, Hashable, CustomStringConvertible {
    /// Throw the bolt (lock).
    case extend
    /// Pull the bolt back (unlock).
    case retract

    /// The other direction.
    public var opposite: BoltDirection { self == .extend ? .retract : .extend }

    /// `extend` or `retract`.
    public var description: String { self == .extend ? "extend" : "retract" }
}

/// Why a motor run ended.
public enum MotorStopReason: Sendable, Hashable {
    /// The caller stopped it.
    case requested
    /// The driver's hard maximum run time expired (the last safety net).
    case maximumRunTime
    /// The stall or fault input fired.
    case stall
    /// A GPIO error forced the safe state.
    case fault
}

/// What the motor is doing.
public enum MotorActivity: Sendable, Hashable {
    /// Stopped in its safe state.
    case stopped
    /// Running in a direction since an instant.
    case running(BoltDirection, since: MonotonicInstant)
}

/// A motor that moves the bolt, always through a safe stop between directions.
public protocol BoltMotor: AnyObject, Sendable {
    /// What it is doing now.
    var activity: MotorActivity { get }
    /// Starts moving in `direction` (stopping safely first if it was running the other way).
    /// The driver stops by itself after its maximum run time.
    func run(_ direction: BoltDirection) throws(DeviceError)
    /// Stops in the safe state (brake or coast, per driver profile).
    func stop() throws(DeviceError)
    /// Installs the function told when a run ends for a reason other than `stop()`
    /// (maximum run time, stall, fault).
    func setStopHandler(_ handler: (@Sendable (MotorStopReason, MonotonicInstant) -> Void)?)
}

// MARK: Bolt position and door

/// Where the bolt is, as the sensor sees it.
public enum BoltPosition: Sendable, Hashable, CustomStringConvertible {
    /// Fully pulled back.
    case retracted
    /// Fully thrown.
    case extended
    /// Neither end: between them, with the travel percentage when the sensor measures it
    /// (0 = retracted, 100 = extended).
    case between(percent: Double?)
    /// The sensor contradicts itself (both end switches closed, no magnet): a sensor fault.
    case fault(String)

    /// A short description.
    public var description: String {
        switch self {
        case .retracted: "retracted"
        case .extended: "extended"
        case .between(let percent?): "between ends (\(Int(percent.rounded())) %)"
        case .between(nil): "between ends"
        case .fault(let why): "sensor fault (\(why))"
        }
    }
}

/// A change of position seen by a sensor.
public struct BoltPositionEvent: Sendable, Hashable {
    /// The new position.
    public var position: BoltPosition
    /// When it was seen.
    public var timestamp: MonotonicInstant

    /// Creates an event.
    public init(position: BoltPosition, timestamp: MonotonicInstant) {
        self.position = position
        self.timestamp = timestamp
    }
}

/// A bolt-position sensor (end switches or an angle sensor).
public protocol BoltPositionSensor: AnyObject, Sendable {
    /// Reads the position now.
    func position() throws(DeviceError) -> BoltPosition
    /// Installs the function that receives position changes (replacing any earlier one).
    func setChangeHandler(_ handler: (@Sendable (BoltPositionEvent) -> Void)?)
}

/// Whether the door is shut in its frame.
public enum DoorState: Sendable, Hashable {
    /// The door is in the frame (the bolt can be thrown).
    case closed
    /// The door is open.
    case open
}

/// A door contact.
public protocol DoorSensor: AnyObject, Sendable {
    /// Reads the door now.
    func state() throws(DeviceError) -> DoorState
    /// Installs the function that receives changes, with their time.
    func setChangeHandler(_ handler: (@Sendable (DoorState, MonotonicInstant) -> Void)?)
}

// MARK: Battery

/// One reading of a battery gauge, the same type for every gauge. Fields a gauge does not
/// measure are nil.
public struct BatteryReading: Sendable, Hashable {
    /// Cell (or pack) voltage in millivolts.
    public var millivolts: Int
    /// State of charge in percent, 0-100.
    public var percent: Double
    /// Charge or discharge rate in percent per hour (negative: discharging).
    public var ratePercentPerHour: Double?
    /// Average current in milliamperes (negative: discharging).
    public var averageMilliamps: Int?
    /// Remaining capacity in milliampere-hours.
    public var remainingMilliampHours: Int?
    /// Full-charge capacity in milliampere-hours.
    public var fullMilliampHours: Int?
    /// State of health in percent.
    public var healthPercent: Int?
    /// Gauge-specific flags worth showing (`reset`, `voltage low`, `discharging`).
    public var flags: [String]
    /// When it was read.
    public var timestamp: MonotonicInstant

    /// Creates a reading.
    public init(
        millivolts: Int, percent: Double, ratePercentPerHour: Double? = nil, averageMilliamps: Int? = nil,
        remainingMilliampHours: Int? = nil, fullMilliampHours: Int? = nil, healthPercent: Int? = nil,
        flags: [String] = [], timestamp: MonotonicInstant
    ) {
        self.millivolts = millivolts
        self.percent = percent
        self.ratePercentPerHour = ratePercentPerHour
        self.averageMilliamps = averageMilliamps
        self.remainingMilliampHours = remainingMilliampHours
        self.fullMilliampHours = fullMilliampHours
        self.healthPercent = healthPercent
        self.flags = flags
        self.timestamp = timestamp
    }
}

/// A battery gauge. Implausible readings are thrown as `DeviceError.Kind.implausible`, never
/// returned as a battery level.
public protocol BatteryGauge: AnyObject, Sendable {
    /// The gauge's model, for messages (`MAX17048 at 0x36 on /dev/i2c-1`).
    var name: String { get }
    /// Reads the battery now.
    func read() throws(DeviceError) -> BatteryReading
}
