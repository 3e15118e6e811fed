import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A failure to set up or use the control socket, worded for a maker at a terminal.
public struct ControlSocketError: Error, Sendable, CustomStringConvertible {
    /// What failed and what to do.
    public var description: String
    /// The errno, when there was one.
    public var errno: Int32?

    /// Creates an error.
    public init(_ description: String, errno: Int32? = nil) {
        self.description = description
        self.errno = errno
    }
}

/// The daemon's end of the control socket: a Unix stream socket with file-permission access
/// control (mode 0660, owned by a configurable group). One thread accepts connections and one
/// thread per connection reads requests; each request is answered by the handler before the
/// next is read. A handler given the connection's ``ControlSession`` may push event lines on it
/// after the response (subscriptions).
public final class ControlServer: Sendable {
    /// The handler: the request and who sent it, to the response.
    public typealias Handler = @Sendable (ControlRequest, ControlPeer) -> ControlResponse
    /// A handler that sees the connection: the request and its session, to the response.
    public typealias SessionHandler = @Sendable (ControlRequest, ControlSession) -> ControlResponse

    /// How long a write to a client may block before the client is dropped (a client that stops
    /// reading must not hold up the daemon).
    public static let sendTimeoutSeconds = 10

    /// The socket's path.
    public let path: String
    private let listener: Int32
    private let handler: SessionHandler
    private let state = ServerState()

    /// Binds `path` (replacing a stale socket, never another kind of file), sets its mode to
    /// `mode` and its group to `group` (when given), and starts accepting.
    public convenience init(
        path: String, group: String? = nil, mode: mode_t = 0o660, handler: @escaping Handler
    ) throws(ControlSocketError) {
        try self.init(binding: path, group: group, mode: mode) { request, session in
            handler(request, session.peer)
        }
    }

    /// A server whose handler sees each connection's session (to push events on subscriptions).
    public static func withSessions(
        path: String, group: String? = nil, mode: mode_t = 0o660, handler: @escaping SessionHandler
    ) throws(ControlSocketError) -> ControlServer {
        try ControlServer(binding: path, group: group, mode: mode, handler: handler)
    }

    private init(binding path: String, group: String?, mode: mode_t, handler: @escaping SessionHandler)
        throws(ControlSocketError)
    {
        self.path = path
        self.handler = handler
        var info = stat()
        if lstat(path, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFSOCK else {
                throw ControlSocketError(
                    "\(path) exists and is not a socket; move it away or choose another socket path")
            }
            unlink(path)
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let (fd, bound) = try Self.socket(at: path) { fd, address, length in bind(fd, address, length) }
        guard bound == 0 else {
            let code = errno
            Glibc.close(fd)
            throw ControlSocketError(
                "cannot bind \(path): \(String(cString: strerror(code))); check that the directory exists and the daemon may write to it",
                errno: code)
        }
        if let group {
            guard let entry = getgrnam(group) else {
                Glibc.close(fd)
                unlink(path)
                throw ControlSocketError(
                    "no group '\(group)': create it (`sudo groupadd \(group)`) or set another control group")
            }
            if chown(path, UInt32.max, entry.pointee.gr_gid) != 0 {
                let code = errno
                Glibc.close(fd)
                unlink(path)
                throw ControlSocketError(
                    "cannot give \(path) to group '\(group)': \(String(cString: strerror(code)))", errno: code
                )
            }
        }
        chmod(path, mode)
        guard listen(fd, 16) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw ControlSocketError("cannot listen on \(path)", errno: code)
        }
        listener = fd
        let server = self
        let thread = Thread { server.acceptLoop() }
        thread.name = "boltd-control"
        thread.start()
    }

    /// Stops accepting, closes the socket and removes its file.
    public func close() {
        guard state.markClosed() else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
        unlink(path)
        for connection in state.takeConnections() { shutdown(connection, Int32(SHUT_RDWR)) }
    }

    private func acceptLoop() {
        while !state.isClosed {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
            var timeout = timeval(tv_sec: Self.sendTimeoutSeconds, tv_usec: 0)
            _ = setsockopt(
                connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            state.add(connection)
            let server = self
            let thread = Thread { server.serve(connection) }
            thread.name = "boltd-client"
            thread.start()
        }
    }

    private func serve(_ connection: Int32) {
        let session = ControlSession(peer: Self.peer(of: connection), descriptor: connection)
        defer {
            state.remove(connection)
            session.close()
            Glibc.close(connection)
        }
        var reader = LineReader(descriptor: connection)
        while let line = reader.next() {
            session.beginRequest()
            let response: ControlResponse
            do {
                let request = try ControlCoding.decoder.decode(ControlRequest.self, from: line)
                response = handler(request, session)
            } catch {
                response = .failure(
                    -1, ControlFailure(code: "bad-request", message: "not a request: \(error)"))
            }
            guard let data = try? ControlCoding.line(response), session.respond(data) else { return }
        }
    }

    static func peer(of connection: Int32) -> ControlPeer {
        // struct ucred (needs _GNU_SOURCE in C): pid_t, uid_t, gid_t.
        struct PeerCredentials {
            var pid: Int32 = 0
            var uid: UInt32 = 0
            var gid: UInt32 = 0
        }
        var credentials = PeerCredentials()
        var length = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard getsockopt(connection, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 else {
            return ControlPeer(pid: 0, uid: UInt32.max, gid: UInt32.max)
        }
        return ControlPeer(pid: credentials.pid, uid: credentials.uid, gid: credentials.gid)
    }

    /// A Unix stream socket with `operation` (bind or connect) applied to `path`: the
    /// descriptor and the operation's result; errno is the operation's when `rc` is not 0.
    static func socket(
        at path: String, _ operation: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Int32
    ) throws(ControlSocketError) -> (descriptor: Int32, rc: Int32) {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlSocketError("cannot create a socket", errno: errno) }
        guard var address = address(path) else {
            Glibc.close(fd)
            throw ControlSocketError("the socket path \(path) is too long (at most 107 bytes)")
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                operation(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return (fd, rc)
    }

    static func address(_ path: String) -> sockaddr_un? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
            raw[bytes.count] = 0
        }
        return address
    }

    static func writeAll(_ descriptor: Int32, _ data: Data) -> Bool {
        data.withUnsafeBytes { raw -> Bool in
            guard let base = raw.baseAddress else { return true }
            var offset = 0
            while offset < raw.count {
                let written = send(descriptor, base + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if written < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += written
            }
            return true
        }
    }
}

/// Connection bookkeeping for the server.
private final class ServerState: @unchecked Sendable {
    // Safety: every field is read and written with `lock` held.
    private let lock = NSLock()
    private var closed = false
    private var connections: Set<Int32> = []

    var isClosed: Bool { lock.withLock { closed } }

    func markClosed() -> Bool {
        lock.withLock {
            defer { closed = true }
            return !closed
        }
    }

    func add(_ connection: Int32) { lock.withLock { _ = connections.insert(connection) } }
    func remove(_ connection: Int32) { lock.withLock { _ = connections.remove(connection) } }
    func takeConnections() -> Set<Int32> {
        lock.withLock {
            defer { connections = [] }
            return connections
        }
    }
}

/// One client connection as a handler sees it: who is on the other end, and a way to push event
/// lines after the response (a subscription such as `log` with `follow`). Event lines pushed
/// while a request is being handled wait until its response is written, so a client always
/// reads the response first. After the connection closes, pushes return false and the cleanups
/// given to ``onClose(_:)`` have run.
public final class ControlSession: Sendable {
    private struct State {
        var closed = false
        var responding = false
        var pending: [Data] = []
        var cleanups: [@Sendable () -> Void] = []
    }

    /// Who is on the other end (from `SO_PEERCRED`).
    public let peer: ControlPeer
    private let descriptor: Int32
    private let state = Mutex(State())

    init(peer: ControlPeer, descriptor: Int32) {
        self.peer = peer
        self.descriptor = descriptor
    }

    /// Whether the connection has closed.
    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Sends `event` to the client (after the response being prepared, if any). Returns false
    /// when the connection is closed or the client stopped reading; the connection is then
    /// shut down.
    @discardableResult
    public func push(_ event: ControlEvent) -> Bool {
        guard let data = try? ControlCoding.line(event) else { return false }
        let written = state.withLock { state -> Bool in
            guard !state.closed else { return false }
            if state.responding {
                state.pending.append(data)
                return true
            }
            return ControlServer.writeAll(descriptor, data)
        }
        if !written { shutdown(descriptor, Int32(SHUT_RDWR)) }
        return written
    }

    /// Runs `cleanup` once when the connection closes (at once if it already has).
    public func onClose(_ cleanup: @escaping @Sendable () -> Void) {
        let closed = state.withLock { state -> Bool in
            if !state.closed { state.cleanups.append(cleanup) }
            return state.closed
        }
        if closed { cleanup() }
    }

    func beginRequest() {
        state.withLock { $0.responding = true }
    }

    /// Writes the response, then any events pushed while it was prepared.
    func respond(_ response: Data) -> Bool {
        state.withLock { state -> Bool in
            defer {
                state.responding = false
                state.pending = []
            }
            guard !state.closed, ControlServer.writeAll(descriptor, response) else { return false }
            for event in state.pending where !ControlServer.writeAll(descriptor, event) { return false }
            return true
        }
    }

    func close() {
        let cleanups = state.withLock { state -> [@Sendable () -> Void] in
            state.closed = true
            defer { state.cleanups = [] }
            return state.cleanups
        }
        for cleanup in cleanups { cleanup() }
    }
}

extension ControlPeer {
    /// The peer's account name (`uid 1234` when it has none), for the audit log.
    public var accountName: String {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil,
            let name = entry.pw_name
        else {
            return "uid \(uid)"
        }
        return String(cString: name)
    }
}

/// Reads '\n'-terminated lines from a descriptor (at most 1 MiB per line).
struct LineReader {
    let descriptor: Int32
    var buffer = Data()

    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    mutating func next() -> Data? {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = buffer[buffer.startIndex..<newline]
                buffer.removeSubrange(buffer.startIndex...newline)
                return Data(line)
            }
            guard buffer.count < 1 << 20 else { return nil }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = recv(descriptor, &chunk, chunk.count, 0)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return nil }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }
}

/// A client's end of the control socket.
public final class ControlClient {
    private let descriptor: Int32
    private var reader: LineReader
    private var nextID = 1

    /// Connects to the daemon at `path`. The errors say what to do: start the daemon, or join
    /// the socket's group. With `receiveTimeout`, waiting longer than that for a line counts as
    /// a lost connection (for tests and health checks; never for following the log).
    public init(path: String, receiveTimeout: Duration? = nil) throws(ControlSocketError) {
        let (fd, connected) = try ControlServer.socket(at: path) { fd, address, length in
            connect(fd, address, length)
        }
        guard connected == 0 else {
            let code = errno
            Glibc.close(fd)
            switch code {
            case ENOENT, ECONNREFUSED:
                throw ControlSocketError(
                    "boltd is not running (nothing is listening on \(path)): start it with `sudo systemctl start boltd`, or `boltd run --simulated` to try the simulator",
                    errno: code)
            case EACCES, EPERM:
                var info = stat()
                var group = "boltwork"
                if stat(path, &info) == 0, let entry = getgrgid(info.st_gid), let name = entry.pointee.gr_name
                {
                    group = String(cString: name)
                }
                throw ControlSocketError(
                    "permission denied on \(path): add your user to the '\(group)' group (`sudo usermod -aG \(group) $USER`, then log in again)",
                    errno: code)
            default:
                throw ControlSocketError(
                    "cannot connect to \(path): \(String(cString: strerror(code)))", errno: code)
            }
        }
        if let receiveTimeout {
            let (seconds, attoseconds) = receiveTimeout.components
            var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        descriptor = fd
        reader = LineReader(descriptor: fd)
    }

    deinit {
        Glibc.close(descriptor)
    }

    /// Sends `command` and waits for its response.
    public func send(_ command: String, _ arguments: [String: JSONValue] = [:]) throws(ControlSocketError)
        -> ControlResponse
    {
        let request = ControlRequest(id: nextID, command: command, arguments: arguments)
        nextID += 1
        guard let data = try? ControlCoding.line(request), ControlServer.writeAll(descriptor, data) else {
            throw ControlSocketError("the connection to boltd was lost while sending")
        }
        guard let line = reader.next() else {
            throw ControlSocketError("boltd closed the connection without answering")
        }
        do {
            return try ControlCoding.decoder.decode(ControlResponse.self, from: line)
        } catch {
            throw ControlSocketError("boltd sent an answer that is not a response: \(error)")
        }
    }

    /// Waits for the next event line of a subscription; nil when the daemon closed the
    /// connection (it stopped).
    public func nextEvent() throws(ControlSocketError) -> ControlEvent? {
        guard let line = reader.next() else { return nil }
        do {
            return try ControlCoding.decoder.decode(ControlEvent.self, from: line)
        } catch {
            throw ControlSocketError("boltd sent a line that is not an event: \(error)")
        }
    }
}
