import BoltworkHAL
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A failure of the benchmark's own machinery (a child that would not start, a missing file),
/// as opposed to a figure that misses its goal.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `CLOCK_MONOTONIC` in nanoseconds: the time line of `SystemClock`, kernel edge timestamps and
/// every latency this benchmark reports.
func monotonicNanoseconds() -> Int64 { SystemClock.monotonicNow().nanoseconds }

/// Sleeps the calling thread (the benchmark's own pacing; never inside the code measured).
func pause(microseconds: Int64) {
    guard microseconds > 0 else { return }
    var request = timespec(
        tv_sec: Int(microseconds / 1_000_000), tv_nsec: Int(microseconds % 1_000_000) * 1000)
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}

/// Waits until `condition` holds, checking every `every` microseconds; false after `limit`.
func waitUntil(limit: Duration, every: Int64 = 200, _ condition: () -> Bool) -> Bool {
    let deadline = monotonicNanoseconds() + limit.totalNanoseconds
    while !condition() {
        if monotonicNanoseconds() > deadline { return false }
        pause(microseconds: every)
    }
    return true
}

/// Prints a progress line on standard error (the table or JSON goes to standard output).
func progress(_ message: String) {
    FileHandle.standardError.write(Data(("bench: " + message + "\n").utf8))
}

/// Reads a whole text file, nil when it cannot be read.
func readText(_ path: String) -> String? {
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    return String(decoding: data, as: UTF8.self)
}

/// Writes `text` to `path` with one `write(2)` after the file is open, and returns the
/// monotonic time taken just before that call: for gpio-sim's attributes, the write is the edge.
@discardableResult
func writeAttribute(_ path: String, _ text: String) throws(BenchError) -> Int64 {
    let fd = open(path, O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { throw BenchError("cannot open \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    let start = monotonicNanoseconds()
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count else {
        throw BenchError("cannot write '\(text)' to \(path): \(String(cString: strerror(errno)))")
    }
    return start
}

/// The `Key: value` fields of a `/proc/PID/status`-style file.
func statusFields(_ path: String) -> [String: String] {
    var fields: [String: String] = [:]
    for line in (readText(path) ?? "").split(separator: "\n") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(
            in: .whitespaces)
    }
    return fields
}

/// Kibibytes from a `/proc` memory field such as `VmRSS:	  18232 kB`.
func kibibytes(_ field: String?) -> Int? {
    guard let field, let number = field.split(separator: " ").first else { return nil }
    return Int(number)
}

/// What a process has cost so far, read from outside (or inside) through `/proc` and its CPU
/// clock.
struct ProcessSample: Sendable {
    /// Context switches of one thread.
    struct Switches: Sendable {
        /// Voluntary: the thread went to sleep, so each wake-up shows up as one.
        var voluntary: Int
        /// Involuntary: the thread was preempted while running.
        var involuntary: Int
    }

    /// CPU time of every thread, user and system, in nanoseconds.
    var cpuNanoseconds: Int64
    /// Context switches per thread id.
    var threads: [Int: Switches]
    /// Resident set size now, KiB.
    var residentKiB: Int
    /// Of which anonymous memory (heap, stacks), KiB.
    var anonymousKiB: Int
    /// Of which file-backed pages (the executable and shared libraries; on tmpfs, as in the
    /// VM's initramfs, they count as shared memory), KiB.
    var fileKiB: Int
    /// Peak resident set size (high-water mark), KiB.
    var peakResidentKiB: Int

    /// Samples process `pid` (0: this process).
    static func take(_ pid: pid_t = 0) -> ProcessSample {
        let directory = pid == 0 ? "/proc/self" : "/proc/\(pid)"
        var threads: [Int: Switches] = [:]
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: directory + "/task")) ?? []
        for task in tasks {
            guard let id = Int(task) else { continue }
            let fields = statusFields("\(directory)/task/\(task)/status")
            threads[id] = Switches(
                voluntary: Int(fields["voluntary_ctxt_switches"] ?? "") ?? 0,
                involuntary: Int(fields["nonvoluntary_ctxt_switches"] ?? "") ?? 0)
        }
        let status = statusFields(directory + "/status")
        return ProcessSample(
            cpuNanoseconds: cpuTime(pid), threads: threads, residentKiB: kibibytes(status["VmRSS"]) ?? 0,
            anonymousKiB: kibibytes(status["RssAnon"]) ?? 0,
            fileKiB: (kibibytes(status["RssFile"]) ?? 0) + (kibibytes(status["RssShmem"]) ?? 0),
            peakResidentKiB: kibibytes(status["VmHWM"]) ?? 0)
    }

    /// Context switches from `start` to this sample, thread by thread: threads that started in
    /// between count in full; threads that ended in between cannot be read any more and are
    /// counted in `exited`.
    func switches(since start: ProcessSample) -> (voluntary: Int, involuntary: Int, exited: Int) {
        var voluntary = 0
        var involuntary = 0
        for (id, now) in threads {
            let before = start.threads[id] ?? Switches(voluntary: 0, involuntary: 0)
            voluntary += now.voluntary - before.voluntary
            involuntary += now.involuntary - before.involuntary
        }
        return (voluntary, involuntary, start.threads.keys.filter { threads[$0] == nil }.count)
    }

    /// The process's CPU clock (`clock_getcpuclockid`, nanosecond resolution); `/proc/PID/stat`
    /// ticks when the clock cannot be read.
    static func cpuTime(_ pid: pid_t) -> Int64 {
        var clock = clockid_t()
        if clock_getcpuclockid(pid == 0 ? getpid() : pid, &clock) == 0 {
            var ts = timespec()
            if clock_gettime(clock, &ts) == 0 { return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec) }
        }
        let stat = readText(pid == 0 ? "/proc/self/stat" : "/proc/\(pid)/stat") ?? ""
        // Fields after the command name (which may contain spaces) start at field 3.
        guard let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Int64(fields[11]), let system = Int64(fields[12]) else {
            return 0
        }
        let ticks = Int64(sysconf(Int32(_SC_CLK_TCK)))
        return (user + system) * (1_000_000_000 / max(1, ticks))
    }
}

/// A child process started with `posix_spawn`, its output going to files.
final class ChildProcess: Sendable {
    /// Its process id.
    let pid: pid_t
    /// What it was started as, for messages.
    let name: String
    private let exitStatus = Protected<Int32?>(nil)

    private init(pid: pid_t, name: String) {
        self.pid = pid
        self.name = name
    }

    /// Starts `path` with `arguments` and exactly `environment`; standard input is /dev/null,
    /// output and errors go to the files given (created or truncated).
    static func spawn(
        _ path: String, _ arguments: [String], environment: [String: String], stdout: String, stderr: String
    ) throws(BenchError) -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid = pid_t()
        let rc = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard rc == 0 else { throw BenchError("cannot start \(path): \(String(cString: strerror(rc)))") }
        return ChildProcess(pid: pid, name: URL(fileURLWithPath: path).lastPathComponent)
    }

    /// Sends `signal` unless the process has been reaped.
    func send(_ signal: Int32) {
        if exitStatus.withLock({ $0 }) == nil { kill(pid, signal) }
    }

    /// Whether it has exited (reaping it if so).
    var hasExited: Bool {
        if exitStatus.withLock({ $0 }) != nil { return true }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            exitStatus.withLock { $0 = status }
            return true
        }
        return false
    }

    /// Waits up to `limit` for it to exit; kills it after that. Returns its exit code (128 +
    /// signal for a signal), nil when it had to be killed.
    @discardableResult
    func wait(limit: Duration) -> Int32? {
        if waitUntil(limit: limit, every: 2000, { hasExited }), let status = exitStatus.withLock({ $0 }) {
            let signal = status & 0x7F
            return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
        }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        exitStatus.withLock { $0 = status }
        return nil
    }

    /// Asks it to stop with SIGTERM and waits; returns whether it exited by itself in time.
    @discardableResult
    func terminate(limit: Duration = .seconds(15)) -> Bool {
        send(SIGTERM)
        return wait(limit: limit) != nil
    }
}

/// The receiving end of the systemd readiness protocol: a datagram socket whose path goes in a
/// child's `NOTIFY_SOCKET`, so the benchmark sees `READY=1` the moment the child sends it.
final class NotifyListener {
    /// The socket's path.
    let path: String
    private let descriptor: Int32

    /// Binds a datagram socket at `path` (replacing a stale file).
    init(path: String) throws(BenchError) {
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            throw BenchError("cannot create the notify socket: \(String(cString: strerror(errno)))")
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw BenchError("the notify socket path \(path) is too long for a Unix socket")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard rc == 0 else {
            close(fd)
            throw BenchError("cannot bind the notify socket \(path): \(String(cString: strerror(errno)))")
        }
        self.path = path
        self.descriptor = fd
    }

    deinit {
        close(descriptor)
        unlink(path)
    }

    /// Waits for a datagram containing `READY=1` from `child`; returns the monotonic time it
    /// arrived, nil after `limit` or when the child exits first.
    func waitForReady(from child: ChildProcess, limit: Duration) -> Int64? {
        let deadline = monotonicNanoseconds() + limit.totalNanoseconds
        var buffer = [UInt8](repeating: 0, count: 4096)
        while monotonicNanoseconds() < deadline {
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, 50)
            let arrived = monotonicNanoseconds()
            if ready > 0 {
                let count = recv(descriptor, &buffer, buffer.count, 0)
                if count > 0 {
                    let text = String(decoding: buffer[0..<count], as: UTF8.self)
                    if text.split(separator: "\n").contains("READY=1") { return arrived }
                }
            } else if child.hasExited {
                return nil
            }
        }
        return nil
    }
}

/// The machine a run happens on.
struct MachineInfo: Codable, Sendable {
    /// CPU model (`/proc/cpuinfo`).
    var cpu: String
    /// Online CPUs.
    var cores: Int
    /// Memory, MiB.
    var memoryMiB: Int
    /// Kernel and architecture (`uname`).
    var kernel: String
    /// Load average over the last minute when the run started: a busy machine makes noisy figures.
    var loadAverage: Double

    /// Describes this machine.
    static func current() -> MachineInfo {
        let cpuinfo = readText("/proc/cpuinfo") ?? ""
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") || $0.hasPrefix("Model") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
        var names = utsname()
        uname(&names)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
        let memory = kibibytes(statusFields("/proc/meminfo")["MemTotal"]) ?? 0
        let load = (readText("/proc/loadavg") ?? "").split(separator: " ").first.flatMap { Double($0) } ?? 0
        return MachineInfo(
            cpu: model, cores: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), memoryMiB: memory / 1024,
            kernel: "Linux \(field(names.release)) \(field(names.machine))", loadAverage: load)
    }
}

/// How this benchmark binary was compiled.
var buildConfiguration: String {
    #if DEBUG
        "debug"
    #else
        "release"
    #endif
}

/// A fresh private directory under `$TMPDIR` (or /tmp).
func makeScratchDirectory(_ prefix: String) throws(BenchError) -> String {
    let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
    try? FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    return try makeScratchDirectoryIn(base, prefix)
}

/// A fresh private directory under `base`.
func makeScratchDirectoryIn(_ base: String, _ prefix: String) throws(BenchError) -> String {
    var template = Array("\(base)/\(prefix).XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer -> String? in
        guard let base = buffer.baseAddress, let made = mkdtemp(base) else { return nil }
        return String(cString: made)
    }
    guard let made else {
        throw BenchError("cannot create a directory in \(base): \(String(cString: strerror(errno)))")
    }
    return made
}

/// A code of `length` random digits (never printed).
func randomCode(length: Int = 8) -> String {
    var generator = SystemRandomNumberGenerator()
    return String((0..<length).map { _ in Character(String(Int.random(in: 0...9, using: &generator))) })
}
