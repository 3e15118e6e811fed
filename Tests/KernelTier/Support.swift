// Shared helpers of boltwork-kernel-tests: the check runner, files, processes, deadlines.
import BoltworkHAL

#if canImport(Glibc)
    import Glibc
#endif

/// A failed expectation inside a check.
struct CheckFailure: Error, CustomStringConvertible {
    let description: String
}

/// Throws `message` unless `condition` holds.
func expect(_ condition: Bool, _ message: @autoclosure () throws -> String) throws {
    if !condition { throw CheckFailure(description: try message()) }
}

/// Counts checks and prints one line per check.
@MainActor enum Report {
    static var passed = 0
    static var failed = 0
    static var skipped = 0
    /// Only checks whose names contain one of these run (all when empty): `--only TEXT`.
    static var only: [String] = []

    static func selected(_ name: String) -> Bool {
        only.isEmpty || only.contains { name.contains($0) }
    }
}

/// Runs one check: `PASS name` or `FAIL name: why`.
@MainActor func check(_ name: String, _ body: () throws -> Void) {
    guard Report.selected(name) else { return }
    let started = monotonicMilliseconds()
    func took() -> String {
        let tenths = (monotonicMilliseconds() - started + 50) / 100
        return "(\(tenths / 10).\(tenths % 10) s)"
    }
    do {
        try body()
        Report.passed += 1
        print("PASS \(name) \(took())")
    } catch {
        Report.failed += 1
        print("FAIL \(name) \(took()): \(error)")
    }
}

/// Reports a check that cannot run here, with the reason.
@MainActor func skip(_ name: String, _ reason: String) {
    guard Report.selected(name) else { return }
    Report.skipped += 1
    print("SKIP \(name): \(reason)")
}

/// Environment variables exported by the guest harness.
struct ProcessInfoLite {
    func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        return String(cString: raw)
    }
}

func readFile(_ path: String) throws -> String {
    guard let file = fopen(path, "r") else {
        throw CheckFailure(description: "cannot read \(path): errno \(errno)")
    }
    defer { fclose(file) }
    var text = ""
    var buffer = [CChar](repeating: 0, count: 4096)
    while fgets(&buffer, Int32(buffer.count), file) != nil {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        text += String(decoding: bytes, as: UTF8.self)
    }
    return text.trimmingCharacters(in: " \n")
}

func writeFile(_ path: String, _ text: String) throws {
    guard let file = fopen(path, "w") else {
        throw CheckFailure(description: "cannot write \(path): errno \(errno)")
    }
    defer { fclose(file) }
    guard fputs(text, file) >= 0 else { throw CheckFailure(description: "write to \(path) failed") }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var result = Substring(self)
        while let first = result.first, set.contains(first) { result = result.dropFirst() }
        while let last = result.last, set.contains(last) { result = result.dropLast() }
        return String(result)
    }
}

/// Milliseconds on `CLOCK_MONOTONIC`.
func monotonicMilliseconds() -> Int64 {
    SystemClock.monotonicNow().nanoseconds / 1_000_000
}

/// Polls `condition` every `interval` until it holds or `seconds` pass; returns whether it
/// held. A wait for another process, never a timing assertion.
func waitUntil(seconds: Double, interval: Duration = .milliseconds(20), _ condition: () throws -> Bool)
    rethrows -> Bool
{
    let deadline = monotonicMilliseconds() + Int64(seconds * 1000)
    while true {
        if try condition() { return true }
        if monotonicMilliseconds() >= deadline { return false }
        var pause = timespec(
            tv_sec: Int(interval.components.seconds),
            tv_nsec: Int(interval.components.attoseconds / 1_000_000_000))
        nanosleep(&pause, nil)
    }
}

/// This program's own path (the model runs as a second process of the same binary).
func ownExecutable() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard count > 0 else { return CommandLine.arguments[0] }
    return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// A child process started with `posix_spawn`.
final class ChildProcess {
    /// Where a standard stream goes.
    enum Stream {
        /// Inherit the parent's.
        case inherit
        /// `/dev/null`.
        case null
        /// A pipe to or from the parent.
        case pipe
        /// A file (stdout/stderr: created or appended to).
        case file(String)
    }

    let pid: pid_t
    let name: String
    /// The parent's end of the stdin pipe, or -1.
    private(set) var input: Int32 = -1
    /// The parent's end of the stdout pipe, or -1.
    private(set) var output: Int32 = -1
    private var exitStatus: Int32?
    private var pending: [UInt8] = []

    init(
        _ path: String, _ arguments: [String], name: String? = nil, stdin: Stream = .null,
        stdout: Stream = .inherit, stderr: Stream = .inherit
    ) throws {
        self.name = name ?? path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var parentEnds: [Int32] = []
        var childEnds: [Int32] = []
        func route(_ stream: Stream, _ target: Int32) throws -> Int32 {
            switch stream {
            case .inherit:
                return -1
            case .null:
                posix_spawn_file_actions_addopen(
                    &actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
                return -1
            case .file(let file):
                posix_spawn_file_actions_addopen(
                    &actions, target, file, target == 0 ? O_RDONLY : O_WRONLY | O_CREAT | O_APPEND, 0o644)
                return -1
            case .pipe:
                var ends: [Int32] = [-1, -1]
                guard pipe(&ends) == 0 else { throw CheckFailure(description: "pipe failed: errno \(errno)") }
                for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
                let (childEnd, parentEnd) = target == 0 ? (ends[0], ends[1]) : (ends[1], ends[0])
                posix_spawn_file_actions_adddup2(&actions, childEnd, target)
                parentEnds.append(parentEnd)
                childEnds.append(childEnd)
                return parentEnd
            }
        }
        input = try route(stdin, 0)
        output = try route(stdout, 1)
        _ = try route(stderr, 2)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, path, &actions, nil, argv, environ)
        for end in childEnds { close(end) }
        guard rc == 0 else {
            for end in parentEnds { close(end) }
            throw CheckFailure(description: "cannot start \(path): \(String(cString: strerror(rc)))")
        }
        pid = child
    }

    deinit {
        if input >= 0 { close(input) }
        if output >= 0 { close(output) }
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }

    /// Writes `line` and a newline to the child's stdin.
    func send(_ line: String) throws {
        let bytes = Array((line + "\n").utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { write(input, $0.baseAddress, $0.count) }
            guard count > 0 else {
                throw CheckFailure(description: "\(name) does not read its input any more")
            }
            sent += count
        }
    }

    /// Reads one line from the child's stdout, waiting up to `seconds`.
    func readLine(seconds: Double) throws -> String {
        let deadline = monotonicMilliseconds() + Int64(seconds * 1000)
        while true {
            if let newline = pending.firstIndex(of: 0x0A) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                return line
            }
            let left = deadline - monotonicMilliseconds()
            guard left > 0 else {
                throw CheckFailure(description: "\(name) did not answer within \(Int(seconds)) s")
            }
            var descriptor = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Int32(min(left, 1000)))
            if ready < 0 && errno != EINTR {
                throw CheckFailure(description: "poll on \(name)'s output failed: errno \(errno)")
            }
            guard ready > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = chunk.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            guard count > 0 else { throw CheckFailure(description: "\(name) ended (its output closed)") }
            pending += chunk[0..<count]
        }
    }

    /// The exit status if the child has ended (reaping it), or nil while it runs.
    func reap() -> Int32? {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        // WIFEXITED / WEXITSTATUS / WTERMSIG by hand (the macros are not imported).
        let signal = status & 0x7F
        exitStatus = signal == 0 ? (status >> 8) & 0xFF : 128 + signal
        return exitStatus
    }

    /// Waits up to `seconds` for the child to end; its status, or nil if it still runs.
    func wait(seconds: Double) -> Int32? {
        var status: Int32?
        _ = waitUntil(seconds: seconds) {
            status = reap()
            return status != nil
        }
        return status
    }

    /// Sends `signal` (the child is ours: it was started here).
    func signal(_ number: Int32) {
        if exitStatus == nil { kill(pid, number) }
    }
}
