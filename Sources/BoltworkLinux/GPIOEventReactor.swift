import BoltworkHAL
import CBoltworkGPIOD

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// One thread that blocks in `poll(2)` on every edge-detecting request's event descriptors and
/// an eventfd used to wake it when the set changes. With no edges pending it sleeps in the
/// kernel: an idle input costs no CPU and no periodic wake-ups.
final class GPIOEventReactor: Sendable {
    private struct Registration {
        weak var request: LinuxLineRequest?
        var descriptors: [Int32]
    }

    private struct State {
        var registrations: [ObjectIdentifier: Registration] = [:]
        var running = true
        var thread: pthread_t?
    }

    private let system: any GPIOSystem
    private let wakeDescriptor: Int32
    private let state = Protected(State())

    init(system: any GPIOSystem) {
        self.system = system
        self.wakeDescriptor = bw_wake_descriptor()
    }

    deinit {
        if wakeDescriptor >= 0 { close(wakeDescriptor) }
    }

    func add(_ request: LinuxLineRequest, descriptors: [Int32]) {
        guard !descriptors.isEmpty else { return }
        state.withLock { state in
            state.registrations[ObjectIdentifier(request)] = Registration(
                request: request, descriptors: descriptors)
        }
        startIfNeeded()
        wake()
    }

    func remove(_ request: LinuxLineRequest) {
        state.withLock { state in
            _ = state.registrations.removeValue(forKey: ObjectIdentifier(request))
        }
        wake()
    }

    /// Stops the thread and waits for it.
    func stop() {
        let thread = state.withLock { state -> pthread_t? in
            state.running = false
            defer { state.thread = nil }
            return state.thread
        }
        wake()
        if let thread, pthread_equal(thread, pthread_self()) == 0 { pthread_join(thread, nil) }
    }

    private func wake() {
        guard wakeDescriptor >= 0 else { return }
        var one: UInt64 = 1
        _ = write(wakeDescriptor, &one, MemoryLayout<UInt64>.size)
    }

    private func startIfNeeded() {
        let shouldStart = state.withLock { state in state.thread == nil && state.running }
        guard shouldStart, wakeDescriptor >= 0 else { return }
        if let handle = startThread({ [self] in run() }) {
            state.withLock { $0.thread = handle }
        }
    }

    private func run() {
        while true {
            let snapshot = state.withLock { state -> [(LinuxLineRequest, Int32)]? in
                guard state.running else { return nil }
                state.registrations = state.registrations.filter { $0.value.request != nil }
                return state.registrations.values.flatMap { registration in
                    registration.descriptors.compactMap { fd in registration.request.map { ($0, fd) } }
                }
            }
            guard let snapshot else { return }
            let descriptors = [wakeDescriptor] + snapshot.map(\.1)
            switch system.poll(descriptors, timeout: nil) {
            case .failure(let error) where error.errno == EINTR:
                continue
            case .failure:
                return
            case .success(let ready):
                if ready.contains(wakeDescriptor) {
                    var value: UInt64 = 0
                    _ = read(wakeDescriptor, &value, MemoryLayout<UInt64>.size)
                }
                for (request, fd) in snapshot where ready.contains(fd) {
                    request.drainEvents(descriptor: fd)
                }
            }
        }
    }
}
