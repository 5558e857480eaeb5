import CAMCore
import Testing
import TestSupport

/// The forward pass against onnxruntime's logits on the reference models.
@Suite("Forward pass matches onnxruntime")
struct ForwardFixtureTests {
    @Test("logits within 1e-4, whole batch and each image alone", arguments: ["torch/resnet18", "real/efficientnet_lite0", "torch/deit_tiny_patch16_224"])
    func logits(_ fixture: String) throws {
        guard let modelPath = Fixtures.path("\(fixture)/model.onnx") else { return }
        Fixtures.loadPlugins()
        let model = try Model.load(path: modelPath)
        let input = try Fixtures.npy("\(fixture)/input.npy")
        let expected = try Fixtures.npy("\(fixture)/logits_ort.npy")
        let logits = try model.predict(input)[0]
        #expect(logits.shape == expected.shape)
        let batchError = Compare.maxAbs(logits, expected)
        #expect(batchError <= 1e-4, "batch: max |Δ| = \(batchError)")
        for i in 0..<input.shape[0] {
            let single = try model.predict(input.batchSlice(i..<(i + 1)))[0]
            let err = Compare.maxAbs(single, expected.batchSlice(i..<(i + 1)))
            #expect(err <= 1e-4, "image \(i) alone: max |Δ| = \(err)")
        }
    }
}
