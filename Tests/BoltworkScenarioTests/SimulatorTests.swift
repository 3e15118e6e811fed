import BoltworkBoard
import BoltworkDaemon
import BoltworkHAL
import BoltworkLock
import Foundation
import Testing

@Suite("The scripted simulator")
struct SimulatorTests {
    func run(_ script: String) throws -> (ok: Bool, lines: [String]) {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Boards/simulator.yaml").path
        let lines = Protected([String]())
        let simulator = try ScriptedSimulator(boardFile: try BoardFile.load(path: path)) { line in
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
}
