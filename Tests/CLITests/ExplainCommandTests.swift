import CAMCore
import Foundation
import Testing
import TestSupport

/// `swiftcam predict` and `swiftcam explain` end to end, on the real EfficientNet-Lite0 and
/// the ResNet-18 reference model.
@Suite("swiftcam predict / explain")
struct ExplainCommandTests {
    static let effnet = "real/efficientnet_lite0"
    /// The model's own preprocessing (see the fixture's manifest).
    static let effnetPreprocessing = ["--resize", "shorter:256", "--crop", "224x224", "--mean", "127", "--std", "128", "--raw-scale"]

    @Test func predictPrintsTheReferenceTop5WithNames() throws {
        guard let model = Fixtures.path("\(Self.effnet)/model.onnx"), let labels = Fixtures.path("\(Self.effnet)/imagenet_classes.txt") else { return }
        let manifest = try Fixtures.json("\(Self.effnet)/manifest.json")
        let top5 = manifest["top5"] as! [String: [[String: Any]]]
        let images = ["chelsea.png", "coffee.png"]
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["predict", "--model", model, "--labels", labels]
            + images.flatMap { ["--image", Fixtures.path("\(Self.effnet)/\($0)")!] } + Self.effnetPreprocessing)
        #expect(r.status == 0, "\(r.stderr)")
        let blocks = r.stdout.components(separatedBy: "\n").split { $0.hasSuffix(":") && !$0.hasPrefix(" ") }
        for (i, image) in images.enumerated() {
            let printed = blocks[i].map { $0.split(separator: " ", omittingEmptySubsequences: true) }
            let expected = top5[image]!
            for (rank, entry) in expected.enumerated() {
                let line = printed[rank].joined(separator: " ")
                #expect(line.contains(" \(entry["index"] as! Int) "), "\(image) rank \(rank + 1): \(line)")
                #expect(line.hasSuffix(entry["name"] as! String), "\(image) rank \(rank + 1): \(line)")
            }
        }
    }

    @Test func explainWritesMapsAndLogitsMatchingTheReferences() throws {
        guard let model = Fixtures.path("\(Self.effnet)/model.onnx") else { return }
        let dir = try CommandRunner.temporaryFolder("explain")
        defer { try? FileManager.default.removeItem(at: dir) }
        let maps = dir.appendingPathComponent("maps.npy").path, logits = dir.appendingPathComponent("logits.npy").path
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["explain", "--model", model, "--input-npy", Fixtures.path("\(Self.effnet)/input.npy")!,
                                                              "--target-layer", "/_head_relu6/Clip_output_0", "--category", "282", "--category", "967",
                                                              "--npy", maps, "--logits", logits])
        #expect(r.status == 0, "\(r.stderr)")
        let m = Compare.mapsMatch(try NPY.read(maps), try Fixtures.npy("\(Self.effnet)/GradCAM.npy"))
        #expect(m.ok, "\(m.report)")
        #expect(Compare.maxAbs(try NPY.read(logits), try Fixtures.npy("\(Self.effnet)/logits_ort.npy")) <= 1e-4)
    }

    @Test func overlayOfThePhotoMatchesShowCamOnImage() throws {
        guard let model = Fixtures.path("\(Self.effnet)/model.onnx") else { return }
        let dir = try CommandRunner.temporaryFolder("overlay")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["explain", "--model", model, "--image", Fixtures.path("\(Self.effnet)/chelsea.png")!,
                                                              "--target-layer", "/_head_relu6/Clip_output_0", "--output-dir", dir.path] + Self.effnetPreprocessing)
        #expect(r.status == 0, "\(r.stderr)")
        let image = try RGBImage.load(path: dir.appendingPathComponent("chelsea_gradcam.png").path)
        let reference = try Fixtures.npy("\(Self.effnet)/overlay_gradcam_uint8.npy").toFloats()
        // The map differs from upstream's by float rounding (~1e-6), which can move a pixel
        // across a colormap step: allow ±1 everywhere and a few larger steps.
        let deltas = zip(image.pixels, reference).map { abs(Float($0.0) - $0.1) }
        #expect(deltas.filter { $0 > 1 }.count <= deltas.count / 1000, "pixels off by more than 1: \(deltas.filter { $0 > 1 }.count)")
    }

    @Test func anAllZeroMapIsWrittenAndExplained() throws {
        guard let model = Fixtures.path("torch/resnet18/model.onnx") else { return }
        let dir = try CommandRunner.temporaryFolder("zero")
        defer { try? FileManager.default.removeItem(at: dir) }
        let maps = dir.appendingPathComponent("maps.npy").path
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["explain", "--model", model, "--input-npy", Fixtures.path("torch/resnet18/input.npy")!,
                                                              "--target-layer", "layer4.1", "--category", "243", "--category", "281", "--category", "339", "--npy", maps])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("image 0: the CAM is all zeros"), "\(r.stderr)")
        #expect(try NPY.read(maps).toFloats()[0..<(224 * 224)].allSatisfy { $0 == 0 })
    }

    // MARK: Errors: one line, the right exit code, nothing written.

    func expectFailure(_ arguments: [String], status: Int32, message: String, outputFlag: String = "--npy", sourceLocation: SourceLocation = #_sourceLocation) throws {
        let dir = try CommandRunner.temporaryFolder("fail")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.npy").path
        let r = try CommandRunner.run(CommandRunner.swiftcam, arguments + [outputFlag, out])
        #expect(r.status == status, "exit \(r.status): \(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr.contains(message), "\(r.stderr)", sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: out), "a partial output was written", sourceLocation: sourceLocation)
    }

    @Test func badInputsGiveOneClearErrorAndNoOutput() throws {
        guard let model = Fixtures.path("torch/resnet18/model.onnx"), let input = Fixtures.path("torch/resnet18/input.npy") else { return }
        let explain = ["explain", "--target-layer", "layer4.1"]
        try expectFailure(explain + ["--model", "/nonexistent/model.onnx", "--input-npy", input], status: 1, message: "/nonexistent/model.onnx: no such file")
        let png = Fixtures.path("\(Self.effnet)/chelsea.png")!
        try expectFailure(explain + ["--model", png, "--input-npy", input, "--loader", "onnx"], status: 1, message: "is not a valid ONNX model")
        try expectFailure(explain + ["--model", png, "--input-npy", input], status: 2, message: "no loaded plugin reads this kind of file")
        try expectFailure(["explain", "--model", model, "--input-npy", input, "--target-layer", "layer4.9"], status: 2,
                          message: "no tensor or module named 'layer4.9' in the model; closest:")
        try expectFailure(explain + ["--model", model, "--input-npy", input, "--category", "1", "--category", "2", "--category", "5000"], status: 2,
                          message: "category 5000 is out of range")
        try expectFailure(explain + ["--model", model, "--input-npy", input, "--category", "1"], status: 2, message: "1 --category values for 3 images")
        try expectFailure(explain + ["--model", model, "--input-npy", Fixtures.path("\(Self.effnet)/GradCAM.npy")!], status: 1,
                          message: "expected a float32 (N, C, H, W) array")
        try expectFailure(explain + ["--model", model, "--input-npy", input, "--no-such-flag"], status: 2, message: "Unknown option '--no-such-flag'")
        try expectFailure(explain + ["--model", model, "--input-npy", input, "--method", "nosuchcam"], status: 2, message: "no plugin provides method 'nosuchcam'")
    }

    @Test func wrongInputShapeAndMissingInputsAreNamed() throws {
        guard let model = Fixtures.path("torch/resnet18/model.onnx") else { return }
        let dir = try CommandRunner.temporaryFolder("shape")
        defer { try? FileManager.default.removeItem(at: dir) }
        let small = dir.appendingPathComponent("small.npy").path
        try NPY.write(Tensor(zeros: [1, 3, 100, 100]), to: small)
        try expectFailure(["predict", "--model", model, "--input-npy", small], status: 1,
                          message: "input 'input' expects shape ?×3×224×224, got 1×3×100×100", outputFlag: "--logits")
        // A model with two inputs given one.
        let twoInputs = "/usr/share/libonnx-testdata/data/node/test_add/model.onnx"
        guard FileManager.default.fileExists(atPath: twoInputs) else { return }
        let x = dir.appendingPathComponent("x.npy").path
        try NPY.write(Tensor(zeros: [3, 4, 5]), to: x)
        try expectFailure(["predict", "--model", twoInputs, "--input-npy", x], status: 1, message: "the model has 2 inputs (x, y) but 1 were given", outputFlag: "--logits")
    }
}

/// The smoothing and meta-method flags end to end.
@Suite("swiftcam explain: smoothing, meta-methods, guided backprop")
struct ExplainOptionsTests {
    static let resnet = "torch/resnet18"

    func explain(_ extra: [String], fixture: String = resnet) throws -> (CommandRunner.Result, URL) {
        let dir = try CommandRunner.temporaryFolder("options")
        let m = try Fixtures.json("\(fixture)/manifest.json")
        let layer = (m["target_layer"] as! [String: Any])["onnx_tensor"] as! String
        let categories = (m["targets"] as! [[String: Any]]).map { "\($0["category"] as! Int)" }
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["explain", "--model", Fixtures.path("\(fixture)/model.onnx")!,
                                                              "--input-npy", Fixtures.path("\(fixture)/input.npy")!, "--target-layer", layer,
                                                              "--npy", dir.appendingPathComponent("maps.npy").path]
                                      + categories.flatMap { ["--category", $0] } + extra)
        return (r, dir)
    }

    @Test("--eigen-smooth and --aug-smooth give upstream's smoothed maps", arguments: [("--eigen-smooth", "GradCAM_eigen_smooth"), ("--aug-smooth", "GradCAM_aug_smooth")])
    func smoothing(_ flag: String, _ reference: String) throws {
        guard Fixtures.path("\(Self.resnet)/\(reference).npy") != nil else { return }
        let (r, dir) = try explain([flag])
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(r.status == 0, "\(r.stderr)")
        let m = Compare.mapsMatch(try NPY.read(dir.appendingPathComponent("maps.npy").path), try Fixtures.npy("\(Self.resnet)/\(reference).npy"))
        #expect(m.ok, "\(m.report)")
    }

    @Test func finerCAMWithBaseMethodAndOptions() throws {
        guard Fixtures.path("\(Self.resnet)/FinerCAM.npy") != nil else { return }
        let (r, dir) = try explain(["--method", "finercam", "--base-method", "gradcam", "--method-option", "alpha=1", "--method-option", "comparison-ranks=1,2,3"])
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(r.status == 0, "\(r.stderr)")
        let m = Compare.mapsMatch(try NPY.read(dir.appendingPathComponent("maps.npy").path), try Fixtures.npy("\(Self.resnet)/FinerCAM.npy"))
        #expect(m.ok, "\(m.report)")
        let bad = try explain(["--method", "finercam", "--method-option", "alpha=much"])
        defer { try? FileManager.default.removeItem(at: bad.1) }
        #expect(bad.0.status == 2 && bad.0.stderr.contains("option alpha: expected a number, got 'much'"), "\(bad.0.stderr)")
    }

    @Test func guidedWritesGuidedBackpropAndCamGB() throws {
        guard Fixtures.path("\(Self.resnet)/model.onnx") != nil else { return }
        let (r, dir) = try explain(["--guided", "--output-dir", "OUT"].map { $0 == "OUT" ? FileManager.default.temporaryDirectory.appendingPathComponent("swiftcam-guided-\(getpid())").path : $0 })
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("swiftcam-guided-\(getpid())")
        defer { try? FileManager.default.removeItem(at: out) }
        #expect(r.status == 0, "\(r.stderr)")
        for suffix in ["", "_gb", "_cam_gb"] {
            let image = try RGBImage.load(path: out.appendingPathComponent("input_0_gradcam\(suffix).png").path)
            #expect(image.width == 224 && image.height == 224)
        }
        // The guided backprop array itself.
        let (g, gdir) = try explain(["--method", "guidedbackprop"])
        defer { try? FileManager.default.removeItem(at: gdir) }
        #expect(g.status == 0, "\(g.stderr)")
        #expect(try NPY.read(gdir.appendingPathComponent("maps.npy").path).shape == [3, 224, 224, 3])
    }
}
