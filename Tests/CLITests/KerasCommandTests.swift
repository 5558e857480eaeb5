import CAMCore
import Foundation
import Testing
import TestSupport

/// `swiftcam` on Keras `.h5` models works as on ONNX: NHWC `--input-npy`, Keras layer names
/// as `--target-layer`, maps and outputs matching the references.
@Suite("swiftcam on Keras models")
struct KerasCommandTests {
    static let smallCNN = "keras/small_cnn"

    @Test func explainSmallCNNMatchesTheGradCAMReference() throws {
        guard let model = Fixtures.path("\(Self.smallCNN)/model.h5") else { return }
        let dir = try CommandRunner.temporaryFolder("keras-explain")
        defer { try? FileManager.default.removeItem(at: dir) }
        let maps = dir.appendingPathComponent("maps.npy").path, logits = dir.appendingPathComponent("out.npy").path
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["explain", "--model", model, "--input-npy", Fixtures.path("\(Self.smallCNN)/input.npy")!,
                                                              "--target-layer", "relu2", "--category", "3", "--category", "7",
                                                              "--npy", maps, "--logits", logits, "--output-dir", dir.path])
        #expect(r.status == 0, "\(r.stderr)")
        let m = Compare.mapsMatch(try NPY.read(maps), try Fixtures.npy("\(Self.smallCNN)/GradCAM.npy"))
        #expect(m.ok, "\(m.report)")
        #expect(Compare.maxAbs(try NPY.read(logits), try Fixtures.npy("\(Self.smallCNN)/output.npy")) <= 1e-4)
        // Overlays of the NHWC input pictures.
        let overlays = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".png") }
        #expect(overlays.count == 2)
    }

    @Test func anNCHWBatchIsAcceptedWithLayout() throws {
        guard let model = Fixtures.path("\(Self.smallCNN)/model.h5") else { return }
        let dir = try CommandRunner.temporaryFolder("keras-layout")
        defer { try? FileManager.default.removeItem(at: dir) }
        let nhwc = try Fixtures.npy("\(Self.smallCNN)/input.npy")
        let nchwPath = dir.appendingPathComponent("nchw.npy").path
        try NPY.write(try Transpose(perm: [0, 3, 1, 2]).forward([nhwc])[0], to: nchwPath)
        let maps = dir.appendingPathComponent("maps.npy").path
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["explain", "--model", model, "--input-npy", nchwPath, "--layout", "nchw",
                                                              "--target-layer", "relu2", "--category", "3", "--category", "7", "--npy", maps])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Compare.mapsMatch(try NPY.read(maps), try Fixtures.npy("\(Self.smallCNN)/GradCAM.npy")).ok)
    }

    @Test func explainFERAtAdd4() throws {
        let fer = "real/fer_mini_xception"
        guard let model = Fixtures.path("\(fer)/model.h5") else { return }
        let dir = try CommandRunner.temporaryFolder("keras-fer")
        defer { try? FileManager.default.removeItem(at: dir) }
        let maps = dir.appendingPathComponent("maps.npy").path
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["explain", "--model", model, "--input-npy", Fixtures.path("\(fer)/input.npy")!,
                                                              "--target-layer", "add_4", "--npy", maps])
        #expect(r.status == 0, "\(r.stderr)")
        // The top class is "neutral" (6), the reference's target.
        #expect(r.stdout.contains("ClassifierOutputTarget(6)"), "\(r.stdout)")
        let reference = try CAMPostprocessing.aggregate([try Fixtures.npy("\(fer)/gradcam_add_4_cam_64_scaled.npy").reshaped(to: [1, 64, 64])])
        let m = Compare.mapsMatch(try NPY.read(maps), reference)
        #expect(m.ok, "\(m.report)")
    }

    @Test func predictWritesKerasOutputs() throws {
        guard let model = Fixtures.path("keras/mobilenetv2_035_96/model.h5") else { return }
        let dir = try CommandRunner.temporaryFolder("keras-predict")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["predict", "--model", model, "--input-npy", Fixtures.path("keras/mobilenetv2_035_96/input.npy")!,
                                                              "--outputs", dir.path])
        #expect(r.status == 0, "\(r.stderr)")
        let out = try NPY.read(dir.appendingPathComponent("predictions.npy").path)
        #expect(Compare.maxAbs(out, try Fixtures.npy("keras/mobilenetv2_035_96/output.npy")) <= 1e-4)
    }

    @Test func anUnknownKerasLayerNameListsTheClosest() throws {
        guard let model = Fixtures.path("\(Self.smallCNN)/model.h5") else { return }
        let dir = try CommandRunner.temporaryFolder("keras-badlayer")
        defer { try? FileManager.default.removeItem(at: dir) }
        let maps = dir.appendingPathComponent("maps.npy").path
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["explain", "--model", model, "--input-npy", Fixtures.path("\(Self.smallCNN)/input.npy")!,
                                                              "--target-layer", "relu3", "--npy", maps])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("relu2"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: maps))
    }

    @Test func aBrokenH5FailsWithOneLine() throws {
        let bad = Fixtures.repositoryRoot.appendingPathComponent("Tests/KerasImporterTests/Fixtures/bad_unknown_layer.h5").path
        let dir = try CommandRunner.temporaryFolder("keras-broken")
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("x.npy").path
        try NPY.write(Tensor(zeros: [1, 8, 8, 2]), to: input)
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["predict", "--model", bad, "--input-npy", input])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("FancyAttention"), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
    }
}

/// `swiftcam layers` lists what `--target-layer` takes.
@Suite("swiftcam layers")
struct LayersCommandTests {
    @Test func listsKerasLayerNamesWithShapes() throws {
        guard let model = Fixtures.path("real/fer_mini_xception/model.h5") else { return }
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["layers", "--model", model])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.contains("46 layers") == true, "\(lines.first ?? "")")
        #expect(lines.contains { $0.hasPrefix("add_4 ") && $0.hasSuffix("1×128×4×4") }, "\(r.stdout)")
        #expect(lines.contains { $0.hasPrefix("input_1 ") && $0.hasSuffix("1×64×64×1") })
        #expect(!lines.contains { $0.contains("/") && !$0.hasPrefix("/") }, "intermediates are hidden without --all")
        let all = try CommandRunner.run(CommandRunner.swiftcam, ["layers", "--model", model, "--all", "--no-shapes"])
        #expect(all.status == 0)
        #expect(all.stdout.contains("input_1/channels_first"))
    }

    @Test func listsONNXTensors() throws {
        guard let model = Fixtures.path("torch/resnet18/model.onnx") else { return }
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["layers", "--model", model])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("/layer4/layer4.1/relu_1/Relu_output_0"))
    }
}
