import CAMCore
import Foundation
import Logging

/// The tool's logs (swift-log), on stderr. `SWIFTCAM_LOG_LEVEL` (trace, debug, info, notice,
/// warning, error, critical) sets how much is shown; the default, warning, shows only problems.
enum Log {
    static let plugins = Logger(label: "swiftcam.plugins")

    /// Sends every logger to stderr at the level `SWIFTCAM_LOG_LEVEL` names, and logs each
    /// plugin file as it is loaded (info) or refused (warning; a plugin shadowed by an earlier
    /// one of the same name on the search path: info).
    static func start(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let level = environment["SWIFTCAM_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        PluginLoader.observe { event in
            switch event {
            case .loaded(let info):
                plugins.info("loaded plugin", metadata: ["file": "\(info.file)", "provides": "\(info.provides.map { "\($0.kind.rawValue) \($0.name)" }.joined(separator: ", "))"])
            case .refused(let failure) where failure.isShadowed:
                plugins.info("skipped plugin", metadata: ["file": "\(failure.file)", "reason": "\(failure.reason)"])
            case .refused(let failure):
                plugins.warning("refused plugin", metadata: ["file": "\(failure.file)", "reason": "\(failure.reason)"])
            }
        }
    }
}
