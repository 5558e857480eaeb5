import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Finds plugin shared libraries and loads them with `dlopen`.
///
/// Search order: every folder of `SWIFTCAM_PLUGIN_PATH` (colon-separated), then
/// `<folder of the executable>/swiftcam-plugins` and the executable's own folder (where
/// `swift build` puts the plugins). A plugin that fails to load is recorded with its file
/// and reason; the others still load. Libraries are never closed: they hold Swift metadata.
public enum PluginLoader {
    /// The folders searched, in order.
    public static func searchPaths(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        var paths: [String] = []
        if let env = environment["SWIFTCAM_PLUGIN_PATH"] {
            paths += env.split(separator: ":").map(String.init).filter { !$0.isEmpty }
        }
        if let exe = executableFolder() {
            paths.append(exe + "/swiftcam-plugins")
            paths.append(exe)
        }
        return paths
    }

    private static let loading = NSLock()
    nonisolated(unsafe) private static var observer: (@Sendable (PluginLoadEvent) -> Void)?

    /// Sets the function told about every plugin file loaded or refused, in load order (the
    /// command-line tool logs these). Call before loading.
    public static func observe(_ observer: (@Sendable (PluginLoadEvent) -> Void)?) {
        loading.lock()
        defer { loading.unlock() }
        self.observer = observer
    }

    /// Loads every plugin found on the search path into `registry` (each file once), after the
    /// plugins of `extraFolders` (a manifest's plugin paths). Safe to call from several
    /// threads: callers return once every plugin found is registered.
    public static func loadAll(into registry: PluginRegistry = .shared, extraFolders: [String] = []) {
        loading.lock()
        defer { loading.unlock() }
        for folder in extraFolders + searchPaths() {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { continue }
            for name in names.sorted() where name.hasPrefix(PluginABI.filePrefix) && name.hasSuffix(".so") {
                load(file: folder + "/" + name, into: registry)
            }
        }
    }

    /// Loads one plugin file. Failures are recorded in the registry (and told to the
    /// observer), not thrown.
    @discardableResult
    public static func load(file: String, into registry: PluginRegistry = .shared) -> Bool {
        let path = URL(fileURLWithPath: file).standardizedFileURL.resolvingSymlinksInPath().path
        guard registry.markScanned(path) else { return true }
        switch open(path, into: registry) {
        case .success(let info):
            registry.record(info)
            observer?(.loaded(info))
            return true
        case .failure(let failure):
            registry.record(failure)
            observer?(.refused(failure))
            return false
        }
    }

    /// dlopen, the ABI handshake and registration of one file.
    private static func open(_ path: String, into registry: PluginRegistry) -> Result<PluginInfo, PluginFailure> {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            return .failure(PluginFailure(file: path, reason: "dlopen failed: " + (dlerror().map { String(cString: $0) } ?? "unknown error")))
        }
        guard let versionSymbol = dlsym(handle, PluginABI.versionSymbol) else {
            return .failure(PluginFailure(file: path, reason: "not a SwiftCAM plugin: no \(PluginABI.versionSymbol) symbol"))
        }
        typealias VersionFunction = @convention(c) () -> UInt32
        let version = unsafeBitCast(versionSymbol, to: VersionFunction.self)()
        guard version == PluginABI.version else {
            return .failure(PluginFailure(file: path, reason: "built for plugin ABI \(version), this swiftcam has ABI \(PluginABI.version); rebuild the plugin against this CAMCore"))
        }
        guard let registerSymbol = dlsym(handle, PluginABI.registerSymbol) else {
            return .failure(PluginFailure(file: path, reason: "no \(PluginABI.registerSymbol) symbol"))
        }
        typealias RegisterFunction = @convention(c) (UnsafeMutableRawPointer) -> Void
        let registrar = PluginRegistrar(registry: registry, file: path)
        withExtendedLifetime(registrar) {
            unsafeBitCast(registerSymbol, to: RegisterFunction.self)(Unmanaged.passUnretained(registrar).toOpaque())
        }
        if let refused = registrar.commit() { return .failure(refused) }
        return .success(PluginInfo(file: path, abiVersion: version, provides: registrar.provided))
    }

    static func executableFolder() -> String? {
        guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        return URL(fileURLWithPath: exe).deletingLastPathComponent().path
    }
}
