import ArgumentParser
import CAMCore

/// `swiftcam plugins`: what is loaded, from where, and what failed.
struct PluginsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "List loaded plugins (file, kind, names, ABI version) and plugins that failed to load."
    )

    func run() throws {
        PluginLoader.loadAll()
        let registry = PluginRegistry.shared
        print("search path: \(PluginLoader.searchPaths().joined(separator: ":"))")
        print("plugin ABI: \(PluginABI.version)")
        for p in registry.plugins {
            print("\(p.file)  (ABI \(p.abiVersion))")
            for kind in [PluginInfo.Kind.loader, .method, .target, .reshape, .metric, .factorization] {
                let names = p.provides.filter { $0.kind == kind }.map(\.name)
                if !names.isEmpty { print("  \(kind.rawValue): \(names.joined(separator: ", "))") }
            }
        }
        for f in registry.failures {
            print("\(f.isShadowed ? "SKIPPED" : "FAILED") \(f.file): \(f.reason)")
        }
    }
}
