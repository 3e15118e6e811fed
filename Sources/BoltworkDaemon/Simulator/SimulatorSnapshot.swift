import BoltworkDrivers
import BoltworkLock

/// Everything the interactive simulator's view shows, read at one instant: the input of the
/// pure ``SimulatorRenderer``.
public struct SimulatorSnapshot: Sendable, Hashable {
    /// The board's name.
    public var boardName: String
    /// The wall time, `HH:MM:SS`.
    public var time: String
    /// The keypad's key map, rows × columns.
    public var keyMap: [[Character]]
    /// The keys held down now.
    public var pressedKeys: Set<Character>
    /// Setup or running.
    public var phase: SimulatorSession.Phase

    /// Setup: the admin's name typed so far.
    public var adminName = ""
    /// Setup: how many digits of the code are entered.
    public var enteredDigits = 0
    /// The code length bounds.
    public var codeLengths = PINHasher.LengthBounds(minimum: 6, maximum: 10)
    /// The latest message for the person at the terminal.
    public var message: String?
    /// The audit log as it is recorded, oldest first.
    public var events: [String] = []

    /// The bolt's true position, 0 (retracted) to 100 % (extended).
    public var boltPercent: Double = 0
    /// Whether the retracted-end switch is closed (nil: none fitted).
    public var retractedSwitchClosed: Bool?
    /// Whether the extended-end switch is closed (nil: none fitted).
    public var extendedSwitchClosed: Bool?
    /// Whether the door is open (nil: no contact).
    public var doorOpen: Bool?
    /// What the motor bridge does (forward, reverse, brake, coast, standby).
    public var motor = "coast"
    /// Whether the motor has power.
    public var motorPowered = true
    /// Where an obstacle blocks the bolt, if anywhere.
    public var jamAt: Double?
    /// Whether the buzzer sounds (nil: none fitted).
    public var buzzerOn: Bool?
    /// Whether the status LED is lit (nil: none fitted).
    public var ledOn: Bool?
    /// The last pattern the buzzer played.
    public var lastFeedback: String?
    /// The cell's true state of charge, in percent.
    public var cellPercent: Double = 0

    /// What the controller believes about the bolt (nil before the lock starts).
    public var bolt: BoltState?
    /// The gauge's latest reading.
    public var battery: BatteryReading?
    /// The battery level per the policy.
    public var batteryLevel: BatteryLevel?
    /// The gauge's fault, if any.
    public var gaugeFault: String?
    /// The operating mode.
    public var mode: OperatingMode?
    /// Wrong codes in a row.
    public var wrongCodes = 0
    /// Whether the keypad is disabled until an admin resets the lockout.
    public var keypadDisabled = false
    /// Seconds left in a timed lockout, if one runs.
    public var lockoutSeconds: Int?
    /// The control socket, when the simulator serves one.
    public var socketPath: String?

    /// A snapshot with the required parts; the rest takes the defaults.
    public init(
        boardName: String, time: String, keyMap: [[Character]], pressedKeys: Set<Character>,
        phase: SimulatorSession.Phase
    ) {
        self.boardName = boardName
        self.time = time
        self.keyMap = keyMap
        self.pressedKeys = pressedKeys
        self.phase = phase
    }
}
