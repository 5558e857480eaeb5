/// Handed to a plugin's `swiftcam_plugin_register`; records what the plugin provides.
public final class PluginRegistrar: @unchecked Sendable {
    let registry: PluginRegistry
    let file: String
    var provided: [PluginInfo.Provision] = []

    init(registry: PluginRegistry, file: String) {
        self.registry = registry
        self.file = file
    }

    /// Recovers the registrar from the opaque pointer the host passed to the plugin.
    public static func from(_ pointer: UnsafeMutableRawPointer) -> PluginRegistrar {
        Unmanaged<PluginRegistrar>.fromOpaque(pointer).takeUnretainedValue()
    }

    public func register(loader: any ModelLoader) {
        registry.add(loader: loader)
        provided.append(.init(kind: .loader, name: loader.name))
    }

    public func register(method: any CAMMethod) {
        registry.add(method: method)
        provided.append(.init(kind: .method, name: method.name))
    }

    public func register(target: any TargetFactory) {
        registry.add(target: target)
        provided.append(.init(kind: .target, name: target.name))
    }

    public func register(reshape: any ReshapeTransform) {
        registry.add(reshape: reshape)
        provided.append(.init(kind: .reshape, name: reshape.name))
    }

    public func register(metric: any CAMMetric) {
        registry.add(metric: metric)
        provided.append(.init(kind: .metric, name: metric.name))
    }

    public func register(factorization: any FeatureFactorization) {
        registry.add(factorization: factorization)
        provided.append(.init(kind: .factorization, name: factorization.name))
    }
}
