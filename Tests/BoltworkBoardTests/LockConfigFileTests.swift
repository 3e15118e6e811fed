import BoltworkBoard
import Foundation
import Testing

@Suite("Lock config files")
struct LockConfigFileTests {
    @Test("the example file loads and states the defaults")
    func example() throws {
        let path = BoardFileTests.boardsDirectory.deletingLastPathComponent().appendingPathComponent(
            "Examples/lock.yaml"
        ).path
        #expect(try LockConfigFile.load(path: path) == LockConfigFile())
    }

    @Test("values are read; an empty file means the defaults")
    func values() throws {
        let config = try LockConfigFile.parse(
            "auto-relock-seconds: 0\npin:\n  min-length: 8\nlockout:\n  attempts: 3\ntime-zone: Asia/Tokyo\n",
            file: "lock.yaml")
        #expect(config.autoRelockSeconds == 0)
        #expect(config.pinMinimumLength == 8)
        #expect(config.lockoutAttempts == 3)
        #expect(config.timeZone == "Asia/Tokyo")
        #expect(config.lockoutFirstSeconds == 30)
        #expect(try LockConfigFile.parse("", file: "lock.yaml") == LockConfigFile())
    }

    @Test("mistakes name the file, line, key and fix, all at once")
    func problems() {
        let yaml =
            "auto-relock: 30\npin:\n  min-length: 3\nbattery:\n  low-percent: 5\ntime-zone: Mars/Olympus\n"
        do {
            _ = try LockConfigFile.parse(yaml, file: "lock.yaml")
            Issue.record("a broken file was accepted")
        } catch {
            let keys = error.problems.map(\.key)
            #expect(keys.contains("auto-relock"))
            #expect(keys.contains("pin.min-length"))
            #expect(keys.contains("time-zone"))
            #expect(
                error.problems.first { $0.key == "auto-relock" }?.fix == "did you mean 'auto-relock-seconds'?"
            )
            #expect(error.problems.first { $0.key == "auto-relock" }?.line == 1)
            #expect(
                error.description.contains("lock.yaml:3: pin.min-length: '3' is not a number from 4 to 12"))
        }
    }

    @Test("thresholds out of order are refused")
    func crossChecks() {
        #expect(throws: BoardFileError.self) {
            try LockConfigFile.parse("battery:\n  low-percent: 5\n", file: "lock.yaml")
        }
        #expect(throws: BoardFileError.self) {
            try LockConfigFile.parse("pin:\n  min-length: 10\n  max-length: 8\n", file: "lock.yaml")
        }
    }
}
