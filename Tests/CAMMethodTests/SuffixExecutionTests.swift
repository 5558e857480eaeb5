import CAMCore
import Foundation
import Testing
import TestSupport

/// AblationCAM runs only the graph after its target layer: the layers before it run once per
/// batch of images, never once per ablated channel; and the suffix, fed the frontier values
/// (a residual branch that bypasses the layer), reproduces the model's outputs exactly.
@Suite("Suffix-only execution")
struct SuffixExecutionTests {
    final class Counter: @unchecked Sendable {
        var counts: [String: Int] = [:]
        let lock = NSLock()
        func add(_ name: String) { lock.lock(); counts[name, default: 0] += 1; lock.unlock() }
    }

    @Test func ablationCAMRunsThePrefixOncePerBatchOfImages() throws {
        guard let path = Fixtures.path("torch/resnet18/model.onnx") else { return }
        Fixtures.loadPlugins()
        let model = try Model.load(path: path)
        let input = try Fixtures.npy("torch/resnet18/input.npy")
        let counter = Counter()
        let method = try PluginRegistry.shared.method(named: "ablationcam")
        _ = try ExecutionObserver.observing({ counter.add($0.name) }) {
            try CAMExplainer(model: model).explain(input, CAMRequest(method: method, targetLayers: ["layer4.1"], categories: [243, 281, 339]))
        }
        // 512 channels × 3 images in batches of 32 = 48 suffix runs; the first convolution
        // (before the layer) runs once, the classifier (after it) once more per suffix run.
        let runner = try SuffixRunner(model: model, layer: try LayerResolver.resolve("layer4.1", in: model.graph), sample: input)
        #expect(runner.dataFrontier.isEmpty && runner.shapeFrontier.isEmpty, "\(runner.dataFrontier.map(model.graph.name(of:))) \(runner.shapeFrontier.map(model.graph.name(of:)))")
        #expect(counter.counts["/conv1/Conv"] == 1, "\(counter.counts["/conv1/Conv"] ?? 0)")
        #expect(counter.counts["/fc/Gemm"] == 1 + 48, "\(counter.counts["/fc/Gemm"] ?? 0)")
    }

    @Test func theSuffixWithItsFrontierReproducesTheOutputs() throws {
        guard let path = Fixtures.path("torch/resnet18/model.onnx") else { return }
        Fixtures.loadPlugins()
        let model = try Model.load(path: path)
        let input = try Fixtures.npy("torch/resnet18/input.npy")
        // Inside a residual block: the block's input bypasses this tensor through the skip.
        let layer = try LayerResolver.resolve("/layer4/layer4.1/relu/Relu_output_0", in: model.graph)
        let runner = try SuffixRunner(model: model, layer: layer, sample: input)
        #expect(!runner.dataFrontier.isEmpty, "the skip connection is part of the frontier")
        let frontier = try runner.frontierValues(input: input)
        let values = try model.evaluate([input], fetch: [layer] + model.graph.outputs)
        for i in 0..<input.shape[0] {
            let rows = try Tensor.repeatRows(values[0].batchItem(i), count: 2)
            let out = try runner.outputs(layerValue: rows, image: i, frontier: frontier, input: input)[0]
            #expect(Compare.maxAbs(out.batchItem(1), values[1].batchItem(i)) == 0)
        }
    }
}
