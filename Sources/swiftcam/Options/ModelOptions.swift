import ArgumentParser
import CAMCore
import Foundation

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

    @Option(name: .customLong("max-memory"), help: "Largest single tensor allowed, e.g. 8G or 512M (default: 3/4 of the machine's memory).")
    var maxMemory: String?

    @Option(name: .customLong("gemm-accumulation"), help: "single or double: matrix products accumulated in double, 2–3.5× slower, for numerically unstable maps (default: single, or the method's own: double for guidedbackprop).")
    var gemmAccumulation: String?

    func validate() throws {
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1, got \(t)") }
        if let maxMemory { _ = try Self.parseBytes(maxMemory) }
        if let g = gemmAccumulation, Runtime.Accumulation(rawValue: g) == nil {
            throw ValidationError("--gemm-accumulation must be single or double, got '\(g)'")
        }
    }

    /// "8G", "512M", "100000K" or bytes.
    static func parseBytes(_ text: String) throws -> Int {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var t = text.uppercased()
        if t.hasSuffix("B") { t.removeLast() }
        let unit = t.last.flatMap { units[$0] } ?? 1
        if unit > 1 { t.removeLast() }
        guard let v = Double(t), v > 0, v * Double(unit) < 9e18 else {
            throw ValidationError("--max-memory expects a size such as 8G, 512M or a number of bytes, got '\(text)'")
        }
        return Int(v * Double(unit))
    }

    /// Applies the thread count and loads the plugins.
    func prepareRuntime() {
        if let threads { Runtime.setThreadCount(threads) }
        if let g = gemmAccumulation.flatMap(Runtime.Accumulation.init(rawValue:)) { Runtime.requestedAccumulation = g }
        if let maxMemory, let bytes = try? Self.parseBytes(maxMemory) { Runtime.setMaxMemory(bytes: bytes) }
        PluginLoader.loadAll()
    }

    /// The model card beside the model, if any.
    func card() throws -> ModelCard? { try ModelCard.find(modelPath: model) }

    /// Prepares the runtime and loads the model.
    func load() throws -> Model {
        prepareRuntime()
        let m = try Model.load(path: model, loader: loader)
        for w in m.loadWarnings { FileHandle.standardError.write(Data("swiftcam: warning: \(w)\n".utf8)) }
        return m
    }
}
