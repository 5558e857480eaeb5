import ArgumentParser
import CAMCore
import Foundation

/// `swiftcam predict`: run the model alone — the way to check an import before explaining.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Run the model and print each image's top classes; optionally save its outputs."
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var input: InputOptions

    @Option(name: .long, help: "Write the first output to this .npy.")
    var logits: String?

    @Option(name: .long, help: "Write every graph output to DIR/<name>.npy.")
    var outputs: String?

    @Option(name: .long, help: "How many top classes to print per image.")
    var top: Int = 5

    func validate() throws {
        if top < 0 { throw ValidationError("--top must be non-negative") }
    }

    func run() throws {
        let model = try modelOptions.load()
        let card = try modelOptions.card()
        let batch = try input.prepare(for: model, imageBatch: false, card: card)
        let results = try model.predict(batch.tensor)
        let labels = try Labels.find(explicit: modelOptions.labels, modelPath: modelOptions.model, card: card)
        if let first = results.first, first.dtype == .float32, first.rank == 2, first.shape[0] == batch.tensor.shape[0], top > 0 {
            for i in 0..<first.shape[0] {
                let row = first.batchItem(i)
                let probabilities = softmax(Array(row.floats))
                print("\(batch.names[i]):")
                for (rank, entry) in topK(row, top).enumerated() {
                    let name = labels?.name(entry.index).map { "  \($0)" } ?? ""
                    print(String(format: "  %d. %5d  logit %9.4f  p %.4f", rank + 1, entry.index, entry.score, probabilities[entry.index]) + name)
                }
            }
        } else {
            for (k, t) in results.enumerated() { print("output '\(model.outputNames[k])': \(t.dtype) \(t.shape)") }
        }
        if let logits { try NPY.write(results[0], to: logits) }
        if let outputs {
            for (k, t) in results.enumerated() {
                let safe = String(model.outputNames[k].map { $0.isLetter || $0.isNumber || "_.-".contains($0) ? $0 : "_" })
                try NPY.write(t, to: URL(fileURLWithPath: outputs).appendingPathComponent("\(safe).npy").path)
            }
        }
    }
}
