import ArgumentParser
import CAMCore
import Dispatch
import Foundation

/// `swiftcam bench`: forward and CAM timings (warm-up, repetitions, medians) next to the
/// machine's `cblas_sgemm` throughput measured in the same run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark the forward pass and CAM methods, with sgemm GFLOP/s from the same run."
    )

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .customLong("target-layer"), help: "Target layer for the CAM methods.")
    var targetLayer: String?

    @Option(name: .long, help: ReshapeOption.help)
    var reshape: String?

    @Option(name: .long, help: "Input size HxW (default: the model's declared size, else 224x224).")
    var size: String?

    @Option(name: .long, parsing: .upToNextOption, help: "Batch sizes.")
    var batch: [Int] = [1, 8]

    @Option(name: .long, parsing: .upToNextOption, help: "CAM methods to time (needs --target-layer).")
    var method: [String] = ["gradcam"]

    @Option(name: .long, help: "Timed repetitions per measurement (the median is reported).")
    var repetitions: Int = 7

    @Option(name: .long, help: "Untimed warm-up runs per measurement.")
    var warmup: Int = 2

    func validate() throws {
        if batch.contains(where: { $0 < 1 }) { throw ValidationError("--batch sizes must be positive") }
        if repetitions < 1 || warmup < 0 { throw ValidationError("--repetitions must be ≥ 1 and --warmup ≥ 0") }
        if let size { _ = try InputOptions.parseSize(size, flag: "--size") }
        try ReshapeOption.validate(reshape)
    }

    func run() throws {
        let model = try modelOptions.load()
        let (reshapeTransform, reshapeOptions) = try ReshapeOption.resolve(reshape)
        let (h, w) = try size.map { try InputOptions.parseSize($0, flag: "--size") } ?? model.declaredInputSize.map { ($0.height, $0.width) } ?? (224, 224)
        print("threads: \(Runtime.threadCount), OpenBLAS kernels: \(Runtime.blasCore)")
        let square = measureSGEMM(m: 1024, n: 1024, k: 1024)
        let convShaped = measureSGEMM(m: 256, n: 3136, k: 2304)
        print(String(format: "cblas_sgemm: %.1f GFLOP/s (1024³), %.1f GFLOP/s (256×3136×2304)", square, convShaped))
        let reference = Swift.max(square, convShaped)
        let perImageFLOPs = try FLOPCounter.count(model, input: Tensor(repeating: 0.1, shape: [1, 3, h, w]))
        print(String(format: "model: %@  input 3×%d×%d  %.2f GFLOP per image (Conv/Gemm/MatMul)", modelOptions.model, h, w, perImageFLOPs / 1e9))
        for n in batch {
            var generator = SystemRandomNumberGenerator()
            let x = Tensor(shape: [n, 3, h, w], floats: (0..<(n * 3 * h * w)).map { _ in Float.random(in: -1...1, using: &generator) })
            let forward = try time { _ = try model.predict(x) }
            let gflops = perImageFLOPs * Double(n) / forward / 1e9
            print(String(format: "forward   batch %2d: %8.2f ms/image  %6.1f GFLOP/s  (%.0f%% of sgemm)", n, forward * 1000 / Double(n), gflops, 100 * gflops / reference))
            guard let targetLayer else { continue }
            for name in method {
                let cam = try PluginRegistry.shared.method(named: name)
                let explainer = CAMExplainer(model: model)
                let request = CAMRequest(method: cam, targetLayers: [targetLayer], reshape: reshapeTransform, reshapeOptions: reshapeOptions)
                let t = try time { _ = try explainer.explain(x, request) }
                print(String(format: "%-9@ batch %2d: %8.2f ms/image", name, n, t * 1000 / Double(n)))
            }
        }
    }

    /// Median wall time of `body` over the repetitions, after the warm-up.
    func time(_ body: () throws -> Void) throws -> Double {
        for _ in 0..<warmup { try body() }
        var samples: [Double] = []
        for _ in 0..<repetitions {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return samples.sorted()[samples.count / 2]
    }
}
