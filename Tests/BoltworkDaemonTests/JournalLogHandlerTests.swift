import BoltworkDaemon
import BoltworkHAL
import Foundation
import Logging
import Testing

@Suite("The daemon's log handler")
struct JournalLogHandlerTests {
    @Test("journal lines carry the sd-daemon priority, plain lines the level name")
    func prefixes() {
        #expect(
            JournalLogHandler.line(level: .info, message: "bolt locked", format: .journal) == "<6>bolt locked"
        )
        #expect(JournalLogHandler.line(level: .error, message: "fault", format: .journal) == "<3>fault")
        #expect(
            JournalLogHandler.line(level: .warning, message: "no code", format: .plain) == "warning: no code")
        let priorities = Logger.Level.allCases.map(JournalLogHandler.priority(of:))
        #expect(priorities == [7, 7, 6, 5, 4, 3, 2])
    }

    @Test("a message is always one line; metadata follows sorted as key=value")
    func oneLine() {
        let line = JournalLogHandler.line(
            level: .notice, message: "first\nsecond\r\nthird", metadata: ["z": "1", "a": "two words"],
            format: .plain)
        #expect(line == "notice: first second third a=\"two words\" z=1")
    }

    @Test("the logger drops messages below the level and writes the rest through the handler")
    func levels() {
        let lines = Protected([String]())
        let logger = Logger(label: "test") { _ in
            JournalLogHandler(level: .notice, format: .journal) { line in lines.withLock { $0.append(line) } }
        }
        logger.info("dropped")
        logger.notice("boltd ready", metadata: ["board": "Simulator"])
        logger.critical("not recorded")
        #expect(lines.withLock { $0 } == ["<5>boltd ready board=Simulator", "<2>not recorded"])
    }

    @Test("JOURNAL_STREAM must name standard error's device and inode")
    func journalDetection() {
        #expect(!JournalLogHandler.standardErrorIsJournal(environment: [:]))
        #expect(!JournalLogHandler.standardErrorIsJournal(environment: ["JOURNAL_STREAM": "garbage"]))
        var info = stat()
        guard fstat(STDERR_FILENO, &info) == 0 else { return }
        let matching = "\(info.st_dev):\(info.st_ino)"
        let other = "\(info.st_dev):\(UInt64(info.st_ino) &+ 1)"
        #expect(JournalLogHandler.standardErrorIsJournal(environment: ["JOURNAL_STREAM": matching]))
        #expect(!JournalLogHandler.standardErrorIsJournal(environment: ["JOURNAL_STREAM": other]))
    }
}
