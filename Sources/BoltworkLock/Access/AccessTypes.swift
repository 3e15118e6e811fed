import Foundation

/// Who performs an administrative operation.
public enum AdminActor: Sendable, Hashable {
    /// Someone with root on the lock itself (the `boltd` command line): always permitted.
    case installer
    /// A stored user; permitted only while an enabled admin.
    case user(UserID)
    /// A system account the daemon's control socket admitted (its file permissions decide, as
    /// for the installer): always permitted, and named in the audit log by account and uid.
    case account(name: String, uid: UInt32)
}

/// Why a code did not open the lock.
public struct AccessRefusal: Sendable, Hashable {
    /// The refusal's audit action (``AuditAction/invalidCode``, ``AuditAction/lockedOut``...).
    public var reason: AuditAction
    /// The user whose code it was, when it matched one.
    public var user: User?
    /// What a person should know (how long the lockout lasts, how to set an admin code).
    /// Never the code.
    public var detail: String
    /// For ``AuditAction/lockedOut`` with a timed lockout: how long until codes are checked
    /// again.
    public var retryAfter: Duration?

    /// Creates a refusal.
    public init(reason: AuditAction, user: User? = nil, detail: String, retryAfter: Duration? = nil) {
        self.reason = reason
        self.user = user
        self.detail = detail
        self.retryAfter = retryAfter
    }
}

/// The access layer's answer to a code. It does not move the bolt: the controller above acts on
/// it (and in passage mode keeps the bolt unlocked whatever the answer).
public enum AccessDecision: Sendable, Hashable {
    /// The code is valid now. With `duress`, open as usual: the silent ``AuditAction/duress``
    /// alarm has already been recorded.
    case granted(User, duress: Bool)
    /// The code does not open the lock now.
    case refused(AccessRefusal)

    /// Whether the code opens the lock.
    public var isGranted: Bool {
        if case .granted = self { return true }
        return false
    }

    /// The refusal, if refused.
    public var refusal: AccessRefusal? {
        if case .refused(let refusal) = self { return refusal }
        return nil
    }
}

/// The access layer's settings.
public struct AccessConfiguration: Sendable, Hashable {
    /// Allowed code lengths (default 6 to 10 digits).
    public var pinLengths: PINHasher.LengthBounds
    /// scrypt parameters (default ``PINHasher/Parameters/standard``).
    public var hashing: PINHasher.Parameters
    /// Wrong codes in a row that start a timed lockout; every further multiple starts another.
    public var lockoutThreshold: Int
    /// The first timed lockout; each next one doubles, up to ``lockoutCap``.
    public var firstLockout: Duration
    /// The longest timed lockout.
    public var lockoutCap: Duration
    /// Wrong codes in a row after which the keypad refuses every code until an admin resets it.
    public var keypadDisableThreshold: Int
    /// The time zone schedules are read in.
    public var timeZone: TimeZone

    /// Creates settings; the defaults are 6-10 digits, a 30 s lockout after 5 wrong codes that
    /// doubles up to 1 h, the keypad disabled after 100, and the system's time zone.
    public init(
        pinLengths: PINHasher.LengthBounds = PINHasher.LengthBounds(),
        hashing: PINHasher.Parameters = .standard,
        lockoutThreshold: Int = 5, firstLockout: Duration = .seconds(30),
        lockoutCap: Duration = .seconds(3600),
        keypadDisableThreshold: Int = 100, timeZone: TimeZone = .current
    ) {
        self.pinLengths = pinLengths
        self.hashing = hashing
        self.lockoutThreshold = lockoutThreshold
        self.firstLockout = firstLockout
        self.lockoutCap = lockoutCap
        self.keypadDisableThreshold = keypadDisableThreshold
        self.timeZone = timeZone
    }

    /// The length of the `count`th timed lockout (1-based): the first lockout doubled
    /// `count - 1` times, at most the cap.
    public func lockoutDuration(number count: Int) -> Duration {
        var duration = firstLockout
        var doublings = count - 1
        while doublings > 0 && duration < lockoutCap {
            duration = duration * 2
            doublings -= 1
        }
        return min(duration, lockoutCap)
    }

    func validate() throws(AccessError) {
        guard lockoutThreshold >= 1, keypadDisableThreshold >= lockoutThreshold else {
            throw AccessError(
                .invalidSetting,
                "the lockout threshold (\(lockoutThreshold)) must be ≥ 1 and at most the keypad-disable "
                    + "threshold (\(keypadDisableThreshold))")
        }
        guard firstLockout > .zero, lockoutCap >= firstLockout else {
            throw AccessError(.invalidSetting, "the first lockout must be positive and at most the cap")
        }
    }
}
