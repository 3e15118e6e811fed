import BoltworkControl
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Control socket and systemd notifications")
struct ControlTests {
    func temporaryPath(_ name: String) -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "boltwork-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent(name).path
    }

    @Test("requests round-trip as JSON lines, with the peer's credentials, in order")
    func roundTrip() throws {
        let path = temporaryPath("control.sock")
        let server = try ControlServer(path: path) { request, peer in
            switch request.command {
            case "echo":
                .success(
                    request.id,
                    .object(["uid": .number(Double(peer.uid)), "args": .object(request.arguments)]))
            default:
                .failure(
                    request.id,
                    ControlFailure(code: "unknown-command", message: "no command \(request.command)"))
            }
        }
        defer { server.close() }
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o660)

        let client = try ControlClient(path: path)
        let first = try client.send("echo", ["name": .string("Ada")])
        #expect(first.ok)
        #expect(first.id == 1)
        #expect(first.result?.object?["uid"]?.number == Double(getuid()))
        #expect(first.result?.object?["args"]?.object?["name"]?.string == "Ada")
        let second = try client.send("nope")
        #expect(second.id == 2)
        #expect(!second.ok)
        #expect(second.error?.code == "unknown-command")
    }

    @Test("a session handler's events follow its response, and the session knows when the client left")
    func sessionEvents() throws {
        let path = temporaryPath("control.sock")
        let closed = Locked(false)
        let sessions = Locked([ControlSession]())
        let server = try ControlServer.withSessions(path: path) { request, session in
            sessions.withLock { $0.append(session) }
            session.onClose { closed.withLock { $0 = true } }
            // Pushed while the request is handled: delivered after the response.
            #expect(session.push(ControlEvent(id: request.id, event: "tick", data: .integer(1))))
            return .success(request.id, .object(["peer": .integer(session.peer.uid)]))
        }
        defer { server.close() }
        do {
            let client = try ControlClient(path: path, receiveTimeout: .seconds(30))
            let response = try client.send("subscribe")
            #expect(response.ok)
            #expect(response.result?.object?["peer"]?.int == Int(getuid()))
            let first = try #require(try client.nextEvent())
            #expect(first == ControlEvent(id: response.id, event: "tick", data: .integer(1)))
            let session = try #require(sessions.withLock { $0.first })
            #expect(session.push(ControlEvent(id: response.id, event: "tick", data: .integer(2))))
            #expect(try client.nextEvent()?.data == .integer(2))
        }
        let session = try #require(sessions.withLock { $0.first })
        var left = false
        for _ in 0..<1_000_000 {
            left = closed.withLock { $0 }
            if left { break }
            sched_yield()
        }
        #expect(left)
        #expect(session.isClosed)
        #expect(!session.push(ControlEvent(id: 1, event: "tick", data: .null)))
    }

    @Test("the peer's account name comes from its uid")
    func accountName() {
        #expect(ControlPeer(pid: 0, uid: 0, gid: 0).accountName == "root")
        #expect(ControlPeer(pid: 0, uid: 4_000_000_000, gid: 0).accountName == "uid 4000000000")
    }

    @Test("no daemon listening says how to start it")
    func daemonDown() {
        let error = #expect(throws: ControlSocketError.self) {
            try ControlClient(path: temporaryPath("absent.sock"))
        }
        #expect(error?.description.contains("boltd is not running") == true)
    }

    @Test("a path that is a regular file is never replaced")
    func notASocket() throws {
        let path = temporaryPath("control.sock")
        try Data("precious".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: ControlSocketError.self) {
            try ControlServer(path: path) { request, _ in .success(request.id) }
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "precious")
    }

    @Test("a garbage line gets a bad-request answer and the connection stays usable")
    func badRequest() throws {
        let path = temporaryPath("control.sock")
        let server = try ControlServer(path: path) { request, _ in .success(request.id) }
        defer { server.close() }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(connected == 0)
        let text = "not json\n{\"id\":7,\"command\":\"x\"}\n"
        _ = text.withCString { send(fd, $0, strlen($0), 0) }
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while received.filter({ $0 == 0x0A }).count < 2 {
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            received.append(contentsOf: buffer[0..<count])
        }
        let lines = String(decoding: received, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.first?.contains("bad-request") == true)
        #expect(lines.last?.contains("\"id\":7") == true)
    }

    @Test("readiness and watchdog datagrams reach NOTIFY_SOCKET; the interval comes from WATCHDOG_USEC")
    func systemd() throws {
        let path = temporaryPath("notify.sock")
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "20000000"])
        #expect(notifier.watchdogPingInterval == .seconds(10))
        #expect(notifier.ready(status: "locked"))
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = recv(fd, &buffer, buffer.count, 0)
        #expect(String(decoding: buffer[0..<max(0, count)], as: UTF8.self) == "READY=1\nSTATUS=locked")

        let outside = SystemdNotifier(environment: [:])
        #expect(!outside.ready())
        #expect(outside.watchdogInterval == nil)
        #expect(
            SystemdNotifier(environment: ["WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"]).watchdogInterval
                == nil)
    }
}

/// A value behind a lock, shared with the server's threads.
private final class Locked<Value>: @unchecked Sendable {
    // Safety: `value` is only touched with `lock` held.
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
