import BoltworkSimulation

/// Wraps the simulation's virtual clock for lock tests.
struct VirtualClockForTests {
    let clock = VirtualClock()
}
