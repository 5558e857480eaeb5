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
}
