import ArgumentParser
import CAMCore
import Foundation

/// `swiftcam layers`: the names `--target-layer` accepts, with each value's operator and shape.
struct LayersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "layers",
        abstract: "List the model's layers (the names --target-layer takes), with operator and shape."
    )

    @Option(name: .long, help: "The model file (.onnx, or .h5 with the Keras plugin).")
    var model: String

    @Option(name: .long, help: "Force a loader plugin by name (default: chosen from the file).")
    var loader: String?

    @Flag(name: .long, help: "List every tensor, also the intermediate ones inside a layer.")
    var all = false

    @Flag(name: .customLong("no-shapes"), help: "Do not run the model on zeros to find the shapes.")
    var noShapes = false

    func run() throws {
        PluginLoader.loadAll()
        let m = try Model.load(path: model, loader: loader)
        let g = m.graph
        let order = try Autodiff.topologicalOrder(g)
        // Loaders that name a layer's nodes after it (Keras) mark its output as the value of the
        // same name; other values are intermediates. Without such marks every value is listed.
        let marked = g.nodes.contains { node in node.outputs.contains { g.name(of: $0) == node.name } }
        var rows: [(ValueID, String)] = g.inputs.map { ($0, "input") }
        for i in order {
            let node = g.nodes[i]
            for out in node.outputs where all || !marked || g.name(of: out) == node.name {
                rows.append((out, node.op.name))
            }
        }
        var shapes: [ValueID: [Int]] = [:]
        if !noShapes, let zeros = zeroInput(m) {
            let values = rows.map(\.0)
            if let result = try? m.evaluate([zeros], fetch: values) {
                for (v, t) in zip(values, result) { shapes[v] = t.shape }
            }
        }
        let defaultLayer = noShapes ? nil : zeroInput(m).flatMap { try? LayerDiscovery.defaultLayer(m, sample: $0) }
        let width = min(48, max(10, rows.map { g.name(of: $0.0).count }.max() ?? 10))
        let layoutNote = m.inputLayout == .nhwc ? " (the input NHWC as given; inside, tensors are NCHW)" : ""
        print("\(m.source): \(rows.count) \(marked && !all ? "layers" : "tensors")\(layoutNote)")
        for (v, op) in rows {
            let name = g.name(of: v)
            let shape = shapes[v].map { $0.map(String.init).joined(separator: "×") } ?? ""
            let mark = v == defaultLayer ? "  ← default target layer" : ""
            print(name.padding(toLength: max(width, name.count), withPad: " ", startingAt: 0) + "  " + op.padding(toLength: 22, withPad: " ", startingAt: 0) + shape + mark)
        }
    }

    /// A batch of one zero image, when the declared input shape is fixed.
    func zeroInput(_ m: Model) -> Tensor? {
        guard m.graph.inputs.count == 1, let shape = m.graph.values[m.graph.inputs[0].index].shape else { return nil }
        let dims = shape.enumerated().map { $0.offset == 0 ? ($0.element ?? 1) : $0.element }
        guard dims.allSatisfy({ $0 != nil }) else { return nil }
        return Tensor(zeros: dims.map { $0! })
    }
}
