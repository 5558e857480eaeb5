import CAMCore
import Foundation
import Testing
import TestSupport

/// The README's "From Swift" example, as written there.
@Suite("The Swift API")
struct SwiftAPITests {
    @Test func theReadmeExampleRuns() throws {
        guard let modelPath = Fixtures.path("torch/resnet18/model.onnx"), let picture = Fixtures.path("real/images/dog.jpg") else { return }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("swiftcam-api-\(getpid()).png").path
        defer { try? FileManager.default.removeItem(atPath: out) }

        PluginLoader.loadAll()
        let model = try Model.load(path: modelPath)
        let (batch, pictures) = try PreprocessingSettings().resolved(declared: model.declaredInputSize)
            .prepare([try RGBImage.load(path: picture)])
        let result = try CAMExplainer(model: model).explain(batch, CAMRequest(
            method: try PluginRegistry.shared.method(named: "gradcam++"), targetLayers: ["layer4.1"]))
        let image = try overlay(image: pictures[0], cam: result.maps!.batchItem(0).toFloats())
        try image.write(png: out)

        #expect(try RGBImage.load(path: out).width == 224)
    }

    /// A model, and everything an explanation built on it (executors, gradient programs,
    /// cached filter transforms), is freed with its last reference: loading models one after
    /// another in a long-running process does not accumulate them.
    @Test func aModelIsFreedWithItsLastReference() throws {
        guard let modelPath = Fixtures.path("torch/resnet18/model.onnx") else { return }
        PluginLoader.loadAll()
        weak var released: Model?
        try {
            let model = try Model.load(path: modelPath)
            released = model
            // A gradient program, a suffix run and a Hessian–vector product: each is cached.
            for method in ["gradcam", "ablationcam", "shapleycam"] {
                _ = try CAMExplainer(model: model).explain(Tensor(zeros: [1, 3, 224, 224]), CAMRequest(
                    method: try PluginRegistry.shared.method(named: method), targetLayers: ["layer4.1"]))
            }
        }()
        #expect(released == nil)
    }
}
