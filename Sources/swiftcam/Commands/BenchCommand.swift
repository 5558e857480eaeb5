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

    @Flag(name: .long, help: "Also print where each forward pass spends its time, by operator and the 10 slowest nodes (SWIFTCAM_PROFILE_NODES=N lists N).")
    var profile = false

    @Option(name: .long, help: "Leak check instead of timing: run N explanations, cycling through --method at the first --batch size, and report the resident memory after the 10th and the last.")
    var soak: Int?

    func validate() throws {
        if batch.contains(where: { $0 < 1 }) { throw ValidationError("--batch sizes must be positive") }
        if repetitions < 1 || warmup < 0 { throw ValidationError("--repetitions must be ≥ 1 and --warmup ≥ 0") }
        if let soak, soak < 10 { throw ValidationError("--soak needs at least 10 runs, got \(soak)") }
        if soak != nil && targetLayer == nil { throw ValidationError("--soak explains: give --target-layer") }
        if let size { _ = try InputOptions.parseSize(size, flag: "--size") }
        try ReshapeOption.validate(reshape)
    }

    func run() throws {
        let model = try modelOptions.load()
        let (reshapeTransform, reshapeOptions) = try ReshapeOption.resolve(reshape)
        let (h, w) = try size.map { try InputOptions.parseSize($0, flag: "--size") } ?? model.declaredInputSize.map { ($0.height, $0.width) } ?? (224, 224)
        if let soak, let targetLayer {
            return try soakTest(model, runs: soak, size: (h, w), layer: targetLayer, reshape: reshapeTransform, reshapeOptions: reshapeOptions)
        }
        print("threads: \(Runtime.threadCount), OpenBLAS kernels: \(Runtime.blasCore)")
        let square = measureSGEMM(m: 1024, n: 1024, k: 1024)
        let convShaped = measureSGEMM(m: 256, n: 3136, k: 2304)
        print(String(format: "cblas_sgemm: %.1f GFLOP/s (1024³), %.1f GFLOP/s (256×3136×2304)", square, convShaped))
        let reference = Swift.max(square, convShaped)
        let perImageFLOPs = try FLOPCounter.count(model, input: randomInput(model, batch: 1, size: (h, w)))
        print(String(format: "model: %@  input 3×%d×%d  %.2f GFLOP per image (Conv/Gemm/MatMul)", modelOptions.model, h, w, perImageFLOPs / 1e9))
        for n in batch {
            let x = try randomInput(model, batch: n, size: (h, w))
            let forward = try time { _ = try model.predict(x) }
            let gflops = perImageFLOPs * Double(n) / forward / 1e9
            print(String(format: "forward   batch %2d: %8.2f ms/image  %6.1f GFLOP/s  (%.0f%% of sgemm)", n, forward * 1000 / Double(n), gflops, 100 * gflops / reference))
            if profile {
                let operators = OperatorProfile()
                for _ in 0..<repetitions { try operators.record { _ = try model.predict(x) } }
                print(operators.report(images: n * repetitions))
            }
            guard let targetLayer else { continue }
            for name in method {
                let cam = try PluginRegistry.shared.method(named: name)
                let explainer = CAMExplainer(model: model)
                let request = CAMRequest(method: cam, targetLayers: [targetLayer], reshape: reshapeTransform, reshapeOptions: reshapeOptions)
                let t = try time { _ = try explainer.explain(x, request) }
                print(String(format: "%-9@ batch %2d: %8.2f ms/image", name, n, t * 1000 / Double(n)))
            }
        }
        print(String(format: "peak resident memory: %.0f MiB", Double(ResidentMemory.peak) / 1048576))
    }

    /// Runs `runs` explanations in this process and prints its resident memory after the 10th
    /// and after the last: a leak shows as growth between the two.
    func soakTest(_ model: Model, runs: Int, size: (Int, Int), layer: String, reshape: (any ReshapeTransform)?, reshapeOptions: String?) throws {
        let input = try randomInput(model, batch: batch[0], size: size)
        let methods = try method.map { try PluginRegistry.shared.method(named: $0) }
        let explainer = CAMExplainer(model: model)
        var afterTen = 0
        for run in 1...runs {
            let request = CAMRequest(method: methods[run % methods.count], targetLayers: [layer], reshape: reshape, reshapeOptions: reshapeOptions)
            _ = try explainer.explain(input, request)
            if run == 10 { afterTen = ResidentMemory.current }
        }
        print("resident memory after run 10: \(afterTen) bytes")
        print("resident memory after run \(runs): \(ResidentMemory.current) bytes")
        print("peak resident memory: \(ResidentMemory.peak) bytes")
    }

    /// A batch of standard normal noise in the model's input layout.
    func randomInput(_ model: Model, batch n: Int, size: (Int, Int)) throws -> Tensor {
        var noise = GaussianNoise(seed: 1)  // seeded and cheap: no system call per value
        let x = Tensor(shape: [n, 3, size.0, size.1], floats: (0..<(n * 3 * size.0 * size.1)).map { _ in Float(noise.next()) })
        return model.inputLayout == .nhwc ? try InputOptions.relayout(x, to: .nhwc) : x
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
