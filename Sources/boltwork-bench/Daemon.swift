import BoltworkControl
import BoltworkLock
import BoltworkStore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `boltd` as a child process: start → ready over the systemd readiness protocol, then one
/// long run left idle beside the polling baseline (another child on the same backend), each
/// measured from outside through `/proc` and its CPU clock.
struct DaemonBench {
    /// The boltd executable.
    var boltd: String
    /// `boltd run` arguments apart from `--state` and `--socket`.
    var runArguments: [String]
    /// The benchmark executable (for the polling child).
    var bench: String
    /// Backend argument for the polling child (`simulated`, `gpio-sim`).
    var pollerBackend: String
    /// Scratch directory.
    var scratch: String
    /// Start-up runs.
    var startRuns: Int
    /// The idle window, seconds.
    var idleSeconds: Int
    /// Limit for one start (TCG needs more).
    var readyLimit: Duration
    /// What a subject is called in the table (`boltd run --simulated`).
    var subject: String

    /// Runs after boltd is ready and before the idle window; returns what the peak RSS covers.
    var prepare: (_ socket: String, _ code: String) throws(BenchError) -> String

    private var stateDirectory: String { scratch + "/state" }
    private var socket: String { scratch + "/control.sock" }

    private func environment(notify: String) -> [String: String] {
        var environment = ["NOTIFY_SOCKET": notify, "LANG": "C.UTF-8"]
        for name in ["PATH", "HOME", "TZ", "LD_LIBRARY_PATH"] {
            if let value = ProcessInfo.processInfo.environment[name] { environment[name] = value }
        }
        return environment
    }

    private func startBoltd(_ label: String, listener: NotifyListener) throws(BenchError) -> (
        ChildProcess, Int64
    ) {
        let started = monotonicNanoseconds()
        let child = try ChildProcess.spawn(
            boltd, ["run"] + runArguments + ["--state", stateDirectory, "--socket", socket],
            environment: environment(notify: listener.path), stdout: "\(scratch)/\(label).out",
            stderr: "\(scratch)/\(label).err")
        guard let ready = listener.waitForReady(from: child, limit: readyLimit) else {
            child.terminate()
            throw BenchError(
                "boltd did not report READY=1 within \(readyLimit): \(tail("\(scratch)/\(label).err"))")
        }
        return (child, ready - started)
    }

    /// Measures start-up, then the idle window of boltd and the polling baseline.
    func run() throws(BenchError) -> (daemon: DaemonFigure, idle: [IdleFigure], notes: [String]) {
        var notes: [String] = []
        let code = randomCode()
        try initializeAdmin(code: code)
        let listener = try NotifyListener(path: scratch + "/notify.sock")

        var startTimes: [Int64] = []
        for run in 0..<startRuns {
            progress("boltd start → ready, run \(run + 1) of \(startRuns)")
            let (child, elapsed) = try startBoltd("start-\(run)", listener: listener)
            startTimes.append(elapsed)
            if !child.terminate() {
                notes.append("boltd start-up run \(run + 1) had to be killed after SIGTERM")
            }
        }

        progress("idle: starting boltd and the polling scanner")
        let (daemon, _) = try startBoltd("idle", listener: listener)
        defer { daemon.terminate() }
        let pollerListener = try NotifyListener(path: scratch + "/notify-poll.sock")
        let poller = try ChildProcess.spawn(
            bench, ["idle-child", "--backend", pollerBackend],
            environment: environment(notify: pollerListener.path),
            stdout: scratch + "/poller.out", stderr: scratch + "/poller.err")
        defer { poller.terminate() }
        guard pollerListener.waitForReady(from: poller, limit: readyLimit) != nil else {
            throw BenchError("the polling scanner did not start: \(tail(scratch + "/poller.err"))")
        }
        let peakIncludes = try prepare(socket, code)
        // Let the last timers of the moves run out and idle worker threads (Dispatch keeps them
        // a few seconds) exit, so the window sees the daemon as it stays.
        pause(microseconds: 8_000_000)

        progress("idle: \(idleSeconds) s window, nobody touches the keypad")
        let daemonStart = ProcessSample.take(daemon.pid)
        let pollerStart = ProcessSample.take(poller.pid)
        let windowStart = monotonicNanoseconds()
        poller.send(SIGUSR1)
        pause(microseconds: Int64(idleSeconds) * 1_000_000)
        let daemonEnd = ProcessSample.take(daemon.pid)
        let pollerEnd = ProcessSample.take(poller.pid)
        let seconds = Double(monotonicNanoseconds() - windowStart) / 1e9
        if !daemon.terminate() { notes.append("boltd had to be killed after SIGTERM") }
        if !poller.terminate() { notes.append("the polling scanner had to be killed after SIGTERM") }

        let daemonScans = parseStopLine(readText(scratch + "/idle.err") ?? "")
        if daemonScans == nil {
            notes.append("boltd's stop line (keypad scans) was not found in its log; scans not counted")
        }
        let pollerCounts = parsePollerOutput(readText(scratch + "/poller.out") ?? "")
        let idle = [
            IdleFigure(
                subject: subject, start: daemonStart, end: daemonEnd, seconds: seconds, scans: daemonScans),
            IdleFigure(
                subject: "polling scanner, 10 ms", start: pollerStart, end: pollerEnd, seconds: seconds,
                scans: pollerCounts),
        ]
        let figure = DaemonFigure(
            startToReady: Distribution(nanoseconds: startTimes), idleResidentKiB: daemonEnd.residentKiB,
            idleAnonymousKiB: daemonEnd.anonymousKiB, idleFileKiB: daemonEnd.fileKiB,
            peakResidentKiB: daemonEnd.peakResidentKiB, peakIncludes: peakIncludes)
        return (figure, idle, notes)
    }

    /// Sets the first admin code as `boltd init` does, so the daemon runs with keypad entry on.
    private func initializeAdmin(code: String) throws(BenchError) {
        do {
            try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
            let store = try SQLiteLockStore(path: stateDirectory + "/boltwork.db")
            let access = try AccessController(store: store, wallClock: SystemWallClock())
            _ = try access.initializeAdmin(name: "bench", pin: code)
        } catch {
            throw BenchError("cannot set the admin code in \(stateDirectory): \(error)")
        }
    }

    /// Keypad scans from boltd's stop line, `stopped: N keypad scans, M clock wake-ups`.
    private func parseStopLine(_ log: String) -> Int? {
        for line in log.split(separator: "\n") where line.contains("keypad scans") {
            guard let range = line.range(of: "stopped: ") else { continue }
            return Int(line[range.upperBound...].split(separator: " ").first ?? "")
        }
        return nil
    }

    /// Scans the polling child made between the mark (SIGUSR1) and its end.
    private func parsePollerOutput(_ text: String) -> Int? {
        guard let data = text.split(separator: "\n").last.map({ Data($0.utf8) }),
            let counts = try? JSONDecoder().decode(PollerCounts.self, from: data)
        else { return nil }
        return counts.scansAtEnd - counts.scansAtMark
    }
}

/// What the polling child prints when it stops.
struct PollerCounts: Codable {
    var scansAtMark: Int
    var scansAtEnd: Int
    var errors: Int
}

extension IdleFigure {
    /// The difference between two samples of one process over a window.
    init(subject: String, start: ProcessSample, end: ProcessSample, seconds: Double, scans: Int?) {
        let cpu = Double(end.cpuNanoseconds - start.cpuNanoseconds) / 1000
        let switches = end.switches(since: start)
        self.init(
            subject: subject, seconds: seconds, cpuMicroseconds: cpu,
            corePercent: cpu / (seconds * 1e6) * 100,
            wakeups: switches.voluntary, preemptions: switches.involuntary, scans: scans,
            threads: end.threads.count, threadsExited: switches.exited, residentKiB: end.residentKiB,
            peakResidentKiB: end.peakResidentKiB)
    }
}

/// The last lines of a log file, for error messages.
func tail(_ path: String, lines: Int = 6) -> String {
    let text = readText(path) ?? ""
    let last = text.split(separator: "\n").suffix(lines).joined(separator: " | ")
    return last.isEmpty ? "(\(path) is empty)" : last
}

/// Sends a control request and insists on success.
func control(_ client: ControlClient, _ command: String, _ arguments: [String: JSONValue] = [:])
    throws(BenchError) -> JSONValue?
{
    let response: ControlResponse
    do {
        response = try client.send(command, arguments)
    } catch {
        throw BenchError("boltd control '\(command)' failed: \(error)")
    }
    guard response.ok else {
        throw BenchError(
            "boltd refused '\(command)': \(response.error.map { "\($0.code): \($0.message)" } ?? "no reason")"
        )
    }
    return response.result
}
