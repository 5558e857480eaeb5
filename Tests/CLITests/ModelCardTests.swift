import CAMCore
import Foundation
import Testing
import TestSupport

/// A model card beside a model supplies its preprocessing, labels and target layer; a broken
/// card is a clear error naming the JSON path.
@Suite("Model cards and default target layers")
struct ModelCardTests {
    static let demo = Fixtures.repositoryRoot.appendingPathComponent("demo/efficientnet-lite0.onnx").path

    @Test func theDemoNeedsNoPreprocessingFlags() throws {
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["predict", "--model", Self.demo, "--image",
                                                              Fixtures.repositoryRoot.appendingPathComponent("demo/cat.png").path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("1.   282") && r.stdout.contains("tiger cat"), "\(r.stdout)")
    }

    @Test func aBrokenCardNamesTheField() throws {
        guard let model = Fixtures.path("torch/resnet18/model.onnx"), let input = Fixtures.path("torch/resnet18/input.npy") else { return }
        let dir = try CommandRunner.temporaryFolder("card")
        defer { try? FileManager.default.removeItem(at: dir) }
        let copy = dir.appendingPathComponent("m.onnx")
        try FileManager.default.createSymbolicLink(at: copy, withDestinationURL: URL(fileURLWithPath: model))
        for (card, message) in [("{\"preprocessing\": {\"sise\": [1, 2]}}", "$.preprocessing.sise: unknown key"),
                                ("{\"preprocessing\": {\"resize\": \"bicubic\"}}", "$.preprocessing.resize: expected plain, none or shorter:N"),
                                ("{\"targetLayer\": 7}", "$.targetLayer: expected String"),
                                ("[1, 2]", "not a JSON object")] {
            try card.write(to: dir.appendingPathComponent("m.swiftcam.json"), atomically: true, encoding: .utf8)
            let r = try CommandRunner.run(CommandRunner.swiftcam, ["explain", "--model", copy.path, "--input-npy", input, "--npy", dir.appendingPathComponent("o.npy").path])
            #expect(r.status == 1 && r.stderr.contains(message), "\(card): \(r.stderr)")
        }
    }

    @Test("the default target layer is the last spatial map before pooling", arguments: [
        ("torch/resnet18", "/layer4/layer4.1/relu_1/Relu_output_0"), ("real/efficientnet_lite0", "/_head_relu6/Clip_output_0"),
    ])
    func defaultLayer(_ fixture: String, _ expected: String) throws {
        guard let path = Fixtures.path("\(fixture)/model.onnx") else { return }
        Fixtures.loadPlugins()
        let model = try Model.load(path: path)
        let id = try LayerDiscovery.defaultLayer(model, sample: LayerDiscovery.sampleInput(model)!)
        #expect(model.graph.name(of: id) == expected)
    }
}
