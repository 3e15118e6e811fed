import BoltworkHAL

/// Bolt position from an AS5600 (or AS5600L) magnetic angle sensor on the bolt's cam or
/// spindle, over I2C.
///
/// Registers (ams datasheet), 16-bit values big-endian (MSB at the lower address): STATUS 0x0B
/// (MD 0x20 magnet detected, ML 0x10 too weak, MH 0x08 too strong), RAW ANGLE 0x0C-0x0D and
/// ANGLE 0x0E-0x0F (12 bits, 0-4095 per turn), MAGNITUDE 0x1B-0x1C.
///
/// Address: the AS5600 is fixed at 0x36, the same address as the MAX17048/MAX17049 fuel
/// gauges, so the two cannot share a bus. Put them on different buses, or use the AS5600L
/// (default 0x40, ``as5600LAddress``).
///
/// The raw angle is turned into a travel percentage with a ``Calibration`` (the raw angles at
/// the two ends, across the 4095-to-0 wrap if need be); positions within the end thresholds
/// are reported as retracted or extended. A missing, too weak or too strong magnet is a
/// ``BoltPosition/fault(_:)``. The chip has no interrupt line: change events come from sampling
/// on the clock, only while ``startSampling(every:)`` is on, so an idle lock costs no I2C traffic.
public final class AS5600BoltSensor: BoltPositionSensor, Sendable {
    /// The AS5600's fixed address (shared with the MAX17048).
    public static let as5600Address = I2CAddress(constant: 0x36)
    /// The AS5600L's default address.
    public static let as5600LAddress = I2CAddress(constant: 0x40)

    /// Register addresses.
    public enum Register {
        /// STATUS (one byte).
        public static let status: UInt8 = 0x0B
        /// RAW ANGLE, 12 bits, big-endian.
        public static let rawAngle: UInt8 = 0x0C
        /// ANGLE (after the chip's ZPOS/MPOS scaling), 12 bits, big-endian.
        public static let angle: UInt8 = 0x0E
        /// MAGNITUDE of the magnetic field (CORDIC), 12 bits, big-endian.
        public static let magnitude: UInt8 = 0x1B
    }

    /// STATUS bits.
    public enum StatusBit {
        /// MD: magnet detected.
        public static let magnetDetected: UInt8 = 0x20
        /// ML: magnet too weak (AGC at maximum).
        public static let magnetTooWeak: UInt8 = 0x10
        /// MH: magnet too strong (AGC at minimum).
        public static let magnetTooStrong: UInt8 = 0x08
    }

    /// The raw angles at the ends of travel and how near an end counts as at it.
    public struct Calibration: Sendable, Hashable {
        /// RAW ANGLE with the bolt fully retracted (0-4095).
        public var retractedRaw: UInt16
        /// RAW ANGLE with the bolt fully extended (0-4095).
        public var extendedRaw: UInt16
        /// Whether the raw angle increases (modulo 4096) from retracted to extended.
        public var increasing: Bool
        /// At or below this percentage the bolt is retracted.
        public var retractedThreshold: Double
        /// At or above this percentage the bolt is extended.
        public var extendedThreshold: Double

        /// Creates a calibration. `increasing` defaults to the shorter way around the circle
        /// from `retractedRaw` to `extendedRaw`; give it when the travel is more than half a
        /// turn of the magnet.
        public init(
            retractedRaw: UInt16, extendedRaw: UInt16, increasing: Bool? = nil,
            retractedThreshold: Double = 3,
            extendedThreshold: Double = 97
        ) {
            self.retractedRaw = retractedRaw & 0x0FFF
            self.extendedRaw = extendedRaw & 0x0FFF
            let up = (Int(self.extendedRaw) - Int(self.retractedRaw) + 4096) % 4096
            self.increasing = increasing ?? (up <= 2048)
            self.retractedThreshold = retractedThreshold
            self.extendedThreshold = extendedThreshold
        }

        /// The travel from retracted to extended in raw counts (1-4095; 0 means uncalibrated).
        public var span: Int {
            let up = (Int(extendedRaw) - Int(retractedRaw) + 4096) % 4096
            return increasing ? up : (4096 - up) % 4096
        }

        /// The travel percentage of `raw`, 0 = retracted, 100 = extended, clamped to 0-100. An
        /// angle outside the travel counts toward the nearer end.
        public func percent(ofRaw raw: UInt16) -> Double {
            let span = self.span
            guard span > 0 else { return 0 }
            let rawOffset = (Int(raw & 0x0FFF) - Int(retractedRaw) + 4096) % 4096
            var offset = increasing ? rawOffset : (4096 - rawOffset) % 4096
            // Beyond the extended end: the unused arc is split at its middle.
            if offset > span + (4096 - span) / 2 { offset -= 4096 }
            return min(100, max(0, Double(offset) * 100 / Double(span)))
        }

        /// The position `raw` means.
        public func position(ofRaw raw: UInt16) -> BoltPosition {
            let percent = percent(ofRaw: raw)
            if percent <= retractedThreshold { return .retracted }
            if percent >= extendedThreshold { return .extended }
            return .between(percent: percent)
        }
    }

    /// What STATUS says about the magnet.
    public enum MagnetStatus: Sendable, Hashable, CustomStringConvertible {
        /// Detected and within range.
        case ok
        /// MD clear: no magnet.
        case missing
        /// ML set: too far or too weak.
        case tooWeak
        /// MH set: too close or too strong.
        case tooStrong

        /// Decodes a STATUS byte.
        public init(status: UInt8) {
            if status & StatusBit.magnetDetected == 0 {
                self = .missing
            } else if status & StatusBit.magnetTooWeak != 0 {
                self = .tooWeak
            } else if status & StatusBit.magnetTooStrong != 0 {
                self = .tooStrong
            } else {
                self = .ok
            }
        }

        /// What a maker should do.
        public var description: String {
            switch self {
            case .ok: "magnet ok"
            case .missing:
                "no magnet detected: check that the magnet is on the spindle, centred over the chip"
            case .tooWeak:
                "magnet too weak: move it closer to the chip (about 0.5-3 mm) or use a stronger one"
            case .tooStrong: "magnet too strong: move it further from the chip"
            }
        }
    }

    /// The bus.
    public let bus: any I2CBus
    /// The chip's address.
    public let address: I2CAddress
    /// The calibration.
    public let calibration: Calibration
    /// The device's name in messages.
    public let name: String
    private let clock: any BoltClock
    private let state = Protected(State())

    private struct State {
        var handler: (@Sendable (BoltPositionEvent) -> Void)?
        var sampler: (any ScheduledWork)?
        var generation: UInt64 = 0
        var last: BoltPosition?
    }

    /// Creates the sensor. Nothing is read until asked.
    public init(
        bus: any I2CBus, address: I2CAddress = AS5600BoltSensor.as5600Address, calibration: Calibration,
        clock: any BoltClock, name: String = "bolt sensor"
    ) throws(DeviceError) {
        guard calibration.span > 0 else {
            throw DeviceError(
                .configuration, device: name,
                detail:
                    "the retracted and extended raw angles are equal (\(calibration.retractedRaw)): calibrate both ends"
            )
        }
        self.bus = bus
        self.address = address
        self.calibration = calibration
        self.clock = clock
        self.name = name
    }

    /// Reads STATUS.
    public func magnetStatus() throws(DeviceError) -> MagnetStatus {
        MagnetStatus(
            status: try read("STATUS") { () throws(I2CError) in
                try bus.readByte(from: address, register: Register.status)
            })
    }

    /// Reads RAW ANGLE (0-4095).
    public func rawAngle() throws(DeviceError) -> UInt16 {
        try read("RAW ANGLE") { () throws(I2CError) in
            try bus.readWordBigEndian(from: address, register: Register.rawAngle)
        } & 0x0FFF
    }

    /// Reads ANGLE (0-4095): RAW ANGLE after the chip's own ZPOS/MPOS scaling, which the
    /// calibration here does not need.
    public func angle() throws(DeviceError) -> UInt16 {
        try read("ANGLE") { () throws(I2CError) in
            try bus.readWordBigEndian(from: address, register: Register.angle)
        } & 0x0FFF
    }

    /// Reads MAGNITUDE (0-4095).
    public func magnitude() throws(DeviceError) -> UInt16 {
        try read("MAGNITUDE") { () throws(I2CError) in
            try bus.readWordBigEndian(from: address, register: Register.magnitude)
        } & 0x0FFF
    }

    /// Reads STATUS, then RAW ANGLE when the magnet is fine, and converts. A magnet problem is
    /// ``BoltPosition/fault(_:)``; a failed transfer throws.
    public func position() throws(DeviceError) -> BoltPosition {
        let magnet = try magnetStatus()
        guard magnet == .ok else { return .fault(magnet.description) }
        return calibration.position(ofRaw: try rawAngle())
    }

    /// Installs the function that receives position changes (while sampling).
    public func setChangeHandler(_ handler: (@Sendable (BoltPositionEvent) -> Void)?) {
        state.withLock { $0.handler = handler }
    }

    /// Reads the position now and every `interval` on the clock, reporting changes (each
    /// change of a between-ends percentage too). A failed read is reported as a fault
    /// position. Calling it again restarts sampling with the new interval.
    public func startSampling(every interval: Duration) {
        let generation = state.withLock { state -> UInt64 in
            state.sampler?.cancel()
            state.sampler = nil
            state.generation += 1
            state.last = nil
            return state.generation
        }
        let work = clock.schedule(at: clock.now) { [weak self] in
            self?.sample(interval: max(interval, .milliseconds(1)), generation: generation)
        }
        state.withLock { state in if state.generation == generation { state.sampler = work } }
    }

    /// Stops sampling: no timers, no I2C traffic.
    public func stopSampling() {
        state.withLock { state -> (any ScheduledWork)? in
            state.generation += 1
            defer { state.sampler = nil }
            return state.sampler
        }?.cancel()
    }

    /// Whether sampling is on.
    public var isSampling: Bool { state.withLock { $0.sampler != nil } }

    private func sample(interval: Duration, generation: UInt64) {
        guard state.withLock({ $0.generation == generation }) else { return }
        let position: BoltPosition
        do {
            position = try self.position()
        } catch {
            position = .fault("cannot read the sensor: \(error)")
        }
        let now = clock.now
        let handler = state.withLock { state -> (@Sendable (BoltPositionEvent) -> Void)?? in
            guard state.generation == generation, position != state.last else { return nil }
            state.last = position
            return .some(state.handler)
        }
        if let handler { handler?(BoltPositionEvent(position: position, timestamp: now)) }
        let next = clock.schedule(at: now + interval) { [weak self] in
            self?.sample(interval: interval, generation: generation)
        }
        let stale = state.withLock { state -> Bool in
            guard state.generation == generation else { return true }
            state.sampler = next
            return false
        }
        if stale { next.cancel() }
    }

    private func read<T>(_ what: String, _ body: () throws(I2CError) -> T) throws(DeviceError) -> T {
        do {
            return try body()
        } catch {
            throw DeviceError(
                .hardware, device: name,
                detail:
                    "cannot read \(what) of the AS5600 at \(address) on \(bus.name) (check wiring, power and that no MAX17048 shares address 0x36)",
                underlying: error)
        }
    }
}
