/// The plugin boundary's version contract.
///
/// Every plugin exports two C symbols:
/// - `swiftcam_plugin_abi_version() -> UInt32`, returning `PluginABI.version` **as compiled
///   into the plugin** (the property is `@_alwaysEmitIntoClient`, so a plugin built against
///   an older core reports the older number), and
/// - `swiftcam_plugin_register(UnsafeMutableRawPointer)`, which receives an unretained
///   `PluginRegistrar` and registers what the plugin provides.
///
/// The host reads the version before touching anything else and refuses a mismatch.
/// A minimal plugin:
///
/// ```swift
/// import CAMCore
/// @_cdecl("swiftcam_plugin_abi_version")
/// public func abiVersion() -> UInt32 { PluginABI.version }
/// @_cdecl("swiftcam_plugin_register")
/// public func register(_ registrar: UnsafeMutableRawPointer) {
///     PluginRegistrar.from(registrar).register(method: MyCAM())
/// }
/// ```
public enum PluginABI {
    /// Bumped whenever a change to the core breaks plugins built against it.
    @_alwaysEmitIntoClient
    public static var version: UInt32 { 2 }

    public static let versionSymbol = "swiftcam_plugin_abi_version"
    public static let registerSymbol = "swiftcam_plugin_register"
    /// Shared libraries whose file name starts with this are plugin candidates.
    public static let filePrefix = "libswiftcam-"
}
