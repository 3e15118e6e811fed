import ArgumentParser
import BoltworkBoard
import BoltworkControl
import BoltworkDaemon
import BoltworkHAL
import BoltworkLock
import BoltworkSimulation
import BoltworkStore
import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

extension Boltd {
    struct Simulate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the lock on the simulated board: interactive in a terminal, or from a script.",
            discussion: """
                In a terminal, a full-screen view of the lock in real time: the real controller over \
                the real drivers on the simulated board. It first asks for the admin's name and code \
                (typed on the simulated keypad; a real lock has no default code), then shows the keypad, \
                the bolt, the door, the battery, the mode, the lockout and the audit log. Keys: 0-9 # * \
                press the keypad; d door, j jam, f free, h turn by hand, l lock (inside button), \
                u unlock (remote), b/c battery -/+10 %, p motor power, m mode, q quit.

                Without a terminal, or with --script or --demo, a script on virtual time. Commands \
                (one per line): init NAME CODE, keys 2468#, wait 5s, lock, unlock, door open|close, \
                jam PERCENT, free, turn PERCENT, battery PERCENT, power off|on, \
                mode normal|vacation|privacy|passage, status, log, verify.
                """)

        @Option(help: "The board file.")
        var board = "Boards/simulator.yaml"

        @Option(help: "A script file (runs the scripted simulator).")
        var script: String?

        @Option(help: "The lock config file (YAML). Without it, the documented defaults.")
        var config: String?

        @Option(
            help: ArgumentHelp(
                "Interactive: keep the lock's state (users, lockout, audit log) in DIR/boltwork.db between runs.",
                valueName: "dir"))
        var state: String?

        @Option(
            help: ArgumentHelp(
                "Interactive: also serve the control socket at PATH, so a second terminal can drive the lock.",
                valueName: "path"))
        var socket: String?

        @Flag(
            help: "Run the built-in demonstration: first code, wrong codes, lockout, a jam, a dying battery.")
        var demo = false

        func run() throws {
            let boardFile = try BoardFile.load(path: board)
            let lockConfig =
                try config.map { path throws(BoardFileError) in try LockConfigFile.load(path: path) }
                ?? LockConfigFile()
            if !demo, script == nil, let terminal = Terminal() {
                try InteractiveSimulator(
                    boardFile: boardFile, config: lockConfig, statePath: state, socketPath: socket,
                    terminal: terminal
                ).run()
                return
            }
            if state != nil || socket != nil {
                throw ValidationError(
                    "--state and --socket are for the interactive simulator, which needs a terminal on standard input and output"
                )
            }
            let simulator = try ScriptedSimulator(boardFile: boardFile, config: lockConfig) { print($0) }
            let text: String
            if demo {
                text = ScriptedSimulator.demoScript
            } else if let script {
                text = try String(contentsOfFile: script, encoding: .utf8)
            } else {
                var lines: [String] = []
                while let line = readLine() { lines.append(line) }
                text = lines.joined(separator: "\n")
            }
            if !simulator.run(script: text) { throw ExitCode(2) }
        }
    }
}

/// The interactive simulator's front end: the terminal, the keyboard thread, the signals and
/// the loop that paces the simulation in real time and redraws what changed.
struct InteractiveSimulator {
    let boardFile: BoardFile
    let config: LockConfigFile
    let statePath: String?
    let socketPath: String?
    let terminal: Terminal

    func run() throws {
        let store: any LockStore
        if let statePath {
            store = try SQLiteLockStore(path: statePath + "/boltwork.db")
        } else {
            store = MemoryLockStore()
        }
        let clock = PacedVirtualClock()
        let session = try SimulatorSession(boardFile: boardFile, config: config, store: store, clock: clock)
        var server: ControlServer?
        if let socketPath {
            do {
                server = try ControlServer(path: socketPath) { request, peer in
                    ControlHandler.handle(request, peer: peer, lock: session.lock)
                }
            } catch {
                session.shutdown()
                throw error
            }
        }
        let color = ProcessInfo.processInfo.environment["NO_COLOR"].map(\.isEmpty) ?? true

        // Signals end the loop (or repaint, for a resize); the terminal is restored below.
        let stopSignals = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]
        for number in stopSignals + [SIGWINCH] { signal(number, SIG_IGN) }
        var sources = stopSignals.map { number -> any DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { clock.stop() }
            source.resume()
            return source
        }
        let resize = DispatchSource.makeSignalSource(signal: SIGWINCH, queue: .global())
        resize.setEventHandler {
            terminal.invalidate()
            clock.wake()
        }
        resize.resume()
        sources.append(resize)

        let keyboard = try Keyboard(session: session, clock: clock, terminal: terminal)
        do {
            try terminal.enter()
        } catch {
            keyboard.stop()
            server?.close()
            session.shutdown()
            throw error
        }
        keyboard.start()
        clock.run(
            tick: { session.isAnimating ? .milliseconds(50) : .seconds(1) },
            afterStep: {
                var snapshot = session.snapshot()
                snapshot.socketPath = socketPath
                let size = terminal.size
                let renderer = SimulatorRenderer(width: size.columns - 1, height: size.rows, color: color)
                terminal.draw(renderer.render(snapshot), color: color)
            })
        terminal.restore()
        keyboard.stop()
        server?.close()
        session.shutdown()
        clock.virtual.advance(to: clock.realNow)
        for source in sources { source.cancel() }
        if let statePath {
            print("boltd simulate: stopped; the lock's state is kept in \(statePath)/boltwork.db")
        } else {
            print("boltd simulate: stopped (the state was in memory; --state DIR keeps it)")
        }
    }
}

/// Reads the keyboard on its own thread and turns bytes into actions. It blocks in `poll(2)`
/// on standard input and a pipe that ``stop()`` writes to, so it costs nothing while idle.
final class Keyboard: Sendable {
    private let session: SimulatorSession
    private let clock: PacedVirtualClock
    private let terminal: Terminal
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let thread = Protected<pthread_t?>(nil)

    init(session: SimulatorSession, clock: PacedVirtualClock, terminal: Terminal) throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            throw SimulateError("cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        self.session = session
        self.clock = clock
        self.terminal = terminal
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    func start() {
        let handle = startThread { [self] in loop() }
        thread.withLock { $0 = handle }
    }

    func stop() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
        if let handle = thread.withLock({ $0 }) { pthread_join(handle, nil) }
        close(wakeRead)
        close(wakeWrite)
    }

    private func loop() {
        var input = SimulatorInput()
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            var fds = [
                pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&fds, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                clock.stop()
                return
            }
            if fds[1].revents != 0 { return }
            guard fds[0].revents != 0 else { continue }
            let count = read(STDIN_FILENO, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                clock.stop()
                return
            }
            for byte in buffer[0..<count] {
                guard let action = input.action(for: byte, editingName: session.isEditingName) else {
                    continue
                }
                switch action {
                case .quit:
                    clock.stop()
                    return
                case .redraw:
                    terminal.invalidate()
                default:
                    session.perform(action)
                }
            }
            clock.wake()
        }
    }
}
