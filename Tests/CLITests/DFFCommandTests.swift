import CAMCore
import Foundation
import Testing
import TestSupport

/// `swiftcam dff` end to end on the ResNet-18 fixture (upstream: `DeepFeatureFactorization(model,
/// model.layer4, model.fc)(input, 4)`), and its errors.
@Suite("swiftcam dff")
struct DFFCommandTests {
    static let fixture = "torch/resnet18"

    @Test func writesUpstreamsMapsConceptsScoresAndPictures() throws {
        guard let model = Fixtures.path("\(Self.fixture)/model.onnx"), let input = Fixtures.path("\(Self.fixture)/input.npy"),
              Fixtures.path("dff/resnet18/manifest.json") != nil else { return }
        let manifest = try Fixtures.json("dff/resnet18/manifest.json")
        let dir = try CommandRunner.temporaryFolder("dff")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (maps, concepts, scores) = (dir.appendingPathComponent("maps.npy").path, dir.appendingPathComponent("concepts.npy").path,
                                        dir.appendingPathComponent("scores.npy").path)
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["dff", "--model", model, "--input-npy", input, "--target-layer", "layer4",
                                                              "--concepts", "4", "--head-layer", "fc", "--output-dir", dir.path, "--npy", maps,
                                                              "--concepts-npy", concepts, "--scores-npy", scores])
        #expect(r.status == 0, "\(r.stderr)")
        // sklearn's start and coordinate descent: the same factorization as upstream's.
        #expect(Compare.relative(try NPY.read(maps), try Fixtures.npy("dff/resnet18/batch_explanations.npy")) <= 1e-2)
        #expect(Compare.relative(try NPY.read(concepts), try Fixtures.npy("dff/resnet18/concepts.npy")) <= 1e-3)
        #expect(Compare.relative(try NPY.read(scores), try Fixtures.npy("dff/resnet18/concept_outputs.npy")) <= 1e-3)
        // One line per concept with its top classes (no labels here: class indices), as upstream's top 5 begins.
        let top = manifest["concept_top5"] as! [[[String: Any]]]
        for (k, entries) in top.enumerated() {
            let line = r.stdout.split(separator: "\n").first { $0.hasPrefix("concept \(k): ") } ?? ""
            #expect(line.hasPrefix("concept \(k): class \(entries[0]["index"] as! Int):"), "\(line)")
            #expect(line.contains(", class \(entries[1]["index"] as! Int):"), "\(line)")
        }
        // Per image: the share of pixels each concept dominates, as upstream's argmax gives.
        let shares = manifest["explanation_argmax_share"] as! [[Double]]
        for (i, s) in shares.enumerated() {
            let expected = s.map { String(format: "%.0f%%", 100 * $0) }.joined(separator: " ")
            #expect(r.stdout.contains("input_\(i): dominant concept share \(expected) → "), "\(r.stdout)")
            let picture = try RGBImage.load(path: dir.appendingPathComponent("input_\(i)_dff.png").path)
            #expect(picture.width == 3 * 224 && picture.height == 224, "photo | concepts | legend")
        }
    }

    @Test func errorsAreUsageErrors() throws {
        guard let model = Fixtures.path("\(Self.fixture)/model.onnx"), let input = Fixtures.path("\(Self.fixture)/input.npy") else { return }
        func fails(_ extra: [String], _ message: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let dir = try CommandRunner.temporaryFolder("dfffail")
            defer { try? FileManager.default.removeItem(at: dir) }
            let out = dir.appendingPathComponent("maps.npy").path
            let r = try CommandRunner.run(CommandRunner.swiftcam, ["dff", "--model", model, "--input-npy", input, "--npy", out] + extra)
            #expect(r.status == 2, "exit \(r.status): \(r.stderr)", sourceLocation: sourceLocation)
            #expect(r.stderr.contains(message), "\(r.stderr)", sourceLocation: sourceLocation)
            #expect(!FileManager.default.fileExists(atPath: out), sourceLocation: sourceLocation)
        }
        try fails(["--concepts", "0"], "--concepts must be at least 1")
        try fails(["--concepts", "500", "--target-layer", "layer4"], "--concepts must be between 1 and 147")
        try fails(["--concepts", "4", "--head-layer", "fc", "--head-input", "/Flatten_output_0"], "give --head-layer or --head-input, not both")
        try fails(["--concepts", "4", "--head-layer", "fc9"], "no tensor or module named 'fc9'")
        try fails(["--concepts", "4", "--factorization", "pca"], "no plugin provides the feature factorization 'pca'")
        try fails(["--concepts", "4", "--scores-npy", "/tmp/x.npy"], "--scores-npy needs --head-layer or --head-input")
    }
}
