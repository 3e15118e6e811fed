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
