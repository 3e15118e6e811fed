import ArgumentParser
import Logging

/// `--log-level info`: swift-log's levels by name.
enum LogLevelArgument: String, CaseIterable, ExpressibleByArgument {
    case trace, debug, info, notice, warning, error, critical

    /// The swift-log level.
    var level: Logger.Level { Logger.Level(rawValue: rawValue) ?? .info }
}
