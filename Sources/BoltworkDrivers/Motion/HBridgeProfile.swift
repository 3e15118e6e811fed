import BoltworkHAL

/// What an H-bridge does with its motor outputs.
public enum BridgeState: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Current flows one way (OUT1 high, OUT2 low).
    case forward
    /// Current flows the other way (OUT1 low, OUT2 high).
    case reverse
    /// Both outputs low: the motor windings are shorted and the motor stops fast.
    case brake
    /// Outputs high impedance: the motor spins down freely and can be turned by hand.
    case coast
    /// The chip is asleep or disabled (outputs high impedance, lowest supply current).
    case standby

    /// Whether the bridge drives the motor.
    public var isDriving: Bool { self == .forward || self == .reverse }

    /// `forward`, `reverse`, `brake`, `coast` or `standby`.
    public var description: String {
        switch self {
        case .forward: "forward"
        case .reverse: "reverse"
        case .brake: "brake"
        case .coast: "coast"
        case .standby: "standby"
        }
    }
}

/// The direction the motor turns when driven, before the board's wiring says which one extends
/// the bolt.
public enum MotorDirection: Sendable, Hashable, CustomStringConvertible {
    /// The bridge's forward state.
    case forward
    /// The bridge's reverse state.
    case reverse

    /// The other direction.
    public var opposite: MotorDirection { self == .forward ? .reverse : .forward }

    /// The bridge state that drives this direction.
    public var bridgeState: BridgeState { self == .forward ? .forward : .reverse }

    /// `forward` or `reverse`.
    public var description: String { self == .forward ? "forward" : "reverse" }
}

/// The role of one control input of an H-bridge chip.
public enum BridgePin: Sendable, Hashable, CustomStringConvertible {
    /// IN1 (AIN1 on the TB6612FNG).
    case in1
    /// IN2 (AIN2 on the TB6612FNG).
    case in2
    /// PWM (PWMA on the TB6612FNG), held high for full speed.
    case pwm
    /// EN (ENA on the L298N).
    case enable
    /// STBY on the TB6612FNG (low = standby).
    case standby
    /// nSLEEP on the DRV8833 (low = sleep).
    case sleep

    /// The datasheet name.
    public var description: String {
        switch self {
        case .in1: "IN1"
        case .in2: "IN2"
        case .pwm: "PWM"
        case .enable: "EN"
        case .standby: "STBY"
        case .sleep: "nSLEEP"
        }
    }
}

/// A motor-driver chip: its control pins in request order, the pin levels of each bridge state
/// (the datasheet truth table, written once as data) and the state it rests in.
///
/// The levels are physical levels on the chip's inputs; the driver requests its lines
/// active-high, so an active line is a high pin.
public struct HBridgeProfile: Sendable, Hashable, CustomStringConvertible {
    /// The chip's name (`DRV8833`).
    public var name: String
    /// The control pins, in the order their lines are requested.
    public var pins: [BridgePin]
    /// The pin levels of each state the chip supports, one per pin in ``pins`` order. A state
    /// missing from the table cannot be produced with this wiring (standby on a DRV8833 whose
    /// nSLEEP is tied high).
    public var truthTable: [BridgeState: [PinLevel]]
    /// The state the motor rests in: at start, on stop, on a fault and on shutdown. Brake or
    /// coast; the profiles explain their choice.
    public var safeState: BridgeState

    /// Creates a profile; the built-in ones below cover the common breakout boards.
    public init(
        name: String, pins: [BridgePin], truthTable: [BridgeState: [PinLevel]], safeState: BridgeState
    ) {
        self.name = name
        self.pins = pins
        self.truthTable = truthTable
        self.safeState = safeState
    }

    /// The chip's name.
    public var description: String { name }

    /// The pin levels of `state`, or `nil` when this wiring cannot produce it.
    public func levels(for state: BridgeState) -> [PinLevel]? { truthTable[state] }

    /// DRV8833, one bridge: IN1/IN2 (and nSLEEP when wired to a GPIO; otherwise tie it high).
    ///
    /// Truth table (TI datasheet, table "H-bridge logic"): 0/0 coast, 1/0 forward, 0/1 reverse,
    /// 1/1 brake; nSLEEP low sleeps. Safe state: **coast**. The DRV8833 has internal pull-downs
    /// on IN1/IN2, so a released line (the program exits or crashes) also leaves it coasting:
    /// the resting state and the crash state are the same, and a geared motor with shorted
    /// windings would make turning the key or thumb-turn by hand heavy.
    public static func drv8833(withSleepLine: Bool = false) -> HBridgeProfile {
        let h = PinLevel.high
        let l = PinLevel.low
        if withSleepLine {
            return HBridgeProfile(
                name: "DRV8833", pins: [.in1, .in2, .sleep],
                truthTable: [
                    .forward: [h, l, h], .reverse: [l, h, h], .brake: [h, h, h], .coast: [l, l, h],
                    .standby: [l, l, l],
                ], safeState: .coast)
        }
        return HBridgeProfile(
            name: "DRV8833", pins: [.in1, .in2],
            truthTable: [.forward: [h, l], .reverse: [l, h], .brake: [h, h], .coast: [l, l]],
            safeState: .coast)
    }

    /// TB6612FNG, one channel: IN1, IN2, PWM, STBY (all with internal pull-downs).
    ///
    /// Truth table (Toshiba datasheet): H/H short brake; H/L with PWM high forward (CW); L/H with
    /// PWM high reverse (CCW); PWM low short brake; L/L with PWM high stop (high impedance);
    /// STBY low standby. PWM is held high for full speed. Safe state: **coast** (L/L, PWM and
    /// STBY high). Its pull-downs put a released chip in standby, which also leaves the outputs
    /// high impedance, so resting and crashing both let the bolt be turned by hand.
    public static let tb6612fng: HBridgeProfile = {
        let h = PinLevel.high
        let l = PinLevel.low
        return HBridgeProfile(
            name: "TB6612FNG", pins: [.in1, .in2, .pwm, .standby],
            truthTable: [
                .forward: [h, l, h, h], .reverse: [l, h, h, h], .brake: [h, h, h, h], .coast: [l, l, h, h],
                .standby: [l, l, l, l],
            ], safeState: .coast)
    }()

    /// L298N, one bridge: IN1, IN2, EN.
    ///
    /// Truth table (ST datasheet): EN low is a free-running stop whatever IN says; with EN high,
    /// IN1 != IN2 drives and IN1 = IN2 brakes (fast stop). Safe state: **brake** with IN1 = IN2 =
    /// low and EN high. Most L298N modules ship with a jumper that ties EN high; with it fitted,
    /// EN writes do nothing and coasting through EN is impossible, while IN1 = IN2 = low stops
    /// the motor with or without the jumper. The L298N inputs have no pull resistors: fit
    /// pull-downs on IN1/IN2 so a released line also brakes.
    public static let l298n: HBridgeProfile = {
        let h = PinLevel.high
        let l = PinLevel.low
        return HBridgeProfile(
            name: "L298N", pins: [.in1, .in2, .enable],
            truthTable: [
                .forward: [h, l, h], .reverse: [l, h, h], .brake: [l, l, h], .coast: [l, l, l],
            ], safeState: .brake)
    }()
}
