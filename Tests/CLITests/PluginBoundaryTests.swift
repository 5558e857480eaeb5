import CAMCore
import Foundation
import Testing
import TestSupport

/// The plugin boundary is real: methods and loaders come only from `.so` files found at run
/// time, stale plugins are refused, and a plugin built outside the package loads.
@Suite("Plugin boundary")
struct PluginBoundaryTests {
    @Test func pluginsCommandListsTheBuiltPlugins() throws {
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["plugins"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("libswiftcam-onnx.so"))
        #expect(r.stdout.contains("loader: onnx"))
        #expect(r.stdout.contains("libswiftcam-gradcam.so"))
        #expect(r.stdout.contains("method: gradcam"))
    }

    @Test func withoutPluginsNoMethodIsAvailable() throws {
        let dir = try CommandRunner.temporaryFolder("noplugins")
        defer { try? FileManager.default.removeItem(at: dir) }
        for file in ["swiftcam", "libCAMCore.so"] {
            try FileManager.default.copyItem(at: CommandRunner.buildFolder.appendingPathComponent(file), to: dir.appendingPathComponent(file))
        }
        let tool = dir.appendingPathComponent("swiftcam").path
        let r = try CommandRunner.run(tool, ["explain", "--model", "m.onnx", "--method", "gradcam", "--target-layer", "x",
                                            "--input-npy", "x.npy", "--npy", dir.appendingPathComponent("out.npy").path],
                                      environment: ["SWIFTCAM_PLUGIN_PATH": ""])
        #expect(r.status != 0)
        #expect(r.stderr.contains("no plugin provides method 'gradcam'"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("out.npy").path))
        let listing = try CommandRunner.run(tool, ["plugins"], environment: ["SWIFTCAM_PLUGIN_PATH": ""])
        #expect(!listing.stdout.contains("libswiftcam-"))
    }

    @Test func staleAndBrokenPluginsAreRefusedAndOthersStillLoad() throws {
        let dir = try CommandRunner.temporaryFolder("stale")
        defer { try? FileManager.default.removeItem(at: dir) }
        // A plugin built for another ABI version, and a file that is not a shared library.
        let source = dir.appendingPathComponent("stale.c")
        try "unsigned swiftcam_plugin_abi_version(void) { return \(PluginABI.version + 100); }\nvoid swiftcam_plugin_register(void *r) {}\n"
            .write(to: source, atomically: true, encoding: .utf8)
        let cc = try CommandRunner.run("/usr/bin/env", ["cc", "-shared", "-fPIC", "-o", dir.appendingPathComponent("libswiftcam-stale.so").path, source.path])
        #expect(cc.status == 0, "\(cc.stderr)")
        try Data("not an ELF file".utf8).write(to: dir.appendingPathComponent("libswiftcam-garbage.so"))
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["plugins"], environment: ["SWIFTCAM_PLUGIN_PATH": dir.path])
        #expect(r.status == 0)
        #expect(r.stdout.contains("FAILED \(dir.path)/libswiftcam-stale.so: built for plugin ABI \(PluginABI.version + 100)"), "\(r.stdout)")
        #expect(r.stdout.contains("FAILED \(dir.path)/libswiftcam-garbage.so: dlopen failed"), "\(r.stdout)")
        #expect(r.stdout.contains("method: gradcam"))
    }

    /// Each load is logged with its path; a plugin without its register entry point, one whose
    /// registration fails, and one offering a name an earlier plugin provides are refused with
    /// their files named — none of what they offered is registered — and the rest still load.
    @Test func everyLoadIsLoggedAndBadRegistrationsAreRefused() throws {
        let dir = try CommandRunner.temporaryFolder("refused")
        defer { try? FileManager.default.removeItem(at: dir) }
        let noEntry = dir.appendingPathComponent("noentry.c")
        try "unsigned swiftcam_plugin_abi_version(void) { return \(PluginABI.version); }\n".write(to: noEntry, atomically: true, encoding: .utf8)
        let cc = try CommandRunner.run("/usr/bin/env", ["cc", "-shared", "-fPIC", "-o", dir.appendingPathComponent("libswiftcam-noentry.so").path, noEntry.path])
        #expect(cc.status == 0, "\(cc.stderr)")
        // A Swift plugin that offers a method, then reports that its set-up failed.
        let failing = dir.appendingPathComponent("Failing.swift")
        try """
        import CAMCore
        final class Half: CAMMethod {
            let name = "halfregistered"
            let summary = "never registered"
            func requirements(options: CAMOptions) throws -> CAMRequirements { CAMRequirements(layerGradients: false) }
            func compute(_ context: CAMContext) throws -> CAMOutput { throw CAMError(.unsupported, "unreachable") }
        }
        @_cdecl("swiftcam_plugin_abi_version") public func abi() -> UInt32 { PluginABI.version }
        @_cdecl("swiftcam_plugin_register") public func register(_ r: UnsafeMutableRawPointer) {
            let registrar = PluginRegistrar.from(r)
            registrar.register(method: Half())
            registrar.fail("its weights file is missing")
        }
        """.write(to: failing, atomically: true, encoding: .utf8)
        let build = CommandRunner.buildFolder.path
        let swiftc = try CommandRunner.run("/usr/bin/env", ["swiftc", "-emit-library", "-module-name", "Failing", "-I", build + "/Modules", "-L", build, "-lCAMCore",
                                                            "-o", dir.appendingPathComponent("libswiftcam-failing.so").path, failing.path])
        try #require(swiftc.status == 0, "\(swiftc.stderr)")
        // A copy of the gradcam plugin, earlier on the search path than the built one.
        try FileManager.default.copyItem(atPath: build + "/libswiftcam-gradcam.so", toPath: dir.appendingPathComponent("libswiftcam-gradcam.so").path)

        let r = try CommandRunner.run(CommandRunner.swiftcam, ["plugins"], environment: ["SWIFTCAM_PLUGIN_PATH": dir.path, "SWIFTCAM_LOG_LEVEL": "info"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("FAILED \(dir.path)/libswiftcam-noentry.so: no swiftcam_plugin_register symbol"), "\(r.stdout)")
        #expect(r.stdout.contains("FAILED \(dir.path)/libswiftcam-failing.so: registration failed: its weights file is missing"), "\(r.stdout)")
        #expect(!r.stdout.contains("halfregistered"), "\(r.stdout)")
        #expect(r.stdout.contains("SKIPPED \(build)/libswiftcam-gradcam.so: method 'gradcam' is already provided by \(dir.path)/libswiftcam-gradcam.so"), "\(r.stdout)")
        #expect(r.stdout.contains("method: layercam"))
        // The log: one line per file, loaded, skipped or refused, with its path.
        #expect(r.stderr.contains("loaded plugin") && r.stderr.contains("file=\(dir.path)/libswiftcam-gradcam.so"), "\(r.stderr)")
        #expect(r.stderr.contains("refused plugin") && r.stderr.contains("file=\(dir.path)/libswiftcam-failing.so"), "\(r.stderr)")
        #expect(r.stderr.contains("skipped plugin") && r.stderr.contains("file=\(build)/libswiftcam-gradcam.so"), "\(r.stderr)")
        // At the default level only the problems are logged.
        let quiet = try CommandRunner.run(CommandRunner.swiftcam, ["plugins"], environment: ["SWIFTCAM_PLUGIN_PATH": dir.path])
        #expect(!quiet.stderr.contains("loaded plugin") && !quiet.stderr.contains("skipped plugin") && quiet.stderr.contains("refused plugin"), "\(quiet.stderr)")
    }

    /// The install layout, and the example plugin built against it by its own script.
    @Test func aThirdPartyPluginBuiltAgainstTheInstalledCoreLoads() throws {
        let dir = try CommandRunner.temporaryFolder("thirdparty")
        defer { try? FileManager.default.removeItem(at: dir) }
        let prefix = dir.appendingPathComponent("prefix").path, out = dir.appendingPathComponent("plugins").path
        let root = Fixtures.repositoryRoot
        let install = try CommandRunner.run("/bin/bash", [root.appendingPathComponent("scripts/install.sh").path, prefix], in: root)
        #expect(install.status == 0, "\(install.stderr)")
        let build = try CommandRunner.run("/bin/bash", [root.appendingPathComponent("Examples/ThirdPartyPlugin/build.sh").path, prefix, out])
        #expect(build.status == 0, "\(build.stderr)")
        #expect(build.stdout.contains("method: maxactivation"), "\(build.stdout)")
        // The installed tool finds its own plugins and the new one, and runs the new method.
        let r = try CommandRunner.run(prefix + "/bin/swiftcam", ["plugins"], environment: ["SWIFTCAM_PLUGIN_PATH": out])
        #expect(r.stdout.contains("\(out)/libswiftcam-maxactivation.so  (ABI \(PluginABI.version))"), "\(r.stdout)")
        #expect(r.stdout.contains(prefix + "/lib/swiftcam/swiftcam-plugins/libswiftcam-gradcam.so"), "\(r.stdout)")
        guard let model = Fixtures.path("torch/resnet18/model.onnx"), let input = Fixtures.path("torch/resnet18/input.npy") else { return }
        let maps = dir.appendingPathComponent("maps.npy").path
        let e = try CommandRunner.run(prefix + "/bin/swiftcam", ["explain", "--model", model, "--input-npy", input, "--method", "maxactivation",
                                                               "--target-layer", "layer4.1", "--npy", maps], environment: ["SWIFTCAM_PLUGIN_PATH": out])
        #expect(e.status == 0, "\(e.stderr)")
        #expect(try NPY.read(maps).shape == [3, 224, 224])
    }
}

/// Each method is its own shared library: listing and removing them.
@Suite("Method plugins")
struct MethodPluginTests {
    static let methods = ["gradcam", "hirescam", "gradcamelementwise", "gradcam++", "xgradcam", "layercam", "eigencam", "eigengradcam",
                          "segeigencam", "fem", "randomcam", "fullgrad", "finercam", "refinecam", "guidedbackprop", "shapleycam"]

    @Test func everyMethodComesFromItsOwnLibrary() throws {
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["plugins"])
        let blocks = r.stdout.components(separatedBy: "\n")
        for m in Self.methods {
            guard let line = blocks.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "method: \(m)" }) else {
                Issue.record("method \(m) is not listed:\n\(r.stdout)")
                continue
            }
            let file = blocks[..<line].last { $0.contains(".so") } ?? ""
            #expect(file.contains("libswiftcam-"), "\(m) is listed under \(file)")
        }
    }

    @Test func removingOneLibraryRemovesExactlyThatMethod() throws {
        let dir = try CommandRunner.temporaryFolder("onelessplugin")
        defer { try? FileManager.default.removeItem(at: dir) }
        let build = CommandRunner.buildFolder
        for file in ["swiftcam", "libCAMCore.so"] {
            try FileManager.default.copyItem(at: build.appendingPathComponent(file), to: dir.appendingPathComponent(file))
        }
        let plugins = try FileManager.default.contentsOfDirectory(atPath: build.path).filter { $0.hasPrefix("libswiftcam-") && $0.hasSuffix(".so") }
        for p in plugins where p != "libswiftcam-layercam.so" {
            try FileManager.default.copyItem(at: build.appendingPathComponent(p), to: dir.appendingPathComponent(p))
        }
        let r = try CommandRunner.run(dir.appendingPathComponent("swiftcam").path, ["plugins"], environment: ["SWIFTCAM_PLUGIN_PATH": ""])
        #expect(!r.stdout.contains("method: layercam"))
        for m in Self.methods where m != "layercam" { #expect(r.stdout.contains("method: \(m)"), "\(m) missing") }
    }
}
