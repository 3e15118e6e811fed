import BoltworkLock
import BoltworkStore
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The environment variable that makes ``CrashSafetyTests/crashChild()`` run as the child.
private let crashChildVariable = "BOLTWORK_STORE_CRASH_CHILD"
/// How many changes the child commits if nobody kills it.
private let crashChildChanges = 400

/// Change `k` of the crash workload: one failure counted, the user's use count, a setting and
/// three audit events, all of which must land together.
private func workload(_ k: Int, userID: UserID?) -> StoreChange {
    var user = User(name: "Ada", role: .admin, createdAt: t0, useCount: k)
    user.id = userID ?? .unsaved
    return StoreChange(
        events: (1...3).map {
            AuditEvent(
                time: t0 + Double(k), action: .invalidCode, source: .keypad, detail: "change \(k) event \($0)"
            )
        },
        lockout: LockoutState(consecutiveFailures: k, lockoutCount: k / 5),
        users: [user], settings: ["counter": String(k)])
}

/// Checks that the store holds exactly changes 1...n for some n ≥ `acknowledged`, with nothing
/// half applied, and returns n.
private func checkConsistent(_ store: SQLiteLockStore, acknowledged: Int) throws -> Int {
    let n = try store.lockout().consecutiveFailures
    #expect(n >= acknowledged, "change \(acknowledged) was acknowledged but the store holds \(n)")
    #expect(try store.lockout() == LockoutState(consecutiveFailures: n, lockoutCount: n / 5))
    #expect(try store.users().map(\.useCount) == (n == 0 ? [] : [n]))
    #expect(try store.setting("counter") == (n == 0 ? nil : String(n)))
    let records = try store.auditRecords(AuditQuery())
    #expect(records.count == 3 * n)
    #expect(records.last?.event.detail == (n == 0 ? nil : "change \(n) event 3"))
    #expect(try store.verifyAudit() == .intact(records: 3 * n))
    return n
}

/// Where the parent kills the child: right after it acknowledged change `commit`, or, with a
/// `step`, while the child is held at that step of change `commit` (steps 1 to 7 are inside the
/// transaction, step 8 is after it committed and before it was acknowledged).
struct KillPoint: Sendable, CustomTestStringConvertible {
    var commit: Int
    var step: Int?

    var testDescription: String {
        step.map { "held at step \($0) of change \(commit)" } ?? "after change \(commit) was acknowledged"
    }
}

/// The child's position in the workload, for holding it at a step.
private final class ChildProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var commit = 0
    private var step = 0
    let hold: (commit: Int, step: Int)?

    init(hold: (commit: Int, step: Int)?) { self.hold = hold }

    func begin(_ commit: Int) {
        lock.withLock {
            self.commit = commit
            step = 0
        }
    }

    /// Counts a step; at the held one, tells the parent and waits for a go that never comes.
    func advance() {
        let position = lock.withLock { () -> (Int, Int) in
            step += 1
            return (commit, step)
        }
        guard let hold, hold == position else { return }
        FileHandle.standardOutput.write(Data("BOLTWORK-HELD\n".utf8))
        _ = FileHandle.standardInput.availableData
    }
}

/// Re-runs this test binary as a child running only `filter`, which writes to the store at
/// `path` (named by `variable`) and prints `BOLTWORK-ACK k` after each acknowledged change (and
/// `BOLTWORK-HELD` when held inside change `point.commit` at `point.step`). Kills it with
/// SIGKILL at the kill point and returns how many changes it had acknowledged by then.
private func runChildAndKill(
    filter: String, variable: String, path: String, at point: KillPoint
) throws -> (acknowledged: Int, killed: Bool, child: Process) {
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/proc/self/exe")
    child.arguments = ["--testing-library", "swift-testing", "--filter", filter]
    var environment = ProcessInfo.processInfo.environment
    environment[variable] = path
    if let step = point.step { environment[variable + "_HOLD"] = "\(point.commit):\(step)" }
    child.environment = environment
    let output = Pipe()
    let input = Pipe()
    child.standardOutput = output
    child.standardInput = input
    child.standardError = FileHandle(forWritingAtPath: "/dev/null")
    try child.run()

    var acknowledged = 0
    var killed = false
    var buffer = ""
    reading: while true {
        let data = output.fileHandleForReading.availableData
        if data.isEmpty { break }
        buffer += String(decoding: data, as: UTF8.self)
        while let newline = buffer.firstIndex(of: "\n") {
            let line = buffer[..<newline]
            buffer.removeSubrange(...newline)
            if line == "BOLTWORK-HELD" {
                killed = kill(child.processIdentifier, SIGKILL) == 0
                break reading
            }
            if line.hasPrefix("BOLTWORK-ACK "), let k = Int(line.dropFirst("BOLTWORK-ACK ".count)) {
                acknowledged = k
                if point.step == nil, k >= point.commit {
                    killed = kill(child.processIdentifier, SIGKILL) == 0
                    break reading
                }
            }
        }
    }
    child.waitUntilExit()
    return (acknowledged, killed, child)
}

@Suite("SQLite store: crash safety")
struct CrashSafetyTests {
    /// The child's side of ``killedMidCommit(at:)``: commits the workload to the database named
    /// by the environment and prints `BOLTWORK-ACK k` after each commit returns. Skipped unless
    /// run as that child.
    @Test(.enabled(if: ProcessInfo.processInfo.environment[crashChildVariable] != nil))
    func crashChild() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let path = environment[crashChildVariable] else { return }
        let hold = environment[crashChildVariable + "_HOLD"].flatMap { text -> (commit: Int, step: Int)? in
            let parts = text.split(separator: ":").compactMap { Int($0) }
            return parts.count == 2 ? (parts[0], parts[1]) : nil
        }
        let progress = ChildProgress(hold: hold)
        let store = try SQLiteLockStore(path: path, commitHook: { _ in progress.advance() })
        var userID: UserID?
        for k in 1...crashChildChanges {
            progress.begin(k)
            let (users, _) = try store.commit(workload(k, userID: userID))
            progress.advance()
            userID = users.first?.id
            FileHandle.standardOutput.write(Data("BOLTWORK-ACK \(k)\n".utf8))
        }
    }

    @Test(
        "a process killed with SIGKILL loses no acknowledged change and leaves none half done",
        .disabled(if: ProcessInfo.processInfo.environment[crashChildVariable] != nil),
        arguments: [KillPoint(commit: 1), KillPoint(commit: 17), KillPoint(commit: 150)]
            + (1...8).map { KillPoint(commit: 5, step: $0) })
    func killedMidCommit(at point: KillPoint) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let path = scratch.path("lock.sqlite")
        let (acknowledged, killed, child) = try runChildAndKill(
            filter: "CrashSafetyTests/crashChild", variable: crashChildVariable, path: path, at: point)
        #expect(killed, "the child ended before the kill point (\(acknowledged) changes acknowledged)")
        #expect(child.terminationReason == .uncaughtSignal)

        let store = try SQLiteLockStore(path: path)
        let n = try checkConsistent(store, acknowledged: acknowledged)
        if let step = point.step {
            #expect(acknowledged == point.commit - 1)
            // Inside the transaction nothing of the change is kept; once committed, all of it is.
            #expect(n == (step <= 7 ? point.commit - 1 : point.commit))
        }
        // The reopened store goes on from where the dead process stopped.
        try store.commit(workload(n + 1, userID: try store.users().first?.id))
        #expect(try checkConsistent(store, acknowledged: n + 1) == n + 1)
    }

    /// Counts the steps of a commit and fails the one numbered `failAt`.
    final class StepFault: @unchecked Sendable {
        private let lock = NSLock()
        private var steps: [SQLiteLockStore.CommitStep] = []
        var failAt: Int?

        struct Injected: Error {}

        func step(_ step: SQLiteLockStore.CommitStep) throws {
            try lock.withLock {
                steps.append(step)
                if steps.count == failAt { throw Injected() }
            }
        }

        func reset(failAt: Int?) -> [SQLiteLockStore.CommitStep] {
            lock.withLock {
                defer {
                    steps = []
                    self.failAt = failAt
                }
                return steps
            }
        }
    }

    @Test("a failure between any two steps of a commit rolls all of it back")
    func failureBetweenSteps() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let path = scratch.path("lock.sqlite")
        let fault = StepFault()
        let store = try SQLiteLockStore(path: path, commitHook: { try fault.step($0) })
        let (users, _) = try store.commit(workload(1, userID: nil))
        let steps = fault.reset(failAt: nil)
        #expect(steps == [.user, .lockout, .setting, .audit, .audit, .audit, .chainHead])

        for failAt in 1...steps.count {
            _ = fault.reset(failAt: failAt)
            let error = storeErrorKind { try store.commit(workload(2, userID: users[0].id)) }
            #expect(error?.kind == .writeFailed, "step \(failAt)")
            #expect(error?.detail.contains(path) == true)
            #expect(try checkConsistent(store, acknowledged: 1) == 1, "step \(failAt)")
        }
        _ = fault.reset(failAt: nil)
        try store.commit(workload(2, userID: users[0].id))
        try store.close()
        #expect(try checkConsistent(SQLiteLockStore(path: path), acknowledged: 2) == 2)
    }
}

// MARK: The access layer's wrong-code path

/// The environment variable that makes ``AccessCrashSafetyTests/wrongCodeChild()`` run as the child.
private let accessChildVariable = "BOLTWORK_ACCESS_CRASH_CHILD"
/// How many wrong codes the child enters if nobody kills it.
private let accessChildCodes = 60

/// A wall clock the child sets before each code: an hour apart (the longest lockout), so every
/// timed lockout has ended and every code is checked and counted.
private final class SteppedWallClock: WallClock, @unchecked Sendable {
    private let lock = NSLock()
    private var date = t0

    var now: Date { lock.withLock { date } }

    func set(_ value: Date) { lock.withLock { date = value } }
}

/// The access settings of the child and the parent's check.
private let accessConfiguration = AccessConfiguration(
    hashing: .testing, lockoutThreshold: 5, keypadDisableThreshold: 1000)

/// Checks that the store holds the effects of exactly codes 1...n for some n ≥ `acknowledged`:
/// n wrong codes counted, n invalid-code records, a lockout (counted and recorded) for every
/// fifth, an intact chain. Returns n.
private func checkWrongCodes(_ store: SQLiteLockStore, acknowledged: Int) throws -> Int {
    let lockout = try store.lockout()
    let n = lockout.consecutiveFailures
    #expect(n >= acknowledged, "code \(acknowledged) was acknowledged but the store counts \(n)")
    #expect(lockout.lockoutCount == n / 5)
    let records = try store.auditRecords(AuditQuery())
    #expect(records.filter { $0.event.action == .invalidCode }.count == n)
    #expect(records.filter { $0.event.action == .lockoutStarted }.count == n / 5)
    if n > 0 {
        let last = try #require(records.last).event
        #expect(last.action == (n % 5 == 0 ? .lockoutStarted : .invalidCode))
        #expect(last.detail.contains("\(n)"))
    }
    #expect(try store.verifyAudit() == .intact(records: records.count))
    return n
}

@Suite("SQLite store: crash safety of the wrong-code lockout")
struct AccessCrashSafetyTests {
    /// The child's side of ``killedInWrongCode(at:)``: enters wrong codes through the access
    /// layer on the database named by the environment and prints `BOLTWORK-ACK k` after each
    /// refusal returns. Skipped unless run as that child.
    @Test(.enabled(if: ProcessInfo.processInfo.environment[accessChildVariable] != nil))
    func wrongCodeChild() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let path = environment[accessChildVariable] else { return }
        let hold = environment[accessChildVariable + "_HOLD"].flatMap { text -> (commit: Int, step: Int)? in
            let parts = text.split(separator: ":").compactMap { Int($0) }
            return parts.count == 2 ? (parts[0], parts[1]) : nil
        }
        let progress = ChildProgress(hold: hold)
        let store = try SQLiteLockStore(path: path, commitHook: { _ in progress.advance() })
        let wall = SteppedWallClock()
        let access = try AccessController(store: store, wallClock: wall, configuration: accessConfiguration)
        for k in 1...accessChildCodes {
            wall.set(t0 + 3600 * Double(k))
            progress.begin(k)
            let decision = try access.authorize(digits: String(900_000 + k), source: .keypad)
            progress.advance()
            guard decision.refusal?.reason == .invalidCode else { return }
            FileHandle.standardOutput.write(Data("BOLTWORK-ACK \(k)\n".utf8))
        }
    }

    @Test(
        "a process killed inside a wrong code's commit loses no acknowledged count or record",
        .disabled(if: ProcessInfo.processInfo.environment[accessChildVariable] != nil),
        // Code 3 commits the count and one record (steps 1-3, 4 after the commit); code 5 also
        // starts a lockout (steps 1-4, 5 after the commit).
        arguments: [KillPoint(commit: 12)] + (1...4).map { KillPoint(commit: 3, step: $0) }
            + (1...5).map { KillPoint(commit: 5, step: $0) })
    func killedInWrongCode(at point: KillPoint) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let path = scratch.path("lock.sqlite")
        do {
            let store = try SQLiteLockStore(path: path)
            let access = try AccessController(
                store: store, wallClock: SteppedWallClock(), configuration: accessConfiguration)
            try access.initializeAdmin(name: "Ada", pin: "246810")
            try store.close()
        }
        let (acknowledged, killed, child) = try runChildAndKill(
            filter: "AccessCrashSafetyTests/wrongCodeChild", variable: accessChildVariable, path: path,
            at: point)
        #expect(killed, "the child ended before the kill point (\(acknowledged) codes acknowledged)")
        #expect(child.terminationReason == .uncaughtSignal)

        let store = try SQLiteLockStore(path: path)
        let n = try checkWrongCodes(store, acknowledged: acknowledged)
        if let step = point.step {
            #expect(acknowledged == point.commit - 1)
            let afterCommit = point.commit % 5 == 0 ? 5 : 4
            #expect(n == (step < afterCommit ? point.commit - 1 : point.commit))
        }
        // A new process goes on counting from where the dead one stopped.
        let wall = SteppedWallClock()
        wall.set(t0 + 3600 * Double(n + 1))
        let access = try AccessController(store: store, wallClock: wall, configuration: accessConfiguration)
        #expect(try access.authorize(digits: "123456", source: .keypad).refusal?.reason == .invalidCode)
        #expect(try checkWrongCodes(store, acknowledged: n + 1) == n + 1)
    }
}
