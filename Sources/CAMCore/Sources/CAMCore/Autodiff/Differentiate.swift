/// Reverse-mode differentiation as a graph transform.
///
/// `differentiate` extends a graph with the nodes that compute the gradients of its
/// `outputs` (seeded by new placeholder values) with respect to `wrt`. Only nodes on a path
/// from some `wrt` value to some output are differentiated: nothing below the deepest
/// requested tensor, and no weight gradients. Because the result is an ordinary graph,
/// it can be differentiated again.
public struct GradientGraph: Sendable {
    /// The forward graph extended with gradient nodes.
    public let graph: Graph
    /// One placeholder per differentiated output: feed the seed (∂target/∂output) here.
    public let seeds: [ValueID]
    /// The gradient of each `wrt` value (`nil` where it does not influence the outputs).
    public let gradients: [ValueID?]
}

/// How gradients flow back through the graph.
public enum GradientRules: String, Sendable, Equatable {
    /// The true gradient.
    case standard
    /// Guided backpropagation (Springenberg et al.): a `Relu` passes gradient only where its
    /// input and the incoming gradient are both positive.
    case guidedReLU
}

public enum Autodiff {
    public static func differentiate(_ graph: Graph, outputs: [ValueID], wrt: [ValueID], rules: GradientRules = .standard) throws -> GradientGraph {
        var builder = GradientBuilder(graph: graph)
        let seeds = outputs.map { builder.graph.addFreshValue("grad/seed:" + graph.name(of: $0)) }
        let order = try topologicalOrder(graph)
        let nodes = graph.nodes

        // Values that depend differentiably on a wrt value.
        var active = Set(wrt)
        for i in order {
            let node = nodes[i]
            let touched = node.inputs.enumerated().contains { k, v in v.map(active.contains) == true && node.op.isDifferentiable(input: k) }
            if touched { active.formUnion(node.outputs) }
        }
        // Values some output depends on.
        var needed = Set(outputs)
        for i in order.reversed() where nodes[i].outputs.contains(where: needed.contains) {
            needed.formUnion(nodes[i].inputs.compactMap { $0 })
        }

        var grads: [ValueID: ValueID] = [:]
        for (o, s) in zip(outputs, seeds) {
            grads[o] = builder.add(grads[o], s)
        }
        for i in order.reversed() {
            let node = nodes[i]
            guard node.outputs.contains(where: { active.contains($0) && needed.contains($0) }) else { continue }
            let outGrads = node.outputs.map { grads[$0] }
            guard outGrads.contains(where: { $0 != nil }) else { continue }
            let needs = node.inputs.enumerated().map { k, v in
                v.map { active.contains($0) && needed.contains($0) } == true && node.op.isDifferentiable(input: k)
            }
            guard needs.contains(true) else { continue }
            let inGrads: [ValueID?]
            do {
                let gnode = GradientNode(inputs: node.inputs, outputs: node.outputs, outputGradients: outGrads, needsGradient: needs)
                if rules == .guidedReLU, let u = node.op as? Unary, u.function == .relu, let g = outGrads[0] {
                    let positive = builder.apply(Unary(.relu), g)
                    inGrads = [builder.apply(UnaryDerivative(.relu, order: 1), positive, try gnode.input(0))]
                } else {
                    inGrads = try node.op.gradient(&builder, gnode)
                }
            } catch let e as CAMError {
                throw CAMError(e.kind, "differentiating \(node.label): \(e.message)")
            }
            for (k, v) in node.inputs.enumerated() {
                guard let v, needs[k], k < inGrads.count, let gk = inGrads[k] else { continue }
                grads[v] = builder.add(grads[v], gk)
            }
        }
        return GradientGraph(graph: builder.graph, seeds: seeds, gradients: wrt.map { grads[$0] })
    }

    /// Node indices in an order where every node comes after the producers of its inputs.
    public static func topologicalOrder(_ graph: Graph) throws -> [Int] {
        var producer = [Int](repeating: -1, count: graph.valueCount)
        for (i, n) in graph.nodes.enumerated() {
            for o in n.outputs {
                if producer[o.index] >= 0 {
                    throw CAMError(.invalidModel, "value '\(graph.name(of: o))' is produced by two nodes")
                }
                producer[o.index] = i
            }
        }
        var state = [UInt8](repeating: 0, count: graph.nodes.count) // 0 new, 1 visiting, 2 done
        var order: [Int] = []
        order.reserveCapacity(graph.nodes.count)
        for start in graph.nodes.indices where state[start] == 0 {
            var stack: [(Int, Int)] = [(start, 0)]
            state[start] = 1
            while let (n, k) = stack.last {
                let inputs = graph.nodes[n].inputs
                if k < inputs.count {
                    stack[stack.count - 1].1 += 1
                    guard let v = inputs[k] else { continue }
                    let p = producer[v.index]
                    if p < 0 { continue }
                    if state[p] == 1 {
                        throw CAMError(.invalidModel, "the graph has a cycle through \(graph.nodes[p].label)")
                    }
                    if state[p] == 0 {
                        state[p] = 1
                        stack.append((p, 0))
                    }
                } else {
                    state[n] = 2
                    order.append(n)
                    stack.removeLast()
                }
            }
        }
        return order
    }
}
