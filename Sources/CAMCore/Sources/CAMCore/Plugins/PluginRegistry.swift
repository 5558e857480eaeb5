import Foundation

/// The one registry of loaders, methods, targets and reshape transforms in the process.
/// Built-ins register at start-up; plugins add to it through a `PluginRegistrar`.
public final class PluginRegistry: @unchecked Sendable {
    /// The process-wide registry (CAMCore exists once in the process, so this does too).
    public static let shared = PluginRegistry()

    private let lock = NSLock()
    private var loadersByName: [String: any ModelLoader] = [:]
    private var methodsByName: [String: any CAMMethod] = [:]
    private var targetsByName: [String: any TargetFactory] = [:]
    private var reshapesByName: [String: any ReshapeTransform] = [:]
    private var metricsByName: [String: any CAMMetric] = [:]
    private var factorizationsByName: [String: any FeatureFactorization] = [:]
    private var loadedPlugins: [PluginInfo] = []
    private var loadFailures: [PluginFailure] = []
    private var scannedPaths: Set<String> = []

    public init() {
        registerBuiltIns()
    }

    // MARK: Lookup

    public var loaders: [any ModelLoader] { locked { loadersByName.keys.sorted().map { loadersByName[$0]! } } }
    public var methodNames: [String] { locked { methodsByName.keys.sorted() } }
    public var targetNames: [String] { locked { targetsByName.keys.sorted() } }
    public var reshapeNames: [String] { locked { reshapesByName.keys.sorted() } }
    public var plugins: [PluginInfo] { locked { loadedPlugins } }
    public var failures: [PluginFailure] { locked { loadFailures } }

    public func loader(named name: String) -> (any ModelLoader)? { locked { loadersByName[name.lowercased()] } }
    public func target(named name: String) -> (any TargetFactory)? { locked { targetsByName[name.lowercased()] } }
    public func reshape(named name: String) -> (any ReshapeTransform)? { locked { reshapesByName[name.lowercased()] } }

    /// The method registered as `name` (case-insensitive), or an error saying which exist.
    public func method(named name: String) throws -> any CAMMethod {
        if let m = locked({ methodsByName[name.lowercased()] }) { return m }
        let known = methodNames
        throw CAMError(.usage, "no plugin provides method '\(name)'"
            + (known.isEmpty ? " (no method plugins are loaded; see `swiftcam plugins` and SWIFTCAM_PLUGIN_PATH)"
                             : "; available: \(known.joined(separator: ", "))"))
    }

    /// Metric names (upstream's class names), sorted.
    public var metricNames: [String] { locked { metricsByName.keys.sorted().map { metricsByName[$0]!.name } } }

    /// The metric registered as `name` (case-insensitive), or an error saying which exist.
    public func metric(named name: String) throws -> any CAMMetric {
        if let m = locked({ metricsByName[name.lowercased()] }) { return m }
        let known = metricNames
        throw CAMError(.usage, "no plugin provides metric '\(name)'"
            + (known.isEmpty ? " (no metric plugins are loaded; see `swiftcam plugins` and SWIFTCAM_PLUGIN_PATH)"
                             : "; available: \(known.joined(separator: ", "))"))
    }

    public var factorizationNames: [String] { locked { factorizationsByName.keys.sorted() } }

    /// The feature factorization registered as `name` (case-insensitive), or an error.
    public func factorization(named name: String) throws -> any FeatureFactorization {
        if let f = locked({ factorizationsByName[name.lowercased()] }) { return f }
        let known = factorizationNames
        throw CAMError(.usage, "no plugin provides the feature factorization '\(name)'"
            + (known.isEmpty ? " (no factorization plugins are loaded; see `swiftcam plugins` and SWIFTCAM_PLUGIN_PATH)"
                             : "; available: \(known.joined(separator: ", "))"))
    }

    // MARK: Registration

    func add(loader: any ModelLoader) { locked { loadersByName[loader.name.lowercased()] = loader } }
    func add(method: any CAMMethod) { locked { methodsByName[method.name.lowercased()] = method } }
    func add(target: any TargetFactory) { locked { targetsByName[target.name.lowercased()] = target } }
    func add(reshape: any ReshapeTransform) { locked { reshapesByName[reshape.name.lowercased()] = reshape } }
    func add(metric: any CAMMetric) { locked { metricsByName[metric.name.lowercased()] = metric } }
    func add(factorization: any FeatureFactorization) { locked { factorizationsByName[factorization.name.lowercased()] = factorization } }

    func record(_ info: PluginInfo) { locked { loadedPlugins.append(info) } }
    func record(_ failure: PluginFailure) { locked { loadFailures.append(failure) } }

    /// The file of the plugin that provides `name` as a `kind`, if one does.
    func provider(of kind: PluginInfo.Kind, named name: String) -> String? {
        locked { loadedPlugins.first { $0.provides.contains { $0.kind == kind && $0.name.lowercased() == name.lowercased() } }?.file }
    }

    /// Remembers a path as scanned; returns false if it already was.
    func markScanned(_ path: String) -> Bool { locked { scannedPaths.insert(path).inserted } }

    private func registerBuiltIns() {
        let registrar = PluginRegistrar(registry: self, file: "built-in")
        for target in BuiltInTargets.all { registrar.register(target: target) }
        _ = registrar.commit()
        loadedPlugins.append(PluginInfo(file: "built-in", abiVersion: PluginABI.version, provides: registrar.provided))
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
