/// What a person does in the interactive simulator: press a key on the simulated keypad, act
/// on the world around the lock, or type the admin's name during the first-time setup.
public enum SimulatorAction: Sendable, Hashable {
    /// Presses a keypad key (digits, `#`, `*`) with a realistic hold, after any key still
    /// queued.
    case press(Character)
    /// Opens the door if it is closed, closes it if it is open.
    case toggleDoor
    /// Puts an obstacle just ahead of the bolt: it stops there on its next move (or at once,
    /// if it is moving).
    case jam
    /// Removes the obstacle.
    case freeJam
    /// Turns the bolt by hand (key or thumb-turn) towards the other end.
    case turnByHand
    /// Drains the battery by 10 percentage points.
    case drainBattery
    /// Charges the battery by 10 percentage points.
    case chargeBattery
    /// Cuts the motor's power, or restores it.
    case toggleMotorPower
    /// Presses the lock button on the inside.
    case insideButton
    /// A trusted remote unlock (as over the control socket without a code).
    case remoteUnlock
    /// Switches to the next operating mode (normal, vacation, privacy, passage).
    case cycleMode
    /// Setup: a character of the admin's name.
    case text(Character)
    /// Setup: deletes the last character of the name.
    case deleteBackward
    /// Setup: confirms the name.
    case submitName
    /// Redraws the whole screen.
    case redraw
    /// Leaves the simulator.
    case quit
}

/// Turns the bytes a terminal in raw mode sends into ``SimulatorAction``s: the input mapper,
/// kept apart from the terminal so it can be tested. Escape sequences (arrow and function
/// keys) are recognised and ignored as a whole, so their letters never act on the world.
public struct SimulatorInput: Sendable {
    private enum Escape: Sendable {
        case none
        /// ESC seen.
        case started
        /// ESC [ or ESC O seen: parameters until a final byte.
        case sequence
    }

    private var escape = Escape.none

    /// Creates a mapper with no escape sequence in progress.
    public init() {}

    /// The keys, as the view's help lists them (it wraps them to the screen's width).
    public static let help = [
        "keypad 0-9 # *", "l lock (inside)", "u unlock (remote)", "d door", "j jam", "f free",
        "h turn by hand", "b battery -10 %", "c +10 %", "p motor power", "m mode", "Ctrl-L redraw", "q quit",
    ]

    /// Maps one byte. `editingName` is true while the setup asks for the admin's name: then
    /// printable characters are text, Backspace deletes and Enter confirms.
    public mutating func action(for byte: UInt8, editingName: Bool) -> SimulatorAction? {
        switch escape {
        case .started:
            escape = byte == UInt8(ascii: "[") || byte == UInt8(ascii: "O") ? .sequence : .none
            return nil
        case .sequence:
            // Parameters and intermediates are 0x20-0x3F; a final byte (0x40-0x7E) ends it.
            if (0x40...0x7E).contains(byte) { escape = .none }
            return nil
        case .none:
            break
        }
        switch byte {
        case 0x1B:
            escape = .started
            return nil
        case 0x03, 0x04: return .quit  // Ctrl-C, Ctrl-D
        case 0x0C: return .redraw  // Ctrl-L
        default: break
        }
        if editingName {
            switch byte {
            case 0x0D, 0x0A: return .submitName
            case 0x7F, 0x08: return .deleteBackward
            case 0x20...0x7E: return .text(Character(Unicode.Scalar(byte)))
            default: return nil
            }
        }
        let character = Character(Unicode.Scalar(byte))
        switch character {
        case "0"..."9", "#", "*": return .press(character)
        case "d", "D": return .toggleDoor
        case "j", "J": return .jam
        case "f", "F": return .freeJam
        case "h", "H": return .turnByHand
        case "b", "B": return .drainBattery
        case "c", "C": return .chargeBattery
        case "p", "P": return .toggleMotorPower
        case "l", "L": return .insideButton
        case "u", "U": return .remoteUnlock
        case "m", "M": return .cycleMode
        case "q", "Q": return .quit
        default: return nil
        }
    }

    /// Maps several bytes in order.
    public mutating func actions(for bytes: some Sequence<UInt8>, editingName: Bool) -> [SimulatorAction] {
        bytes.compactMap { action(for: $0, editingName: editingName) }
    }
}
