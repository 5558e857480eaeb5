import CAMCore
import Foundation
import Testing
import TestSupport

/// `swiftcam explain --reshape` on the DeiT reference model.
@Suite("swiftcam explain on a vision transformer")
struct TransformerCommandTests {
    static let deit = "torch/deit_tiny_patch16_224"
    static let layer = "/blocks/blocks.11/norm1/LayerNormalization_output_0"
    static let categories = ["--category", "243", "--category", "281", "--category", "339"]

    @Test("--reshape vit (grid found in the graph) and vit:14x14 match GradCAM.npy", arguments: ["vit", "vit:14x14"])
    func explainMatchesTheReference(_ reshape: String) throws {
        guard let model = Fixtures.path("\(Self.deit)/model.onnx"), let input = Fixtures.path("\(Self.deit)/input.npy") else { return }
        let dir = try CommandRunner.temporaryFolder("deit")
        defer { try? FileManager.default.removeItem(at: dir) }
        let maps = dir.appendingPathComponent("maps.npy").path, logits = dir.appendingPathComponent("logits.npy").path
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["explain", "--model", model, "--input-npy", input, "--reshape", reshape,
                                                              "--target-layer", Self.layer, "--npy", maps, "--logits", logits] + Self.categories)
        #expect(r.status == 0, "\(r.stderr)")
        let m = Compare.mapsMatch(try NPY.read(maps), try Fixtures.npy("\(Self.deit)/GradCAM.npy"))
        #expect(m.ok, "\(m.report)")
        #expect(Compare.maxAbs(try NPY.read(logits), try Fixtures.npy("\(Self.deit)/logits_ort.npy")) <= 1e-4)
    }

    @Test func moduleTargetLayerAndOverlays() throws {
        // `blocks.11.norm1` as upstream's users write it, and one overlay per image.
        guard let model = Fixtures.path("\(Self.deit)/model.onnx"), let input = Fixtures.path("\(Self.deit)/input.npy") else { return }
        let dir = try CommandRunner.temporaryFolder("deit-overlay")
        defer { try? FileManager.default.removeItem(at: dir) }
        let maps = dir.appendingPathComponent("maps.npy").path
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["explain", "--model", model, "--input-npy", input, "--reshape", "vit",
                                                              "--target-layer", "blocks.11.norm1", "--npy", maps, "--output-dir", dir.path] + Self.categories)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Compare.mapsMatch(try NPY.read(maps), try Fixtures.npy("\(Self.deit)/GradCAM.npy")).ok)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("input_0_gradcam.png").path))
    }

    func expectFailure(_ extra: [String], status: Int32, message: String, oneLine: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) throws {
        guard let model = Fixtures.path("\(Self.deit)/model.onnx"), let input = Fixtures.path("\(Self.deit)/input.npy") else { return }
        let dir = try CommandRunner.temporaryFolder("deit-fail")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.npy").path
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["explain", "--model", model, "--input-npy", input, "--target-layer", Self.layer, "--npy", out] + extra)
        #expect(r.status == status, "exit \(r.status): \(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr.contains(message), "\(r.stderr)", sourceLocation: sourceLocation)
        if oneLine {
            #expect(!r.stderr.trimmingCharacters(in: .whitespacesAndNewlines).contains("\n"), "more than one line: \(r.stderr)", sourceLocation: sourceLocation)
        }
        #expect(!FileManager.default.fileExists(atPath: out), "a partial output was written", sourceLocation: sourceLocation)
    }

    @Test func reshapeErrors() throws {
        try expectFailure([], status: 2, message: "give a reshape transform (e.g. --reshape vit)")
        try expectFailure(["--reshape", "nosuch"], status: 2, message: "no plugin provides the reshape transform 'nosuch'; available: swin, vit")
        try expectFailure(["--reshape", "vit:15x15"], status: 2, message: "has 197 tokens, fewer than the 225 of a 15x15 grid")
        try expectFailure(["--reshape", "vit:14"], status: 2, message: "expected a grid HxW")
        // Caught by the argument parser, which adds the usage.
        try expectFailure(["--reshape", ":14x14"], status: 2, message: "--reshape needs a transform name", oneLine: false)
    }
}
