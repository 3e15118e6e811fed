import Foundation

/// A distribution of measured durations, in microseconds.
struct Distribution: Codable, Sendable {
    /// Samples measured.
    var samples: Int
    /// Attempts that produced no sample (nothing happened within the limit).
    var misses: Int
    /// Median.
    var p50: Double
    /// 99th percentile (nearest rank).
    var p99: Double
    /// Largest sample.
    var max: Double
    /// Smallest sample.
    var min: Double
    /// Arithmetic mean.
    var mean: Double

    /// Summarises samples given in nanoseconds.
    init(nanoseconds values: [Int64], misses: Int = 0) {
        let sorted = values.sorted()
        func rank(_ fraction: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let index = Swift.max(
                0, Swift.min(sorted.count - 1, Int((fraction * Double(sorted.count)).rounded(.up)) - 1))
            return Double(sorted[index]) / 1000
        }
        samples = sorted.count
        self.misses = misses
        p50 = rank(0.5)
        p99 = rank(0.99)
        max = Double(sorted.last ?? 0) / 1000
        min = Double(sorted.first ?? 0) / 1000
        mean = sorted.isEmpty ? 0 : Double(sorted.reduce(0, +)) / Double(sorted.count) / 1000
    }
}

/// One process measured over an idle window.
struct IdleFigure: Codable, Sendable {
    /// What ran (`boltd run --simulated`, the polling scanner).
    var subject: String
    /// Length of the window, seconds.
    var seconds: Double
    /// CPU time used in the window, microseconds.
    var cpuMicroseconds: Double
    /// CPU time as a share of one core, percent.
    var corePercent: Double
    /// Voluntary context switches in the window (every thread): one per wake-up.
    var wakeups: Int
    /// Involuntary context switches in the window.
    var preemptions: Int
    /// Keypad scans performed; for boltd, since start (no key is pressed at any time).
    var scans: Int?
    /// Threads in the process at the end of the window.
    var threads: Int
    /// Threads that ended during the window (their last context switches are not counted).
    var threadsExited: Int
    /// Resident set at the end of the window, KiB.
    var residentKiB: Int
    /// Peak resident set since start, KiB.
    var peakResidentKiB: Int
}

/// Key latency of one scanner.
struct LatencyFigure: Codable, Sendable {
    /// Boltwork's interrupt-driven keypad or the polling baseline.
    var subject: String
    /// Debounce setting, ms (nil for the polling scanner, whose scan interval is its debounce).
    var debounceMilliseconds: Double?
    /// Row edge → key event.
    var latency: Distribution
    /// Scans the scanner performed during the presses.
    var scans: Int
}

/// The cost of one full matrix scan through a backend.
struct ScanCostFigure: Codable, Sendable {
    /// The matrix (`4×4`).
    var matrix: String
    /// Line-request calls per scan (each is one ioctl on Linux).
    var callsPerScan: Double
    /// Time per scan.
    var duration: Distribution
}

/// Last key of a valid code → the motor's first output change.
struct UnlockFigure: Codable, Sendable {
    /// The whole path, through the keypad, the code check and the store.
    var path: Distribution
    /// The hash check alone.
    var hash: Distribution
    /// The access layer's decision alone (store reads, the hash, the granting commit).
    var decision: Distribution
    /// One durable store commit alone (an audit record).
    var commit: Distribution
    /// The hash's parameters.
    var hashParameters: String
    /// Where the store's database lived.
    var store: String
}

/// boltd's size and start-up.
struct DaemonFigure: Codable, Sendable {
    /// Start → `READY=1`.
    var startToReady: Distribution
    /// Resident set after the idle window, KiB.
    var idleResidentKiB: Int
    /// Of which anonymous memory (heap, stacks), KiB.
    var idleAnonymousKiB: Int
    /// Of which file-backed pages (the executable and the shared libraries it maps), KiB.
    var idleFileKiB: Int
    /// Peak resident set (start, an unlock with a code, a lock, the idle window), KiB.
    var peakResidentKiB: Int
    /// What the peak includes.
    var peakIncludes: String
}

/// Lock/unlock cycles on the simulator over virtual time.
struct EnduranceFigure: Codable, Sendable {
    /// Cycles completed.
    var cycles: Int
    /// Cycles that did not reach their end state.
    var failedCycles: Int
    /// Wall-clock time, seconds.
    var seconds: Double
    /// Cycles per wall-clock second.
    var cyclesPerSecond: Double
    /// Virtual time simulated, hours.
    var virtualHours: Double
    /// Resident set after each checkpoint (cycles → KiB).
    var residentKiB: [Checkpoint]
    /// Growth from the first checkpoint to the last, KiB.
    var growthKiB: Int
    /// Growth over the second half of the run (from the checkpoint at half the cycles), KiB:
    /// caches and bounded logs have filled by then, so this is what a leak would show as.
    var lateGrowthKiB: Int
    /// Where the store's database lived.
    var store: String

    /// The resident set after some number of cycles.
    struct Checkpoint: Codable, Sendable {
        /// Cycles done.
        var cycles: Int
        /// Resident set, KiB.
        var residentKiB: Int
        /// Of which anonymous memory, KiB.
        var anonymousKiB: Int
        /// Level changes the simulated GPIO chip keeps in its lines' histories.
        var levelChangesKept: Int
    }
}

/// The figures from one place: the host with the simulated board, or the real-kernel VM.
struct Section: Codable, Sendable {
    /// `host` or `vm`.
    var place: String
    /// The GPIO backend the keypad figures went through.
    var backend: String
    /// The machine (for the VM: the guest's view).
    var machine: MachineInfo
    /// libgpiod version.
    var libgpiod: String
    /// Idle windows.
    var idle: [IdleFigure] = []
    /// Key latency, one entry per scanner and debounce.
    var latency: [LatencyFigure] = []
    /// Scan cost.
    var scanCost: ScanCostFigure?
    /// The unlock path.
    var unlock: UnlockFigure?
    /// boltd's memory and start-up.
    var daemon: DaemonFigure?
    /// Endurance.
    var endurance: EnduranceFigure?
    /// What went wrong or deserves a caveat.
    var notes: [String] = []
}

/// A goal from the issue and how this run compares.
struct GoalResult: Codable, Sendable {
    /// The goal as stated.
    var goal: String
    /// The figure it was judged on.
    var measured: String
    /// `met`, `missed`, or `not measured`.
    var verdict: String
}

/// A whole run.
struct Report: Codable, Sendable {
    /// When it ran (UTC, ISO 8601).
    var date: String
    /// Build configuration of the benchmark and boltd.
    var build: String
    /// The run's parameters (idle window, presses, cycles).
    var parameters: [String: Int]
    /// The host part.
    var host: Section
    /// The VM part, when it ran.
    var vm: Section?
    /// Why the VM part did not run, when it did not.
    var vmSkipped: String?
    /// The goals.
    var goals: [GoalResult]
}
