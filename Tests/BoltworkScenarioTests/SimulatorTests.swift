import BoltworkBoard
import BoltworkDaemon
import BoltworkHAL
import BoltworkLock
import Foundation
import Testing

@Suite("The scripted simulator")
struct SimulatorTests {
    func run(_ script: String, config: LockConfigFile = LockConfigFile()) throws -> (
        ok: Bool, lines: [String]
    ) {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Boards/simulator.yaml").path
        let lines = Protected([String]())
        let simulator = try ScriptedSimulator(boardFile: try BoardFile.load(path: path), config: config) {
            line in
            lines.withLock { $0.append(line) }
        }
        let ok = simulator.run(script: script)
        return (ok, lines.withLock { $0 })
    }

    @Test("the demonstration shows each behaviour as the lock records it, with an intact chain")
    func demo() throws {
        let (ok, lines) = try run(ScriptedSimulator.demoScript)
        #expect(ok)
        let text = lines.joined(separator: "\n")
        for expected in [
            "no-admin-code (keypad)", "unlocked (keypad) by admin", "locked (auto)",
            "lockout-started (keypad)",
            "locked-out (keypad)", "door-open (button)", "jammed (button)", "insufficient-battery (remote)",
            "audit chain: intact",
        ] {
            #expect(text.contains(expected), "missing: \(expected)")
        }
        #expect(!text.contains("246810"), "the code never appears in the output")
    }

    @Test("a manual turn is recorded with source manual; an unknown command is reported")
    func manualTurnAndErrors() throws {
        let (ok, lines) = try run("turn 100\nwait 1s\nfrobnicate\n")
        #expect(!ok)
        #expect(lines.contains { $0.contains("locked (manual)") })
        #expect(lines.contains { $0.hasPrefix("? frobnicate") })
    }

    @Test("the lock config file reaches the lock: three attempts and no auto-relock")
    func configTakesEffect() throws {
        let config = try LockConfigFile.parse(
            "auto-relock-seconds: 0\nlockout:\n  attempts: 3\n", file: "lock.yaml")
        let (_, lines) = try run(
            "init admin 246810\nkeys 246810#\nwait 60s\nstatus\nkeys 111111#\nkeys 222222#\nkeys 333333#\n",
            config: config)
        #expect(lines.contains { $0.contains("lockout-started") && $0.contains("after 3 wrong codes") })
        #expect(!lines.contains { $0.contains("locked (auto)") }, "auto-relock is off")
        #expect(lines.contains { $0.hasPrefix("status: bolt unlocked") })
    }
}
