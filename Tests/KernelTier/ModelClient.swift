// The test side of the hardware model: starts `boltwork-kernel-tests model` as a second process
// and talks to it over its stdin and stdout (see HardwareModel.swift).

#if canImport(Glibc)
    import Glibc
#endif

/// A running hardware model.
final class ModelProcess {
    private let process: ChildProcess

    /// Starts the model with the bolt at `bolt` (retracted, extended or a fraction) and a full
    /// stroke of `travelMilliseconds`, and waits until it has set up the pins.
    init(bolt: String = "retracted", travelMilliseconds: Int = 800) throws {
        process = try ChildProcess(
            ownExecutable(), ["model", "--bolt", bolt, "--travel-ms", "\(travelMilliseconds)"],
            name: "the hardware model", stdin: .pipe, stdout: .pipe)
        let ready = try process.readLine(seconds: 30)
        try expect(ready == "ok ready", "the hardware model did not start: \(ready)")
    }

    /// Sends `command` and returns its "ok ..." answer; an "error ..." answer throws.
    @discardableResult
    func command(_ command: String, seconds: Double = 15) throws -> String {
        try process.send(command)
        let answer = try process.readLine(seconds: seconds)
        guard answer.hasPrefix("ok") else { throw CheckFailure(description: "hardware model: \(answer)") }
        return answer
    }

    /// Types `keys` on the keypad, key by key in step with the scan, allowing `perKey` seconds
    /// for each key.
    func type(_ keys: String, perKey: Int = 10) throws {
        try command("type \(keys) \(perKey)", seconds: Double(perKey * keys.count + 10))
    }

    /// Waits until the bolt is `where` (retracted, extended, blocked); the status then.
    @discardableResult
    func waitFor(_ target: String, seconds: Double = 20) throws -> [String: String] {
        Self.fields(try command("wait \(target) \(Int(seconds))", seconds: seconds + 10))
    }

    /// The model's state: position (per mille), bridge, switches, door, run counters.
    func status() throws -> [String: String] {
        Self.fields(try command("status"))
    }

    static func fields(_ answer: String) -> [String: String] {
        var result: [String: String] = [:]
        for word in answer.split(separator: " ") {
            let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { result[parts[0]] = parts[1] }
        }
        return result
    }

    /// Ends the model.
    func stop() {
        try? process.send("quit")
        if process.wait(seconds: 5) == nil { process.signal(SIGKILL) }
    }
}

/// `boltwork-kernel-tests model [--bolt retracted|extended|F] [--travel-ms N]`: the model's
/// entry point; returns the exit status.
func runHardwareModel(_ arguments: [String]) -> Int32 {
    var bolt = 0.0
    var travel = 800
    var index = 0
    while index < arguments.count {
        let value = index + 1 < arguments.count ? arguments[index + 1] : ""
        switch arguments[index] {
        case "--bolt":
            switch value {
            case "retracted": bolt = 0
            case "extended": bolt = 1
            default: bolt = Double(value) ?? 0
            }
        case "--travel-ms": travel = Int(value) ?? travel
        default:
            print("error unknown model option \(arguments[index])")
            return 2
        }
        index += 2
    }
    do {
        return try HardwareModel(travelMilliseconds: travel, bolt: bolt).run()
    } catch {
        print("error \(error)")
        return 3
    }
}
