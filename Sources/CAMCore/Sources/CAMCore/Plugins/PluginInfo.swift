/// What `swiftcam plugins` reports about one loaded plugin.
public struct PluginInfo: Sendable {
    public enum Kind: String, Sendable { case loader, method, target, reshape, metric, factorization }

    public struct Provision: Sendable {
        public let kind: Kind
        public let name: String
    }

    /// Absolute path of the shared library (or "built-in").
    public let file: String
    public let abiVersion: UInt32
    public let provides: [Provision]
}

/// A plugin file that could not be loaded, and why.
public struct PluginFailure: Sendable {
    public let file: String
    public let reason: String
    /// Refused only because an earlier plugin on the search path provides the same name (as
    /// an earlier folder on PATH shadows a later one): not an error.
    public let isShadowed: Bool

    public init(file: String, reason: String, isShadowed: Bool = false) {
        self.file = file
        self.reason = reason
        self.isShadowed = isShadowed
    }
}

/// What happened to one plugin file while loading.
@frozen public enum PluginLoadEvent: Sendable {
    case loaded(PluginInfo)
    case refused(PluginFailure)
}

extension PluginFailure: Error {}
