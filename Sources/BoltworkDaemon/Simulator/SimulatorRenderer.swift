import BoltworkLock

/// Draws a ``SimulatorSnapshot`` as the lines of a terminal screen: a pure function, so tests
/// assert on frames and the terminal front end only writes what changed.
///
/// Lines never exceed `width` visible columns (ANSI styles do not count). With `color` off
/// the frame is plain text: a pressed key reads `[5]` instead of being shown inverted.
public struct SimulatorRenderer: Sendable {
    /// The screen's width in columns.
    public var width: Int
    /// The screen's height in lines.
    public var height: Int
    /// Whether to use ANSI colours and styles (off for `NO_COLOR` and in tests).
    public var color: Bool

    /// A renderer for a `width` × `height` screen.
    public init(width: Int = 80, height: Int = 24, color: Bool = false) {
        self.width = max(20, width)
        self.height = max(8, height)
        self.color = color
    }

    /// The screen as lines, top to bottom (at most ``height``).
    public func render(_ snapshot: SimulatorSnapshot) -> [String] {
        var lines: [String] = []
        let title = style(" Boltwork simulator · \(snapshot.boardName)", .bold)
        let clock = snapshot.time + " "
        lines.append(pad(title, to: width - clock.count) + clock)
        lines.append("")
        let body = snapshot.phase == .running ? runningPanel(snapshot) : setupPanel(snapshot)
        lines += sideBySide(keypad(snapshot), body)
        lines.append("")
        if let message = snapshot.message {
            lines.append(" " + style("» " + message, .yellow))
        } else {
            lines.append("")
        }

        var footer: [String] = [" " + String(repeating: "─", count: max(0, width - 2))]
        switch snapshot.phase {
        case .name: footer += wrap(["type the name", "Enter confirm", "Ctrl-C quit"])
        case .code, .confirm: footer += wrap(["keypad 0-9 # * (digits, then #; * starts again)", "q quit"])
        case .running: footer += wrap(SimulatorInput.help)
        }
        if let socket = snapshot.socketPath { footer.append(" control socket: \(socket)") }

        if snapshot.phase == .running {
            let room = height - lines.count - footer.count - 1
            if room > 0 {
                lines.append(style(" Audit log", .bold))
                let shown = snapshot.events.suffix(room - 1)
                lines += shown.map { "  " + $0 }
            }
        }
        let space = height - footer.count
        if lines.count > space { lines.removeLast(lines.count - space) }
        while lines.count < space { lines.append("") }
        lines += footer
        return lines.prefix(height).map { fit($0, width) }
    }

    // MARK: Parts

    /// The keypad drawn as a grid of boxes, the pressed keys highlighted.
    func keypad(_ snapshot: SimulatorSnapshot) -> [String] {
        let columns = snapshot.keyMap.map(\.count).max() ?? 0
        guard columns > 0 else { return [] }
        func rule(_ left: String, _ middle: String, _ right: String) -> String {
            "  " + left + Array(repeating: "───", count: columns).joined(separator: middle) + right
        }
        var lines = [rule("┌", "┬", "┐")]
        for (index, row) in snapshot.keyMap.enumerated() {
            let cells = row.map { key -> String in
                guard snapshot.pressedKeys.contains(key) else { return " \(key) " }
                return color ? style(" \(key) ", .inverse, .bold) : "[\(key)]"
            }
            lines.append("  │" + cells.joined(separator: "│") + "│")
            lines.append(index == snapshot.keyMap.count - 1 ? rule("└", "┴", "┘") : rule("├", "┼", "┤"))
        }
        return lines
    }

    private func runningPanel(_ snapshot: SimulatorSnapshot) -> [String] {
        var lines: [String] = []
        func row(_ label: String, _ value: String) {
            lines.append(pad(style(label, .bold), to: 9) + value)
        }
        row("Bolt", boltState(snapshot.bolt))
        lines.append(String(repeating: " ", count: 9) + boltBar(snapshot))
        if let open = snapshot.doorOpen {
            row("Door", open ? style("open", .yellow) : "closed")
        }
        row("Battery", battery(snapshot))
        if let mode = snapshot.mode { row("Mode", "\(mode.rawValue) (\(Self.meaning(of: mode)))") }
        row("Codes", codes(snapshot))
        var motor = [snapshot.motor, snapshot.motorPowered ? "power on" : style("power cut", .red)]
        motor.append(
            snapshot.jamAt.map { style("obstacle at \(Int($0.rounded())) %", .red) } ?? "no obstacle")
        row("Motor", motor.joined(separator: " · "))
        var feedback: [String] = []
        if let on = snapshot.buzzerOn { feedback.append("buzzer \(lamp(on, .yellow))") }
        if let on = snapshot.ledOn { feedback.append("LED \(lamp(on, .green))") }
        if let last = snapshot.lastFeedback { feedback.append("last: \(last)") }
        if !feedback.isEmpty { row("Sound", feedback.joined(separator: "  ")) }
        return lines
    }

    private func setupPanel(_ snapshot: SimulatorSnapshot) -> [String] {
        let bounds = snapshot.codeLengths
        var lines = [
            style("First-time setup: the admin code", .bold),
            "A real lock ships with no default code: until an",
            "admin code is set, the keypad opens nothing (on a",
            "board, `boltd init` sets it). A code has \(bounds.minimum) to \(bounds.maximum)",
            "digits; the admin uses it to open and to manage users.",
            "",
        ]
        switch snapshot.phase {
        case .name:
            lines += [
                style("Step 1 of 3", .bold) + ": the admin's name",
                "Name: " + snapshot.adminName + (color ? style(" ", .inverse) : "_"),
                "Type it on your keyboard, then Enter",
                "(empty: admin).",
            ]
        case .code:
            lines += [
                style("Step 2 of 3", .bold) + ": the new code, on the keypad",
                "Code: " + dots(snapshot.enteredDigits),
                "Type \(bounds.minimum) to \(bounds.maximum) digits, then # (* clears).",
                "Avoid 123456 and birthdays.",
            ]
        case .confirm:
            lines += [
                style("Step 3 of 3", .bold) + ": the same code again",
                "Code: " + dots(snapshot.enteredDigits),
                "Type it again, then #.",
            ]
        case .running:
            break
        }
        return lines
    }

    private func boltState(_ state: BoltState?) -> String {
        guard let state else { return "not started" }
        switch state {
        case .locked: return style("locked", .bold, .green)
        case .unlocked: return style("unlocked", .bold, .yellow)
        case .locking, .unlocking: return style("\(state)…", .bold, .cyan)
        case .unknown: return style("unknown", .bold, .red)
        case .jammed, .notFullyLocked: return style("\(state)", .bold, .red)
        }
    }

    /// `retracted ○ [████████░░░░░░░░] ○ extended   50 %`: the true position and the end switches
    /// (● closed).
    private func boltBar(_ snapshot: SimulatorSnapshot) -> String {
        let cells = 16
        let percent = min(100, max(0, snapshot.boltPercent))
        let filled = Int((percent / 100 * Double(cells)).rounded())
        var bar = String(repeating: "█", count: filled) + String(repeating: "░", count: cells - filled)
        if let jam = snapshot.jamAt {
            let index = min(cells - 1, max(0, Int((jam / 100 * Double(cells)).rounded(.down))))
            var characters = Array(bar)
            characters[index] = "╳"
            bar = String(characters)
        }
        func end(_ closed: Bool) -> String { closed ? style("●", .green) : "○" }
        let left = snapshot.retractedSwitchClosed.map { "retracted " + end($0) + " " } ?? ""
        let right = snapshot.extendedSwitchClosed.map { " " + end($0) + " extended" } ?? ""
        let number = String(Int(percent.rounded()))
        return left + "[" + bar + "]" + right + "  " + String(repeating: " ", count: 3 - number.count)
            + number
            + " %"
    }

    private func battery(_ snapshot: SimulatorSnapshot) -> String {
        if let fault = snapshot.gaugeFault { return style("gauge fault: \(fault)", .red) }
        guard let reading = snapshot.battery else { return "no reading yet" }
        var text = "\(Int(reading.percent.rounded())) % · \(reading.millivolts) mV"
        if let level = snapshot.batteryLevel {
            text += " · " + (level == .normal ? level.rawValue : style(level.rawValue, .red))
        }
        return text
    }

    private func codes(_ snapshot: SimulatorSnapshot) -> String {
        if snapshot.keypadDisabled {
            return style("keypad disabled until an admin resets the lockout", .red)
        }
        var text = snapshot.wrongCodes == 0 ? "no wrong codes" : "\(snapshot.wrongCodes) wrong in a row"
        if let seconds = snapshot.lockoutSeconds {
            text += " · " + style("locked out: \(Self.minutesAndSeconds(seconds)) left", .red)
        }
        return text
    }

    static func minutesAndSeconds(_ seconds: Int) -> String {
        guard seconds >= 60 else { return "\(seconds) s" }
        let rest = String(seconds % 60)
        return "\(seconds / 60):\(rest.count < 2 ? "0" + rest : rest) min"
    }

    static func meaning(of mode: OperatingMode) -> String {
        switch mode {
        case .normal: "every valid code opens"
        case .vacation: "only admin and emergency codes"
        case .privacy: "no entry from outside"
        case .passage: "stays unlocked"
        }
    }

    private func lamp(_ on: Bool, _ tint: Style) -> String {
        on ? style("● on", tint, .bold) : "○ off"
    }

    private func dots(_ count: Int) -> String {
        count == 0 ? "(none yet)" : String(repeating: "●", count: count)
    }

    // MARK: Layout

    private func sideBySide(_ left: [String], _ right: [String]) -> [String] {
        let leftWidth = (left.map(Self.visibleWidth).max() ?? 0) + 3
        return (0..<max(left.count, right.count)).map { index in
            let l = index < left.count ? left[index] : ""
            let r = index < right.count ? right[index] : ""
            return r.isEmpty ? l : pad(l, to: leftWidth) + r
        }
    }

    /// `items` on as few lines as fit the width, two spaces apart.
    private func wrap(_ items: [String]) -> [String] {
        var lines: [String] = []
        var line = ""
        for item in items {
            if !line.isEmpty && line.count + 2 + item.count > width - 1 {
                lines.append(" " + line)
                line = ""
            }
            line += (line.isEmpty ? "" : "  ") + item
        }
        if !line.isEmpty { lines.append(" " + line) }
        return lines
    }

    private func pad(_ text: String, to columns: Int) -> String {
        let visible = Self.visibleWidth(text)
        return visible >= columns ? text : text + String(repeating: " ", count: columns - visible)
    }

    /// `text` cut to `columns` visible columns, styles kept and closed.
    private func fit(_ text: String, _ columns: Int) -> String {
        var out = ""
        var visible = 0
        var inEscape = false
        var cut = false
        for character in text {
            if inEscape {
                out.append(character)
                if character.isLetter { inEscape = false }
                continue
            }
            if character == "\u{1B}" {
                inEscape = true
                out.append(character)
                continue
            }
            guard visible < columns else {
                cut = true
                break
            }
            out.append(character)
            visible += 1
        }
        if cut && color { out += "\u{1B}[0m" }
        return out
    }

    /// Visible columns of `text`: ANSI escape sequences take none, every other character one.
    public static func visibleWidth(_ text: String) -> Int {
        var count = 0
        var inEscape = false
        for character in text {
            if inEscape {
                if character.isLetter { inEscape = false }
            } else if character == "\u{1B}" {
                inEscape = true
            } else {
                count += 1
            }
        }
        return count
    }

    enum Style: String {
        case bold = "1"
        case inverse = "7"
        case red = "31"
        case green = "32"
        case yellow = "33"
        case cyan = "36"
    }

    private func style(_ text: String, _ styles: Style...) -> String {
        guard color, !styles.isEmpty else { return text }
        return "\u{1B}[" + styles.map(\.rawValue).joined(separator: ";") + "m" + text + "\u{1B}[0m"
    }
}
