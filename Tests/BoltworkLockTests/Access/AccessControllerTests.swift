import BoltworkDrivers
import BoltworkLock
import Foundation
import Testing

@Suite("Access: users, codes, kinds and modes")
struct AccessControllerTests {
    @Test("no default code: the keypad refuses everything until initializeAdmin, which works once")
    func noAdminCode() throws {
        let bench = try AccessBench()
        #expect(try !bench.access.hasAdminCode())
        let refused = try bench.access.authorize(PINEntry(AccessBench.adminPIN))
        #expect(refused.refusal?.reason == .noAdminCode)
        #expect(refused.refusal?.detail.contains("boltd init") == true)
        #expect(try bench.actions() == [.noAdminCode])
        // Wrong codes are not counted while there is nothing to guess.
        #expect(try bench.store.lockout() == LockoutState())

        let admin = try bench.withAdmin()
        #expect(admin.role == .admin)
        #expect(try bench.access.hasAdminCode())
        #expect(try bench.access.authorize(PINEntry(AccessBench.adminPIN)).isGranted)
        do {
            try bench.access.initializeAdmin(name: "Mallory", pin: "99999999")
            Issue.record("initializeAdmin worked twice")
        } catch {
            #expect(error.kind == .alreadyInitialized)
        }
        #expect(try bench.store.users().count == 1)
    }

    @Test("users get unique codes; a valid code opens and records the use")
    func addAndOpen() throws {
        let bench = try AccessBench()
        let admin = try bench.withAdmin()
        let bob = try bench.access.addUser(name: "Bob", role: .resident, pin: "111222", by: .user(admin.id))
        do {
            try bench.access.addUser(name: "Eve", role: .guest, pin: "111222", by: .user(admin.id))
            Issue.record("a duplicate code was accepted")
        } catch {
            #expect(error.kind == .duplicatePIN)
        }
        do {
            try bench.access.setCode(AccessBench.adminPIN, for: bob.id, by: .user(admin.id))
            Issue.record("a duplicate code was accepted on change")
        } catch {
            #expect(error.kind == .duplicatePIN)
        }
        // Setting a user's own code again is not a conflict.
        try bench.access.setCode("111222", for: bob.id, by: .user(admin.id))
        #expect(try bench.store.users().map(\.name) == ["Ada", "Bob"])

        bench.advance(minutes: 3)
        let decision = try bench.access.authorize(digits: "111222", source: .remote)
        guard case .granted(let user, let duress) = decision else {
            Issue.record("valid code refused: \(decision)")
            return
        }
        #expect(user.id == bob.id && !duress)
        #expect(user.useCount == 1)
        #expect(user.lastUsedAt == bench.wall.now)
        #expect(try bench.store.users().first { $0.id == bob.id }?.useCount == 1)

        // Only an enabled admin administers.
        do {
            try bench.access.addUser(name: "Eve", role: .admin, by: .user(bob.id))
            Issue.record("a resident added a user")
        } catch {
            #expect(error.kind == .notPermitted)
        }
    }

    @Test("disabling, removing or clearing a code takes effect on the next attempt")
    func revocation() throws {
        let bench = try AccessBench()
        let admin = try bench.withAdmin()
        let bob = try bench.access.addUser(name: "Bob", role: .resident, pin: "314159", by: .user(admin.id))
        #expect(try bench.access.authorize(PINEntry("314159")).isGranted)

        try bench.access.disableUser(bob.id, by: .user(admin.id))
        let disabled = try bench.access.authorize(PINEntry("314159"))
        #expect(disabled.refusal?.reason == .userDisabled)
        #expect(disabled.refusal?.user?.id == bob.id)
        try bench.access.enableUser(bob.id, by: .user(admin.id))
        #expect(try bench.access.authorize(PINEntry("314159")).isGranted)

        try bench.access.clearCode(for: bob.id, by: .user(admin.id))
        #expect(try bench.access.authorize(PINEntry("314159")).refusal?.reason == .invalidCode)
        try bench.access.setCode("314159", for: bob.id, by: .user(admin.id))
        #expect(try bench.access.authorize(PINEntry("314159")).isGranted)

        try bench.access.removeUser(bob.id, by: .user(admin.id))
        #expect(try bench.access.authorize(PINEntry("314159")).refusal?.reason == .invalidCode)
        #expect(try bench.store.users().map(\.id) == [admin.id])
    }

    @Test("an admin cannot remove, disable or demote the last admin code")
    func keepsAnAdmin() throws {
        let bench = try AccessBench()
        let admin = try bench.withAdmin()
        #expect(throws: AccessError.self) { try bench.access.disableUser(admin.id, by: .user(admin.id)) }
        #expect(throws: AccessError.self) { try bench.access.removeUser(admin.id, by: .user(admin.id)) }
        #expect(throws: AccessError.self) {
            try bench.access.updateUser(admin.id, role: .resident, by: .user(admin.id))
        }
        #expect(try bench.access.hasAdminCode())
    }

    @Test("a disposable code opens once, then is refused")
    func disposable() throws {
        let bench = try AccessBench()
        let admin = try bench.withAdmin()
        try bench.access.addUser(
            name: "Courier", role: .guest, kind: .disposable, pin: "555111", by: .user(admin.id))
        #expect(try bench.access.authorize(PINEntry("555111")).isGranted)
        let second = try bench.access.authorize(PINEntry("555111"))
        #expect(second.refusal?.reason == .userDisabled)
        #expect(try bench.actions().suffix(2) == [.userChanged, .userDisabled])
    }

    @Test("an expiring code works for N minutes after its first use")
    func expiring() throws {
        let bench = try AccessBench()
        let admin = try bench.withAdmin()
        try bench.access.addUser(
            name: "Plumber", role: .service, kind: .expiring(minutes: 90), pin: "777000", by: .user(admin.id))
        // Its validity starts at the first use, not at creation.
        bench.advance(minutes: 600)
        #expect(try bench.access.authorize(PINEntry("777000")).isGranted)
        bench.advance(minutes: 89)
        #expect(try bench.access.authorize(PINEntry("777000")).isGranted)
        bench.advance(minutes: 1)
        let expired = try bench.access.authorize(PINEntry("777000"))
        #expect(expired.refusal?.reason == .outsideSchedule)
        #expect(expired.refusal?.detail.contains("expired") == true)
    }

    @Test("a duress code opens and raises the silent duress alarm in the same commit")
    func duress() throws {
        let bench = try AccessBench()
        let admin = try bench.withAdmin()
        let duress = try bench.access.addUser(
            name: "Ada under duress", role: .resident, kind: .duress, pin: "911911", by: .user(admin.id))
        let before = try bench.store.auditRecords(AuditQuery()).count
        let decision = try bench.access.authorize(PINEntry("911911"))
        guard case .granted(let user, let flagged) = decision else {
            Issue.record("duress code refused")
            return
        }
        #expect(flagged && user.id == duress.id)
        let new = try bench.store.auditRecords(AuditQuery()).dropFirst(before)
        #expect(new.map(\.event.action) == [.duress])
        #expect(new.first?.event.userID == duress.id)
        #expect(AuditAction.duress.category == .alarm)
    }

    @Test("vacation refuses regular users; admin and emergency codes still work, and the test is recorded")
    func vacation() throws {
        let bench = try AccessBench()
        let admin = try bench.withAdmin()
        try bench.access.addUser(name: "Bob", role: .resident, pin: "202020", by: .user(admin.id))
        let backup = try bench.access.addUser(
            name: "Backup", role: .resident, kind: .emergency, pin: "808080", by: .user(admin.id))
        try bench.access.setMode(.vacation, by: .user(admin.id))
        #expect(try bench.access.mode() == .vacation)
        #expect(try bench.events().last?.action == .modeChanged)
        #expect(try bench.events().last?.detail.contains("normal → vacation") == true)

        #expect(try bench.access.authorize(PINEntry("202020")).refusal?.reason == .refusedByMode)
        #expect(try bench.access.authorize(PINEntry(AccessBench.adminPIN)).isGranted)
        bench.advance(minutes: 5)
        #expect(try bench.access.authorize(PINEntry("808080")).isGranted)
        #expect(try bench.store.users().first { $0.id == backup.id }?.lastTestedAt == bench.wall.now)

        // A restarted controller reads the mode from the store.
        #expect(try bench.restarted().mode() == .vacation)
    }

    @Test("privacy refuses every code from outside; passage still checks codes")
    func privacyAndPassage() throws {
        let bench = try AccessBench()
        let admin = try bench.withAdmin()
        try bench.access.addUser(
            name: "Backup", role: .resident, kind: .emergency, pin: "808080", by: .installer)
        try bench.access.setMode(.privacy, by: .user(admin.id))
        for (digits, source) in [
            (AccessBench.adminPIN, OperationSource.keypad), ("808080", .keypad),
            (AccessBench.adminPIN, .remote),
        ] {
            #expect(
                try bench.access.authorize(digits: digits, source: source).refusal?.reason == .refusedByMode)
        }
        // Refused by mode without checking: no wrong codes counted.
        #expect(try bench.access.authorize(PINEntry("000000")).refusal?.reason == .refusedByMode)
        #expect(try bench.store.lockout().consecutiveFailures == 0)

        try bench.access.setMode(.passage, by: .user(admin.id))
        #expect(try bench.access.authorize(PINEntry(AccessBench.adminPIN)).isGranted)
        #expect(try bench.access.authorize(PINEntry("000000")).refusal?.reason == .invalidCode)
    }

    @Test("an unsynchronised clock refuses time-restricted users only")
    func clockTrust() throws {
        let bench = try AccessBench()
        let admin = try bench.withAdmin()
        let always: Set<Weekday> = Set(Weekday.allCases)
        try bench.access.addUser(
            name: "Cleaner", role: .service, schedules: [.weekly(days: always, startMinute: 0, endMinute: 0)],
            pin: "121212", by: .user(admin.id))
        try bench.access.addUser(name: "Bob", role: .resident, pin: "343434", by: .user(admin.id))
        #expect(try bench.access.authorize(PINEntry("121212")).isGranted)

        bench.trust.set(false)
        let refused = try bench.access.authorize(PINEntry("121212"))
        #expect(refused.refusal?.reason == .outsideSchedule)
        #expect(refused.refusal?.detail.contains("not synchronised") == true)
        #expect(try bench.access.authorize(PINEntry("343434")).isGranted)
        #expect(try bench.access.authorize(PINEntry(AccessBench.adminPIN)).isGranted)
    }

    @Test("no audit event ever contains a code's digits")
    func auditHasNoDigits() throws {
        let bench = try AccessBench(
            configuration: AccessBench.testing(lockoutThreshold: 2, keypadDisableThreshold: 4))
        let pins = [AccessBench.adminPIN, "86420975", "97531864", "5550123", "6660321"]
        let admin = try bench.withAdmin()
        let bob = try bench.access.addUser(name: "Bob", role: .resident, pin: pins[1], by: .user(admin.id))
        try bench.access.addUser(
            name: "Duress", role: .resident, kind: .duress, pin: pins[2], by: .user(admin.id))
        try bench.access.setCode(pins[3], for: bob.id, by: .user(admin.id))
        for pin in pins { _ = try bench.access.authorize(PINEntry(pin)) }
        _ = try bench.access.authorize(digits: pins[4], source: .remote)
        bench.advance(minutes: 5)
        _ = try bench.access.authorize(PINEntry("13572468"))
        _ = try bench.access.authorize(PINEntry("13572469"))
        try bench.access.resetLockout(by: .installer)
        try bench.access.disableUser(bob.id, by: .user(admin.id))
        _ = try bench.access.authorize(PINEntry(pins[3]))

        let events = try bench.events()
        #expect(events.count > 12)
        let actions = Set(events.map(\.action))
        #expect(actions.isSuperset(of: [.invalidCode, .lockoutStarted, .keypadDisabled, .codeSet, .duress]))
        for event in events {
            let fields = [
                event.detail, event.userName ?? "",
                String(data: AuditChain.canonicalJSON(event), encoding: .utf8) ?? "",
            ]
            for field in fields {
                for pin in pins + ["13572468", "13572469"] {
                    #expect(!field.contains(pin), "event \(event.action) holds a code")
                }
            }
        }
        // Nor does any stored user.
        for user in try bench.store.users() {
            let json = String(decoding: try JSONEncoder().encode(user), as: UTF8.self)
            for pin in pins { #expect(!json.contains(pin)) }
        }
    }
}
