import BoltworkDrivers
import Foundation
import Synchronization

/// Decides who gets in: checks codes from the keypad and from remote channels against the
/// users in a ``LockStore``, enforces schedules, user kinds, operating modes and the wrong-code
/// lockout, and performs the administrative operations on users, modes and the lockout.
///
/// It never moves the bolt: ``authorize(_:source:)`` returns an ``AccessDecision`` that the
/// controller above acts on. Every decision and every administrative operation is committed
/// to the store as ONE ``StoreChange`` (audit events together with the lockout state and user
/// updates) before it returns, so a decision that was returned has been recorded, and a
/// lockout survives a restart or a power cut: the store is the only state, and a new
/// controller on the same store carries on where the old one stopped. If the store fails, the
/// call throws and nothing was committed: treat that as a refusal.
///
/// Codes are never logged, stored or returned; only their slow hash is kept (see
/// ``PINHasher``). One hash is derived per attempt and compared in constant time with every
/// user's stored hash.
///
/// The order of checks for a code:
/// 1. Keypad only: with no enabled admin that has a code, refused ``AuditAction/noAdminCode``
///    (there is no default code; see ``initializeAdmin(name:pin:)``).
/// 2. Privacy mode: refused ``AuditAction/refusedByMode`` (keypad and remote).
/// 3. Lockout: with the keypad disabled (keypad only) or a timed lockout running (any channel),
///    refused ``AuditAction/lockedOut`` without checking the code, so no timing tells a right
///    code from a wrong one.
/// 4. The code: no user has it (or it is not 6-10 digits): refused ``AuditAction/invalidCode``
///    and counted. Every ``AccessConfiguration/lockoutThreshold`` wrong codes in a row start a
///    timed lockout (30 s, doubling up to the cap, ``AuditAction/lockoutStarted``); at
///    ``AccessConfiguration/keypadDisableThreshold`` the keypad refuses everything until
///    ``resetLockout(by:)`` (``AuditAction/keypadDisabled``). The count spans all channels.
/// 5. The user: disabled (``AuditAction/userDisabled``), vacation mode and neither admin nor
///    emergency (``AuditAction/refusedByMode``), outside the schedule, expired, or
///    time-restricted while the wall clock is unsynchronised (``AuditAction/outsideSchedule``).
///    These refusals of a correct code neither count as wrong codes nor reset the count.
/// 6. Granted: the wrong-code count is reset, the use recorded; a disposable user is disabled,
///    an emergency code's ``User/lastTestedAt`` set, a duress code raises the silent
///    ``AuditAction/duress`` alarm. The grant itself writes no operation event: the controller
///    above records ``AuditAction/unlocked`` with the user when the bolt gets there.
///
/// Clock trust: the wall clock may be wrong (no RTC, no network yet). While the injected
/// `clockIsSynchronized` says so, users whose codes depend on the time (schedules or an
/// expiring kind) are refused with ``AuditAction/outsideSchedule`` and a detail that says why;
/// unrestricted users are not affected. Timed lockouts still run on the unsynchronised clock;
/// if it steps back, a running lockout is shortened to its own length (never stretched), and
/// if it steps forward, the lockout ends early but the wrong-code count and its doubling stay.
public final class AccessController: Sendable {
    /// The settings key holding the operating mode.
    public static let modeSettingKey = "access.mode"

    /// What to tell someone who finds the keypad refusing everything for want of an admin code.
    public static let noAdminCodeAdvice =
        "no admin code is set, so the keypad accepts no code: set one on the lock with `boltd init`"

    private let store: any LockStore
    private let wallClock: any WallClock
    private let clockIsSynchronized: @Sendable () -> Bool
    private let gate = Mutex(())
    /// The settings.
    public let configuration: AccessConfiguration
    /// The hasher for this install.
    public let hasher: PINHasher

    /// Creates the access layer over `store`. `clockIsSynchronized` reports whether the wall
    /// clock can be trusted for schedules (see the type's documentation).
    public init(
        store: any LockStore, wallClock: any WallClock,
        configuration: AccessConfiguration = AccessConfiguration(),
        clockIsSynchronized: @escaping @Sendable () -> Bool = { true }
    ) throws(AccessError) {
        try configuration.validate()
        self.store = store
        self.wallClock = wallClock
        self.configuration = configuration
        self.clockIsSynchronized = clockIsSynchronized
        let secret = try Self.storeCall { () throws(StoreError) in try store.installSecret() }
        hasher = try PINHasher(
            installSecret: secret, parameters: configuration.hashing, bounds: configuration.pinLengths)
    }

    // MARK: Decisions

    /// Decides on a code entered on the keypad (or `source`).
    public func authorize(_ entry: PINEntry, source: OperationSource = .keypad) throws(AccessError)
        -> AccessDecision
    {
        try authorize(digits: entry.revealedDigits, source: source)
    }

    /// Decides on a code received through `source` (a remote channel, or the keypad).
    public func authorize(digits: String, source: OperationSource = .remote) throws(AccessError)
        -> AccessDecision
    {
        try serialized { () throws(AccessError) in try decide(digits, source) }
    }

    private func decide(_ digits: String, _ source: OperationSource) throws(AccessError) -> AccessDecision {
        let now = wallClock.now
        let users = try loadUsers()
        let lockout = try Self.storeCall { () throws(StoreError) in try store.lockout() }
        let mode = try loadMode()

        if source == .keypad, !Self.hasAdminCode(users) {
            return try refuse(.noAdminCode, Self.noAdminCodeAdvice, source: source, at: now)
        }
        if mode == .privacy {
            return try refuse(
                .refusedByMode, "privacy mode: no entry from outside until it is turned off from inside",
                source: source, at: now)
        }
        if source == .keypad, lockout.keypadDisabled {
            return try refuse(
                .lockedOut,
                "the keypad is disabled after \(configuration.keypadDisableThreshold) wrong codes in a row; "
                    + "an admin must reset the lockout", source: source, at: now)
        }
        if var until = lockout.lockedUntil, until > now {
            // A lockout is never longer than its own duration: if the wall clock stepped back (an
            // RTC-less board setting its time), the end is pulled in and stored with the refusal.
            var corrected: LockoutState?
            let longest = configuration.lockoutDuration(number: max(lockout.lockoutCount, 1))
            if until.timeIntervalSince(now) > Self.seconds(longest) {
                until = now.addingTimeInterval(Self.seconds(longest))
                corrected = lockout
                corrected?.lockedUntil = until
            }
            let remaining = Self.roundedUp(until.timeIntervalSince(now))
            return try refuse(
                .lockedOut, "too many wrong codes: locked out for another \(Self.describe(remaining))",
                source: source, at: now, retryAfter: remaining, lockout: corrected)
        }

        var valid = true
        do { try hasher.validate(digits) } catch { valid = false }
        var matched: User?
        if valid {
            let hash = try hasher.hash(validated: digits)
            for user in users {
                guard let credential = user.credential else { continue }
                if PINHasher.constantTimeEquals(credential.hash, hash), matched == nil { matched = user }
            }
        }
        guard let user = matched else {
            return try wrongCode(lockout, source: source, at: now)
        }

        if !user.isEnabled {
            return try refuse(
                .userDisabled, "\(user.name)'s code is disabled", user: user, source: source, at: now)
        }
        if mode == .vacation, user.role != .admin, user.kind != .emergency {
            return try refuse(
                .refusedByMode, "vacation mode: only admin and emergency codes open", user: user,
                source: source,
                at: now)
        }
        if user.isTimeRestricted, !clockIsSynchronized() {
            return try refuse(
                .outsideSchedule,
                "the wall clock is not synchronised, so codes limited in time are refused until it is",
                user: user, source: source, at: now)
        }
        if !user.schedulesAdmit(now, in: configuration.timeZone) {
            return try refuse(
                .outsideSchedule, "outside \(user.name)'s schedule", user: user, source: source, at: now)
        }
        if case .expiring(let minutes) = user.kind, let first = user.firstUsedAt,
            now >= first.addingTimeInterval(Double(minutes) * 60)
        {
            return try refuse(
                .outsideSchedule, "\(user.name)'s code expired \(minutes) minutes after its first use",
                user: user, source: source, at: now)
        }
        return try grant(user, lockout: lockout, source: source, at: now)
    }

    private func grant(_ user: User, lockout: LockoutState, source: OperationSource, at now: Date)
        throws(AccessError) -> AccessDecision
    {
        var updated = user
        if updated.firstUsedAt == nil { updated.firstUsedAt = now }
        updated.lastUsedAt = now
        updated.useCount += 1
        var events: [AuditEvent] = []
        switch user.kind {
        case .duress:
            events.append(
                AuditEvent(
                    time: now, action: .duress, source: source, userID: user.id, userName: user.name,
                    detail: "duress code used: silent alarm"))
        case .disposable:
            updated.isEnabled = false
            events.append(
                AuditEvent(
                    time: now, action: .userChanged, source: source, userID: user.id, userName: user.name,
                    detail: "single-use code used: disabled"))
        case .emergency:
            updated.lastTestedAt = now
        case .permanent, .expiring:
            break
        }
        let cleared = LockoutState(keypadDisabled: lockout.keypadDisabled)
        let change = StoreChange(
            events: events, lockout: lockout == cleared ? nil : cleared, users: [updated])
        let stored = try Self.storeCall { () throws(StoreError) in try store.commit(change) }
        return .granted(stored.users.first ?? updated, duress: user.kind == .duress)
    }

    private func wrongCode(_ previous: LockoutState, source: OperationSource, at now: Date)
        throws(AccessError)
        -> AccessDecision
    {
        var lockout = previous
        lockout.consecutiveFailures += 1
        let failures = lockout.consecutiveFailures
        var events = [
            AuditEvent(
                time: now, action: .invalidCode, source: source,
                detail: "wrong code (\(failures) in a row)")
        ]
        var retryAfter: Duration?
        var detail = "wrong code"
        if failures % configuration.lockoutThreshold == 0 {
            lockout.lockoutCount += 1
            let duration = configuration.lockoutDuration(number: lockout.lockoutCount)
            lockout.lockedUntil = now.addingTimeInterval(Self.seconds(duration))
            retryAfter = duration
            detail = "wrong code: locked out for \(Self.describe(duration))"
            events.append(
                AuditEvent(
                    time: now, action: .lockoutStarted, source: source,
                    detail: "locked out for \(Self.describe(duration)) after \(failures) wrong codes in a row"
                ))
        }
        if failures >= configuration.keypadDisableThreshold, !lockout.keypadDisabled {
            lockout.keypadDisabled = true
            detail = "wrong code: the keypad is disabled until an admin resets the lockout"
            events.append(
                AuditEvent(
                    time: now, action: .keypadDisabled, source: source,
                    detail: "keypad disabled after \(failures) wrong codes in a row; an admin must reset it"))
        }
        try Self.storeCall { () throws(StoreError) in
            try store.commit(StoreChange(events: events, lockout: lockout))
        }
        return .refused(AccessRefusal(reason: .invalidCode, detail: detail, retryAfter: retryAfter))
    }

    private func refuse(
        _ reason: AuditAction, _ detail: String, user: User? = nil, source: OperationSource, at now: Date,
        retryAfter: Duration? = nil, lockout: LockoutState? = nil
    ) throws(AccessError) -> AccessDecision {
        let event = AuditEvent(
            time: now, action: reason, source: source, userID: user?.id, userName: user?.name, detail: detail)
        try Self.storeCall { () throws(StoreError) in
            try store.commit(StoreChange(events: [event], lockout: lockout))
        }
        return .refused(AccessRefusal(reason: reason, user: user, detail: detail, retryAfter: retryAfter))
    }

    // MARK: State

    /// The operating mode (normal when none was set).
    public func mode() throws(AccessError) -> OperatingMode { try loadMode() }

    /// The stored lockout state.
    public func lockoutState() throws(AccessError) -> LockoutState {
        try Self.storeCall { () throws(StoreError) in try store.lockout() }
    }

    /// Whether an enabled admin has a code. Without one the keypad refuses every code with
    /// ``AuditAction/noAdminCode``; set one with ``initializeAdmin(name:pin:)``.
    public func hasAdminCode() throws(AccessError) -> Bool { Self.hasAdminCode(try loadUsers()) }

    // MARK: Administration

    /// Creates the first admin with a code (the `boltd init` path). Works only while no enabled
    /// admin has a code; afterwards admins manage users with the other operations.
    @discardableResult
    public func initializeAdmin(name: String, pin: String) throws(AccessError) -> User {
        try serialized { () throws(AccessError) in
            let users = try loadUsers()
            guard !Self.hasAdminCode(users) else {
                throw AccessError(
                    .alreadyInitialized,
                    "an admin code is already set; an admin can add users or change codes")
            }
            let credential = try uniqueCredential(pin, among: users, except: nil)
            let now = wallClock.now
            let user = User(name: name, role: .admin, credential: credential, createdAt: now)
            let stored = try Self.storeCall { () throws(StoreError) in
                try store.commit(
                    StoreChange(
                        events: [
                            AuditEvent(
                                time: now, action: .userAdded, userName: name,
                                detail: "first admin, by the installer"),
                            AuditEvent(
                                time: now, action: .codeSet, userName: name, detail: "by the installer"),
                        ], users: [user]))
            }
            return stored.users.first ?? user
        }
    }

    /// Adds a user, with a code if `pin` is given.
    @discardableResult
    public func addUser(
        name: String, role: UserRole, kind: UserKind = .permanent, schedules: [AccessSchedule] = [],
        pin: String? = nil, by actor: AdminActor
    ) throws(AccessError) -> User {
        try serialized { () throws(AccessError) in
            let users = try loadUsers()
            let actorName = try authorizeAdmin(actor, users)
            try Self.validate(kind: kind, schedules: schedules)
            let credential: PINCredential?
            if let pin {
                credential = try uniqueCredential(pin, among: users, except: nil)
            } else {
                credential = nil
            }
            let now = wallClock.now
            let user = User(
                name: name, role: role, kind: kind, schedules: schedules, credential: credential,
                createdAt: now)
            var events = [
                AuditEvent(
                    time: now, action: .userAdded, userName: name,
                    detail: "\(role.rawValue), \(Self.describe(kind)), by \(actorName)")
            ]
            if credential != nil {
                events.append(
                    AuditEvent(time: now, action: .codeSet, userName: name, detail: "by \(actorName)"))
            }
            let stored = try Self.storeCall { () throws(StoreError) in
                try store.commit(StoreChange(events: events, users: [user]))
            }
            return stored.users.first ?? user
        }
    }

    /// Changes a user's name, role, kind or schedules (the arguments given). Takes effect at once.
    @discardableResult
    public func updateUser(
        _ id: UserID, name: String? = nil, role: UserRole? = nil, kind: UserKind? = nil,
        schedules: [AccessSchedule]? = nil, by actor: AdminActor
    ) throws(AccessError) -> User {
        try changeUser(id, by: actor) { user throws(AccessError) in
            if let name { user.name = name }
            if let role { user.role = role }
            if let kind {
                if kind != user.kind { user.firstUsedAt = nil }
                user.kind = kind
            }
            if let schedules { user.schedules = schedules }
            try Self.validate(kind: user.kind, schedules: user.schedules)
            return (.userChanged, "changed")
        }
    }

    /// Enables a user.
    @discardableResult
    public func enableUser(_ id: UserID, by actor: AdminActor) throws(AccessError) -> User {
        try changeUser(id, by: actor) { user throws(AccessError) in
            user.isEnabled = true
            return (.userChanged, "enabled")
        }
    }

    /// Disables a user: their code is refused from the next attempt on.
    @discardableResult
    public func disableUser(_ id: UserID, by actor: AdminActor) throws(AccessError) -> User {
        try changeUser(id, by: actor) { user throws(AccessError) in
            user.isEnabled = false
            return (.userChanged, "disabled")
        }
    }

    /// Sets or changes a user's code (unique across users). An expiring code's validity
    /// restarts at its next first use.
    @discardableResult
    public func setCode(_ pin: String, for id: UserID, by actor: AdminActor) throws(AccessError) -> User {
        try editUser(id, by: actor) { user, others throws(AccessError) in
            user.credential = try uniqueCredential(pin, among: others, except: user.id)
            user.firstUsedAt = nil
            return (.codeSet, "code set")
        }
    }

    /// Removes a user's code: they cannot get in until a new one is set.
    @discardableResult
    public func clearCode(for id: UserID, by actor: AdminActor) throws(AccessError) -> User {
        try changeUser(id, by: actor) { user throws(AccessError) in
            user.credential = nil
            return (.codeSet, "code removed")
        }
    }

    /// Removes a user.
    public func removeUser(_ id: UserID, by actor: AdminActor) throws(AccessError) {
        try serialized { () throws(AccessError) in
            let users = try loadUsers()
            let actorName = try authorizeAdmin(actor, users)
            guard let user = users.first(where: { $0.id == id }) else {
                throw AccessError(.unknownUser, "no user \(id)")
            }
            try keepsAnAdmin(before: users, after: users.filter { $0.id != id }, actor: actor)
            let event = AuditEvent(
                time: wallClock.now, action: .userRemoved, userID: id, userName: user.name,
                detail: "by \(actorName)")
            try Self.storeCall { () throws(StoreError) in
                try store.commit(StoreChange(events: [event], deletedUsers: [id]))
            }
        }
    }

    /// Changes the operating mode.
    public func setMode(_ mode: OperatingMode, by actor: AdminActor) throws(AccessError) {
        try serialized { () throws(AccessError) in
            let users = try loadUsers()
            let actorName = try authorizeAdmin(actor, users)
            let old = try loadMode()
            let event = AuditEvent(
                time: wallClock.now, action: .modeChanged, userID: Self.actorID(actor),
                userName: Self.actorUser(actor, users)?.name,
                detail: "\(old.rawValue) → \(mode.rawValue), by \(actorName)")
            try Self.storeCall { () throws(StoreError) in
                try store.commit(StoreChange(events: [event], settings: [Self.modeSettingKey: mode.rawValue]))
            }
        }
    }

    /// Clears the wrong-code count, any timed lockout and a disabled keypad.
    public func resetLockout(by actor: AdminActor) throws(AccessError) {
        try serialized { () throws(AccessError) in
            let users = try loadUsers()
            let actorName = try authorizeAdmin(actor, users)
            let event = AuditEvent(
                time: wallClock.now, action: .lockoutReset, userID: Self.actorID(actor),
                userName: Self.actorUser(actor, users)?.name, detail: "by \(actorName)")
            try Self.storeCall { () throws(StoreError) in
                try store.commit(StoreChange(events: [event], lockout: LockoutState()))
            }
        }
    }

    // MARK: Helpers

    private func changeUser(
        _ id: UserID, by actor: AdminActor, _ edit: (inout User) throws(AccessError) -> (AuditAction, String)
    ) throws(AccessError) -> User {
        try editUser(id, by: actor) { (user: inout User, _: [User]) throws(AccessError) in try edit(&user) }
    }

    private func editUser(
        _ id: UserID, by actor: AdminActor,
        _ edit: (inout User, [User]) throws(AccessError) -> (AuditAction, String)
    ) throws(AccessError) -> User {
        try serialized { () throws(AccessError) in
            let users = try loadUsers()
            let actorName = try authorizeAdmin(actor, users)
            guard var user = users.first(where: { $0.id == id }) else {
                throw AccessError(.unknownUser, "no user \(id)")
            }
            let (action, what) = try edit(&user, users)
            try keepsAnAdmin(before: users, after: users.map { $0.id == id ? user : $0 }, actor: actor)
            let event = AuditEvent(
                time: wallClock.now, action: action, userID: id, userName: user.name,
                detail: "\(what) by \(actorName)")
            let stored = try Self.storeCall { () throws(StoreError) in
                try store.commit(StoreChange(events: [event], users: [user]))
            }
            return stored.users.first ?? user
        }
    }

    /// Hashes `pin` and checks no other user has the same hash.
    private func uniqueCredential(_ pin: String, among users: [User], except id: UserID?) throws(AccessError)
        -> PINCredential
    {
        let credential = try hasher.credential(for: pin)
        var taken = false
        for user in users where user.id != id {
            if let other = user.credential, PINHasher.constantTimeEquals(other.hash, credential.hash) {
                taken = true
            }
        }
        guard !taken else {
            throw AccessError(.duplicatePIN, "another user already has this code; choose a different one")
        }
        return credential
    }

    /// The actor's name for the log, if they may administer.
    private func authorizeAdmin(_ actor: AdminActor, _ users: [User]) throws(AccessError) -> String {
        switch actor {
        case .installer:
            return "the installer"
        case .account(let name, let uid):
            return "\(name) (uid \(uid))"
        case .user(let id):
            guard let user = users.first(where: { $0.id == id }), user.role == .admin, user.isEnabled else {
                throw AccessError(.notPermitted, "only an enabled admin may do this")
            }
            return "\(user.name) (\(user.id))"
        }
    }

    /// Refuses a change by a user that would leave the lock without an enabled admin code.
    private func keepsAnAdmin(before: [User], after: [User], actor: AdminActor) throws(AccessError) {
        guard case .user = actor, Self.hasAdminCode(before), !Self.hasAdminCode(after) else { return }
        throw AccessError(
            .notPermitted, "this would leave no enabled admin with a code; add or enable another admin first")
    }

    private func loadUsers() throws(AccessError) -> [User] {
        try Self.storeCall { () throws(StoreError) in try store.users() }
    }

    private func loadMode() throws(AccessError) -> OperatingMode {
        let raw = try Self.storeCall { () throws(StoreError) in try store.setting(Self.modeSettingKey) }
        return raw.flatMap(OperatingMode.init(rawValue:)) ?? .normal
    }

    private func serialized<T: Sendable>(_ body: () throws(AccessError) -> T) throws(AccessError) -> T {
        try gate.withLock { _ throws(AccessError) -> T in try body() }
    }

    @discardableResult
    private static func storeCall<T>(_ body: () throws(StoreError) -> T) throws(AccessError) -> T {
        do { return try body() } catch { throw AccessError(error) }
    }

    private static func hasAdminCode(_ users: [User]) -> Bool {
        users.contains { $0.role == .admin && $0.isEnabled && $0.credential != nil }
    }

    private static func actorID(_ actor: AdminActor) -> UserID? {
        if case .user(let id) = actor { return id }
        return nil
    }

    /// The stored user acting, for the record's user fields (the name as other records have it).
    private static func actorUser(_ actor: AdminActor, _ users: [User]) -> User? {
        guard let id = actorID(actor) else { return nil }
        return users.first { $0.id == id }
    }

    private static func validate(kind: UserKind, schedules: [AccessSchedule]) throws(AccessError) {
        if case .expiring(let minutes) = kind, minutes < 1 {
            throw AccessError(.invalidSetting, "an expiring code needs at least 1 minute, not \(minutes)")
        }
        for schedule in schedules { try schedule.validate() }
    }

    private static func describe(_ kind: UserKind) -> String {
        switch kind {
        case .permanent: "permanent"
        case .disposable: "single use"
        case .expiring(let minutes): "expires \(minutes) min after first use"
        case .duress: "duress"
        case .emergency: "emergency"
        }
    }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    private static func roundedUp(_ interval: TimeInterval) -> Duration {
        .seconds(Int64(interval.rounded(.up)))
    }

    private static func describe(_ duration: Duration) -> String {
        let total = Int(seconds(duration).rounded(.up))
        if total < 60 { return "\(total) s" }
        if total < 3600 { return total % 60 == 0 ? "\(total / 60) min" : "\(total / 60) min \(total % 60) s" }
        return total % 3600 == 0 ? "\(total / 3600) h" : "\(total / 3600) h \(total % 3600 / 60) min"
    }
}
