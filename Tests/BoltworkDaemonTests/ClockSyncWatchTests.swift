import BoltworkDaemon
import BoltworkDoctor
import BoltworkHAL
import Foundation
import Testing

@Suite("Watching the wall clock's synchronisation for the access layer")
struct ClockSyncWatchTests {
    /// A probe whose kernel answer the test sets; the other sources cannot tell.
    final class FakeKernel: Sendable {
        let answer = Protected<Result<Bool, ClockProbe.KernelError>>(.success(true))
        let calls = Protected(0)
        var probe: ClockProbe {
            ClockProbe(
                kernel: { [self] in
                    calls.withLock { $0 += 1 }
                    return answer.withLock { $0 }
                },
                timesyncFlag: { false }, timedatectl: { nil })
        }
    }

    /// Waits (up to a generous deadline) for `condition`; the watch runs on its own thread.
    func eventually(_ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if condition() { return true }
            usleep(1000)
        }
        return condition()
    }

    @Test("an unsynchronised clock is reported as such; an unknown one is trusted")
    func answers() {
        let kernel = FakeKernel()
        kernel.answer.withLock { $0 = .success(false) }
        let heard = Protected([ClockSynchronization]())
        let watch = ClockSyncWatch(probe: kernel.probe, interval: .seconds(3600)) { answer in
            heard.withLock { $0.append(answer) }
        }
        defer { watch.stop() }
        #expect(eventually { !heard.withLock { $0 }.isEmpty })
        #expect(!watch.isSynchronized)
        #expect(heard.withLock { $0 } == [.unsynchronized(source: "adjtimex (STA_UNSYNC)")])

        let failing = FakeKernel()
        failing.answer.withLock { $0 = .failure(ClockProbe.KernelError(errno: EPERM)) }
        let unknown = ClockSyncWatch(probe: failing.probe, interval: .seconds(3600))
        defer { unknown.stop() }
        #expect(eventually { failing.calls.withLock { $0 } > 0 })
        #expect(unknown.isSynchronized, "a probe that cannot tell does not lock people out")
    }
}
