import BoltworkBoard
import BoltworkLock

/// What the wiring self-test measured on this lock, kept in the store's settings: the bolt's
/// throw time in each direction (which the jam detection and `boltctl doctor` use) and, for an
/// AS5600 bolt sensor, the raw angles at the two ends.
///
/// The settings keys are part of the store's format: `calibration.lockThrowMilliseconds`,
/// `calibration.unlockThrowMilliseconds` (whole milliseconds) and
/// `calibration.as5600.lockedAngle`, `calibration.as5600.unlockedAngle` (raw 0-4095).
public struct BoltCalibration: Sendable, Hashable {
    /// The settings key of the lock (extend) throw time, in whole milliseconds.
    public static let lockThrowKey = "calibration.lockThrowMilliseconds"
    /// The settings key of the unlock (retract) throw time, in whole milliseconds.
    public static let unlockThrowKey = "calibration.unlockThrowMilliseconds"
    /// The settings key of the AS5600's raw angle with the bolt extended (locked).
    public static let lockedAngleKey = "calibration.as5600.lockedAngle"
    /// The settings key of the AS5600's raw angle with the bolt retracted (unlocked).
    public static let unlockedAngleKey = "calibration.as5600.unlockedAngle"
    /// The bolt move timeout is at least this many times the slowest measured throw.
    public static let moveTimeoutFactor = 2
    /// The longest throw time accepted from the store, in milliseconds.
    public static let maximumThrowMilliseconds = 60_000

    /// Time to throw the bolt (retracted to extended), in milliseconds.
    public var lockThrowMilliseconds: Int?
    /// Time to pull the bolt back (extended to retracted), in milliseconds.
    public var unlockThrowMilliseconds: Int?
    /// The AS5600's raw angle with the bolt extended.
    public var lockedAngle: Int?
    /// The AS5600's raw angle with the bolt retracted.
    public var unlockedAngle: Int?
    /// Stored values that could not be used, each naming its key and the fix.
    public var ignored: [String]

    /// Creates a calibration; every value is optional.
    public init(
        lockThrowMilliseconds: Int? = nil, unlockThrowMilliseconds: Int? = nil, lockedAngle: Int? = nil,
        unlockedAngle: Int? = nil
    ) {
        self.lockThrowMilliseconds = lockThrowMilliseconds
        self.unlockThrowMilliseconds = unlockThrowMilliseconds
        self.lockedAngle = lockedAngle
        self.unlockedAngle = unlockedAngle
        self.ignored = []
    }

    /// Reads the calibration from `store`. A missing key is nil; a value that is not a whole
    /// number in range is nil too and listed in ``ignored``.
    public static func load(from store: any LockStore) throws(StoreError) -> BoltCalibration {
        var calibration = BoltCalibration()
        func value(_ key: String, _ range: ClosedRange<Int>) throws(StoreError) -> Int? {
            guard let text = try store.setting(key) else { return nil }
            guard let number = Int(text), range.contains(number) else {
                calibration.ignored.append(
                    "setting \(key) is '\(text)', not a whole number from \(range.lowerBound) to "
                        + "\(range.upperBound): run `boltd selftest` again to measure it")
                return nil
            }
            return number
        }
        calibration.lockThrowMilliseconds = try value(lockThrowKey, 1...maximumThrowMilliseconds)
        calibration.unlockThrowMilliseconds = try value(unlockThrowKey, 1...maximumThrowMilliseconds)
        calibration.lockedAngle = try value(lockedAngleKey, 0...4095)
        calibration.unlockedAngle = try value(unlockedAngleKey, 0...4095)
        return calibration
    }

    /// The values as settings (key → decimal text), only those that are set.
    public var settings: [String: String] {
        var settings: [String: String] = [:]
        if let lockThrowMilliseconds { settings[Self.lockThrowKey] = String(lockThrowMilliseconds) }
        if let unlockThrowMilliseconds { settings[Self.unlockThrowKey] = String(unlockThrowMilliseconds) }
        if let lockedAngle { settings[Self.lockedAngleKey] = String(lockedAngle) }
        if let unlockedAngle { settings[Self.unlockedAngleKey] = String(unlockedAngle) }
        return settings
    }

    /// The slower of the two throw times, when any is known.
    public var slowestThrowMilliseconds: Int? {
        [lockThrowMilliseconds, unlockThrowMilliseconds].compactMap { $0 }.max()
    }

    /// The bolt move timeout for `config`: the file's `move-timeout-ms` when it sets one;
    /// otherwise the larger of its default (the floor) and ``moveTimeoutFactor`` times the
    /// slowest measured throw, at most 60 s.
    public func moveTimeoutMilliseconds(for config: LockConfigFile) -> Int {
        guard !config.moveTimeoutIsExplicit, let slowest = slowestThrowMilliseconds else {
            return config.moveTimeoutMilliseconds
        }
        return min(60_000, max(config.moveTimeoutMilliseconds, slowest * Self.moveTimeoutFactor))
    }

    /// A short description for logs: `lock throw 1480 ms, unlock throw 1490 ms, AS5600 ends
    /// 1100/2300`.
    public var summary: String {
        var parts: [String] = []
        if let lockThrowMilliseconds { parts.append("lock throw \(lockThrowMilliseconds) ms") }
        if let unlockThrowMilliseconds { parts.append("unlock throw \(unlockThrowMilliseconds) ms") }
        if let unlockedAngle, let lockedAngle {
            parts.append("AS5600 unlocked angle \(unlockedAngle), locked angle \(lockedAngle)")
        }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }
}

extension LockConfigFile {
    /// This policy with the bolt move timeout from `calibration` (see
    /// ``BoltCalibration/moveTimeoutMilliseconds(for:)``).
    public func applying(_ calibration: BoltCalibration) -> LockConfigFile {
        var config = self
        config.moveTimeoutMilliseconds = calibration.moveTimeoutMilliseconds(for: self)
        return config
    }
}

extension BoardFile {
    /// This board with the AS5600's end angles taken from `calibration` where the file gives
    /// none; angles in the file win.
    public func applying(_ calibration: BoltCalibration) -> BoardFile {
        guard case .as5600(let bus, let address, let retracted, let extended) = bolt else { return self }
        var board = self
        board.bolt = .as5600(
            bus: bus, address: address, retractedAngle: retracted ?? calibration.unlockedAngle,
            extendedAngle: extended ?? calibration.lockedAngle)
        return board
    }
}
