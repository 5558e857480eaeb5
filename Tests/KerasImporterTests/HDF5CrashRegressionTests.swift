import CAMCore
import Foundation
import Testing
import TestSupport

/// Every input in `Fuzz/hdf5-crashes/` crashes libhdf5 itself. SwiftCAM reads HDF5 in a child
/// process, so each must come back as one clear error naming the file, never as a crash here.
@Suite("Keras: inputs that crash libhdf5")
struct HDF5CrashRegressionTests {
    static let folder = Fixtures.repositoryRoot.appendingPathComponent("Fuzz/hdf5-crashes")

    static var inputs: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasPrefix("crash-") }.sorted()
    }

    @Test func theFolderHoldsTheDocumentedInputs() {
        #expect(Self.inputs.count >= 16, "expected the crash inputs listed in Fuzz/hdf5-crashes.md")
    }

    @Test(arguments: inputs)
    func failsWithAnErrorNamingTheFile(_ name: String) throws {
        Fixtures.loadPlugins()
        let path = Self.folder.appendingPathComponent(name).path
        do {
            _ = try Model.load(path: path, loader: "keras")
            Issue.record("\(name) loaded, but it is expected to be malformed")
        } catch let e as CAMError {
            #expect(e.message.contains(name), "“\(e.message)” does not name the file")
            #expect(!e.message.contains("\n"), "one line: \(e.message)")
        }
    }

    /// Inputs on which libhdf5 loops forever: the reader is stopped after the time limit and
    /// the file is reported (run through the tool, to set the limit in its environment).
    @Test func aReaderThatHangsIsStoppedAndTheFileNamed() throws {
        let folder = Fixtures.repositoryRoot.appendingPathComponent("Fuzz/hdf5-hangs")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix("timeout-") }
        #expect(!names.isEmpty)
        for name in names {
            let path = folder.appendingPathComponent(name).path
            let r = try CommandRunner.run(CommandRunner.swiftcam, ["layers", "--model", path, "--loader", "keras"], environment: ["SWIFTCAM_HDF5_TIMEOUT": "2"])
            #expect(r.status == 1, "\(r.stderr)")
            #expect(r.stderr.contains(name) && r.stderr.contains("did not finish") && r.stderr.contains("within 2.0 s"), "\(r.stderr)")
        }
    }

    /// The reader process dies with swiftcam: killing swiftcam while libhdf5 loops leaves no
    /// reader spinning on its own.
    @Test func aKilledSwiftcamTakesItsReaderWithIt() throws {
        let folder = Fixtures.repositoryRoot.appendingPathComponent("Fuzz/hdf5-hangs")
        guard let name = try FileManager.default.contentsOfDirectory(atPath: folder.path).first(where: { $0.hasPrefix("timeout-") }) else { return }
        let tool = Process()
        tool.executableURL = URL(fileURLWithPath: CommandRunner.swiftcam)
        tool.arguments = ["layers", "--model", folder.appendingPathComponent(name).path, "--loader", "keras"]
        tool.environment = ["SWIFTCAM_HDF5_TIMEOUT": "120", "PATH": "/usr/bin:/bin"]
        tool.standardOutput = FileHandle.nullDevice
        tool.standardError = FileHandle.nullDevice
        try tool.run()
        // Wait for the reader to start.
        var reader: Int32?
        for _ in 0..<100 where reader == nil {
            usleep(50_000)
            let children = FileContents.text(atPath: "/proc/\(tool.processIdentifier)/task/\(tool.processIdentifier)/children") ?? ""
            reader = children.split(separator: " ").first.flatMap { Int32($0) }
        }
        let child = try #require(reader, "the reader process did not start")
        kill(tool.processIdentifier, SIGKILL)
        tool.waitUntilExit()
        var gone = false
        for _ in 0..<100 where !gone {
            usleep(50_000)
            let state = FileContents.text(atPath: "/proc/\(child)/stat")?.split(separator: " ").dropFirst(2).first
            gone = state == nil || state == "Z"
        }
        #expect(gone, "reader \(child) still running after swiftcam was killed")
    }
}
