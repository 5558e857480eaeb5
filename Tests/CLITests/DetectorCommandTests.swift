import CAMCore
import Foundation
import Testing
import TestSupport

/// `swiftcam explain` on the real detectors: the targets as the fixtures' manifests spell them
/// (`swiftcam_target_args`), the boxes target with the PicoDet decoder, per-image targets, boxes
/// drawn on overlays, and the errors of the new flags.
@Suite("swiftcam explain on detectors")
struct DetectorCommandTests {
    static let dbnet = "real/ppocrv4_det_dbnet"
    static let picodet = "real/picodet_layout_cdla"

    static func layer(_ fixture: String) throws -> String {
        let m = try Fixtures.json("\(fixture)/manifest.json")
        return (m["target_layer"] as! [String: Any])["onnx_tensor"] as! String
    }

    /// The manifest's `swiftcam_target_args`, with `{dir}` filled in.
    static func targetArgs(_ fixture: String) throws -> [String] {
        let m = try Fixtures.json("\(fixture)/manifest.json")
        return (m["swiftcam_target_args"] as! [String]).map { $0.replacingOccurrences(of: "{dir}", with: Fixtures.root.appendingPathComponent(fixture).path) }
    }

    static func explain(_ fixture: String, _ extra: [String], input: String? = nil) throws -> CommandRunner.Result {
        try CommandRunner.run(CommandRunner.swiftcam, ["explain", "--model", Fixtures.path("\(fixture)/model.onnx")!,
                                                              "--input-npy", input ?? Fixtures.path("\(fixture)/input.npy")!,
                                                              "--target-layer", try layer(fixture), "--quiet"] + extra)
    }

    /// GradCAM++ on DBNet with `--gemm-accumulation double` (and the raw map and weights
    /// written by --raw-npy / --weights-npy). Its map is chaotic in float32 (see
    /// DetectorFixtureTests): accumulating in double keeps it close to upstream's, though not
    /// reliably within upstream's own float32-vs-float64 spread; the numbers are printed.
    @Test func gradCAMPlusPlusOnDBNet() throws {
        guard Fixtures.path("\(Self.dbnet)/GradCAMPlusPlus.npy") != nil else { return }
        let dir = try CommandRunner.temporaryFolder("dbnet-gpp")
        defer { try? FileManager.default.removeItem(at: dir) }
        let maps = dir.appendingPathComponent("maps.npy").path, raw = dir.appendingPathComponent("raw.npy").path
        let weights = dir.appendingPathComponent("weights.npy").path
        let r = try Self.explain(Self.dbnet, try Self.targetArgs(Self.dbnet) + ["--method", "gradcam++", "--gemm-accumulation", "double",
                                                                                  "--npy", maps, "--raw-npy", raw, "--weights-npy", weights])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("SemanticSegmentationTarget(0, seg_mask.npy)"), "\(r.stdout)")
        let stats = Compare.perImage(try NPY.read(maps), try Fixtures.npy("\(Self.dbnet)/GradCAMPlusPlus.npy"))[0]
        let rawError = Compare.relative(try NPY.read(raw), try Fixtures.npy("\(Self.dbnet)/GradCAMPlusPlus_raw.npy"))
        let weightError = Compare.relative(try NPY.read(weights), try Fixtures.npy("\(Self.dbnet)/GradCAMPlusPlus_weights.npy"))
        print("GradCAM++ on DBNet (double accumulation): final pearson \(stats.pearson), max|Δ| \(stats.maxAbs); raw relative \(rawError), weights relative \(weightError)")
        #expect(stats.pearson >= 0.99 && stats.maxAbs <= 0.1)
    }

    /// PicoDet's reference target spelled as flags: the sum of three class scores.
    @Test func picodetOutputsTargetFromTheManifest() throws {
        guard Fixtures.path("\(Self.picodet)/GradCAM.npy") != nil else { return }
        let dir = try CommandRunner.temporaryFolder("picodet")
        defer { try? FileManager.default.removeItem(at: dir) }
        let maps = dir.appendingPathComponent("maps.npy").path
        let r = try Self.explain(Self.picodet, try Self.targetArgs(Self.picodet) + ["--npy", maps])
        #expect(r.status == 0, "\(r.stderr)")
        let m = Compare.mapsMatch(try NPY.read(maps), try Fixtures.npy("\(Self.picodet)/GradCAM.npy"))
        #expect(m.ok, "\(m.report)")
    }

    /// Targets given per image, for a batch of two (DBNet takes any batch): image 0 gets the
    /// reference's mask, image 1 a threshold no pixel reaches — a zero map and a warning.
    @Test func targetsPerImage() throws {
        guard Fixtures.path("\(Self.dbnet)/GradCAM.npy") != nil else { return }
        let dir = try CommandRunner.temporaryFolder("per-image")
        defer { try? FileManager.default.removeItem(at: dir) }
        let one = try Fixtures.npy("\(Self.dbnet)/input.npy")
        let two = dir.appendingPathComponent("two.npy").path
        try NPY.write(try Tensor.stack([one.batchItem(0), one.batchItem(0)]), to: two)
        let maps = dir.appendingPathComponent("maps.npy").path
        let first = try Self.targetArgs(Self.dbnet)
        let r = try Self.explain(Self.dbnet, first + ["--target", "segmentation:0:threshold=2", "--npy", maps], input: two)
        #expect(r.status == 0, "\(r.stderr)")
        let result = try NPY.read(maps)
        #expect(Compare.mapsMatch(result.batchItem(0).reshaped(to: [1, 960, 736]), try Fixtures.npy("\(Self.dbnet)/GradCAM.npy")).ok)
        #expect(result.batchItem(1).toFloats().allSatisfy { $0 == 0 })
        #expect(r.stderr.contains("image 1: the CAM is all zeros") && r.stderr.contains("has no pixel"), "\(r.stderr)")
        #expect(!r.stderr.contains("image 0:"), "\(r.stderr)")
        // Three targets for two images is an error.
        let bad = try Self.explain(Self.dbnet, first + ["--target", "classifier", "--target", "classifier", "--npy", maps], input: two)
        #expect(bad.status == 2 && bad.stderr.contains("3 --target values for 2 images"), "\(bad.stderr)")
    }

    /// The boxes target with the PicoDet decoder on the picture (preprocessed as rapid-layout
    /// does: B, G, R with ImageNet's mean applied in that order): the three best detections
    /// named with the class names, and drawn on the overlay.
    @Test func picodetBoxesOnThePicture() throws {
        guard let model = Fixtures.path("\(Self.picodet)/model.onnx"), let image = Fixtures.path("real/images/doc.png") else { return }
        let dir = try CommandRunner.temporaryFolder("boxes")
        defer { try? FileManager.default.removeItem(at: dir) }
        let meta = try Fixtures.json("\(Self.picodet)/meta.json")
        let labels = dir.appendingPathComponent("cdla.labels.txt").path
        try ((meta["labels"] as! [String]).joined(separator: "\n") + "\n").write(toFile: labels, atomically: true, encoding: .utf8)
        func run(_ draw: String) throws -> (CommandRunner.Result, RGBImage?) {
            let out = dir.appendingPathComponent(draw)
            let r = try CommandRunner.run(CommandRunner.swiftcam, ["explain", "--model", model, "--image", image, "--size", "800x608", "--bgr",
                                                                  "--mean", "0.406,0.456,0.485", "--std", "0.225,0.224,0.229",
                                                                  "--target-layer", try Self.layer(Self.picodet), "--target", "boxes:top=3", "--decoder", "picodet",
                                                                  "--labels", labels, "--draw-boxes", draw, "--output-dir", out.path, "--quiet"])
            return (r, try? RGBImage.load(path: out.appendingPathComponent("doc_gradcam.png").path))
        }
        let (r, boxed) = try run("explained")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("BoxScoreTarget(text 0.979, text 0.972, equation 0.947)"), "\(r.stdout)")
        let (_, plain) = try run("none")
        let a = try #require(boxed), b = try #require(plain)
        // The boxes' outlines differ, the rest of the overlay does not.
        let changed = Set(zip(a.pixels, b.pixels).enumerated().filter { $0.element.0 != $0.element.1 }.map { $0.offset / 3 })
        #expect(!changed.isEmpty && changed.count < a.width * a.height / 10, "\(changed.count) of \(a.width * a.height) pixels changed")
        // The top edge of the first box (x 60–534, y ≈ 113) is drawn in the class's colour.
        let p = a[300, 113]
        #expect(p.r == 31 && p.g == 119 && p.b == 180, "\(p)")
    }

    @Test func eigenCAMOnDetectorsNeedsNoTarget() throws {
        for fixture in [Self.picodet, Self.dbnet] {
            guard Fixtures.path("\(fixture)/EigenCAM.npy") != nil else { continue }
            let dir = try CommandRunner.temporaryFolder("eigencam")
            defer { try? FileManager.default.removeItem(at: dir) }
            let maps = dir.appendingPathComponent("maps.npy").path
            let r = try Self.explain(fixture, ["--method", "eigencam", "--npy", maps])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("eigencam for no target (eigencam uses none)"), "\(r.stdout)")
            let m = Compare.mapsMatch(try NPY.read(maps), try Fixtures.npy("\(fixture)/EigenCAM.npy"))
            #expect(m.ok, "\(fixture): \(m.report)")
        }
    }

    @Test func targetFlagErrors() throws {
        guard let model = Fixtures.path("\(Self.picodet)/model.onnx"), let input = Fixtures.path("\(Self.picodet)/input.npy") else { return }
        let dir = try CommandRunner.temporaryFolder("errors")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.npy").path
        let base = ["explain", "--model", model, "--input-npy", input, "--target-layer", "hardswish_84.tmp_0", "--npy", out]
        for (extra, message) in [
            (["--target", "boxes"], "--target boxes needs --decoder"),
            (["--target", "boxes", "--decoder", "yolov7"], "decoder 'yolov7' is unknown"),
            (["--target", "nosuch:1"], "no target named 'nosuch'"),
            (["--target", "classifier:1"], "unexpected argument '1' (classifier takes only key=value options)"),
            (["--target", "segmentation:0:mask.npy:extra"], "unexpected argument 'extra'"),
            (["--target", "outputs:transpose_6.tmp_0[0,999,0]"], "index 999 is out of range"),
            (["--target", "outputs:nosuch[0,1,2]"], "the model has no output 'nosuch'"),
            (["--draw-boxes", "some"], "--draw-boxes must be explained, all or none"),
            (["--gemm-accumulation", "half"], "--gemm-accumulation must be single or double"),
        ] {
            let r = try CommandRunner.run(CommandRunner.swiftcam, base + extra)
            #expect(r.status == 2, "\(extra): exit \(r.status): \(r.stderr)")
            #expect(r.stderr.contains(message), "\(extra): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }
}
