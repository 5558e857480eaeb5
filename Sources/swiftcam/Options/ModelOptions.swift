import ArgumentParser
import CAMCore

/// `--model`, `--loader`, `--threads`, `--labels`: which model, read how, run on how many cores.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "The model file (.onnx; .h5 with the Keras plugin).")
    var model: String

    @Option(name: .long, help: "Force a loader plugin by name (default: chosen from the file).")
    var loader: String?

    @Option(name: .long, help: "Threads for BLAS and the runtime's kernels (default: all cores).")
    var threads: Int?

    @Option(name: .long, help: "Class names, one per line (default: <model>.labels.txt or labels.txt beside the model).")
    var labels: String?

    @Option(name: .customLong("gemm-accumulation"), help: "single (default) or double: matrix products accumulated in double, ~2× slower, for numerically unstable maps (Grad-CAM++ on deep detectors).")
    var gemmAccumulation: String?

    func validate() throws {
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1, got \(t)") }
        if let g = gemmAccumulation, Runtime.Accumulation(rawValue: g) == nil {
            throw ValidationError("--gemm-accumulation must be single or double, got '\(g)'")
        }
    }

    /// Applies the thread count and loads the plugins.
    func prepareRuntime() {
        if let threads { Runtime.setThreadCount(threads) }
        if let g = gemmAccumulation.flatMap(Runtime.Accumulation.init(rawValue:)) { Runtime.gemmAccumulation = g }
        PluginLoader.loadAll()
    }

    /// The model card beside the model, if any.
    func card() throws -> ModelCard? { try ModelCard.find(modelPath: model) }

    /// Prepares the runtime and loads the model.
    func load() throws -> Model {
        prepareRuntime()
        return try Model.load(path: model, loader: loader)
    }
}
