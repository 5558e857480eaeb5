/// Handed to a plugin's `swiftcam_plugin_register`; stages what the plugin provides. The host
/// adds it to the registry only after registration returns, all or nothing: a plugin that
/// calls `fail(_:)`, or offers a name an earlier plugin on the search path already provides,
/// is refused with its file named, and nothing of it is registered.
public final class PluginRegistrar: @unchecked Sendable {
    let registry: PluginRegistry
    let file: String
    private(set) var provided: [PluginInfo.Provision] = []
    private var pending: [(PluginRegistry) -> Void] = []
    private var failureReason: String?

    init(registry: PluginRegistry, file: String) {
        self.registry = registry
        self.file = file
    }

    /// Recovers the registrar from the opaque pointer the host passed to the plugin.
    public static func from(_ pointer: UnsafeMutableRawPointer) -> PluginRegistrar {
        Unmanaged<PluginRegistrar>.fromOpaque(pointer).takeUnretainedValue()
    }

    public func register(loader: any ModelLoader) { stage(.loader, loader.name) { $0.add(loader: loader) } }
    public func register(method: any CAMMethod) { stage(.method, method.name) { $0.add(method: method) } }
    public func register(target: any TargetFactory) { stage(.target, target.name) { $0.add(target: target) } }
    public func register(reshape: any ReshapeTransform) { stage(.reshape, reshape.name) { $0.add(reshape: reshape) } }
    public func register(metric: any CAMMetric) { stage(.metric, metric.name) { $0.add(metric: metric) } }
    public func register(factorization: any FeatureFactorization) { stage(.factorization, factorization.name) { $0.add(factorization: factorization) } }

    /// Registration failed (the plugin's own set-up did): the host refuses the plugin with
    /// this reason and registers none of what it offered.
    public func fail(_ reason: String) {
        if failureReason == nil { failureReason = reason }
    }

    private func stage(_ kind: PluginInfo.Kind, _ name: String, _ add: @escaping (PluginRegistry) -> Void) {
        provided.append(.init(kind: kind, name: name))
        pending.append(add)
    }

    /// Adds everything staged to the registry; or, if the plugin failed or a name is taken,
    /// nothing, and returns why.
    func commit() -> PluginFailure? {
        if let failureReason { return PluginFailure(file: file, reason: "registration failed: \(failureReason)") }
        for p in provided {
            if let owner = registry.provider(of: p.kind, named: p.name) {
                return PluginFailure(file: file, reason: "\(p.kind.rawValue) '\(p.name)' is already provided by \(owner), earlier on the search path",
                                     isShadowed: true)
            }
        }
        for add in pending { add(registry) }
        return nil
    }
}
