/// Counts the multiply-add work of a model (2 FLOPs per multiply-add) in Conv, Gemm and
/// MatMul nodes, by running it once on an input of the given shape.
public enum FLOPCounter {
    public static func count(_ model: Model, input: Tensor) throws -> Double {
        let graph = model.graph
        var fetch: [ValueID] = []
        var counted: [(node: Node, x: Int, out: Int)] = []
        for node in graph.nodes where node.op is Convolution || node.op is Gemm || node.op is MatMul {
            guard let x = node.inputs.first ?? nil, node.inputs.count > 1, let w = node.inputs[1] else { continue }
            counted.append((node, fetch.count, fetch.count + 2))
            fetch += [x, w, node.outputs[0]]
        }
        let values = try model.evaluate([input], fetch: fetch)
        var flops = 0.0
        for c in counted {
            let x = values[c.x], w = values[c.x + 1], y = values[c.out]
            switch c.node.op {
            case is Convolution:
                // Each output element: C/group · kh · kw multiply-adds.
                flops += 2 * Double(y.count) * Double(w.count / Swift.max(w.shape[0], 1))
            case let g as Gemm:
                let k = g.transA ? x.shape[0] : x.shape[1]
                flops += 2 * Double(y.count) * Double(k)
            default:
                flops += 2 * Double(y.count) * Double(x.shape.last ?? 1)
            }
        }
        return flops
    }
}
