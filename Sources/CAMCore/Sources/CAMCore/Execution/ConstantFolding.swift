/// Load-time evaluation of sub-graphs that only compute constants (exporters leave shape
/// arithmetic and weight transforms in graphs: e.g. a Constant → ConstantOfShape → Concat →
/// Reshape → Slice chain computing Pad amounts).
public enum ConstantFolding {
    /// Replaces every node whose inputs are all constants by its outputs, as constants.
    /// Nodes whose evaluation fails are left in place (their error surfaces when run).
    public static func fold(_ graph: inout Graph) throws {
        let order = try Autodiff.topologicalOrder(graph)
        var removed = Set<Int>()
        for i in order {
            let node = graph.nodes[i]
            let present = node.inputs.compactMap { $0 }
            guard !present.isEmpty, present.allSatisfy({ graph.constants[$0] != nil }) else { continue }
            let values = node.inputs.map { $0.flatMap { graph.constants[$0] } }
            guard let outputs = try? node.op.forward(values), outputs.count >= node.outputs.count else { continue }
            // Don't materialise huge constants (e.g. broadcasts) that are cheaper to compute.
            guard outputs.prefix(node.outputs.count).allSatisfy({ $0.count <= 1 << 22 }) else { continue }
            for (k, o) in node.outputs.enumerated() { graph.constants[o] = outputs[k] }
            removed.insert(i)
        }
        if !removed.isEmpty {
            graph.nodes = graph.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        }
    }
}
