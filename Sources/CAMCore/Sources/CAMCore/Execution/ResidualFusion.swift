/// Residual networks end each block with `Add(Conv(…), shortcut)` (and a ReLU after it in
/// ResNets): fused into the convolution, which adds the shortcut to each output plane while
/// it is in cache, so the separate passes of the Add (and, fused next, of the ReLU) are saved.
extension GraphOptimizer {
    /// Replaces `Add(Conv(x, W, B?), R)` (either operand order) by `Conv+Add(x, W, B?, R)` when
    /// the convolution is a dense one (group 1) with nothing fused yet, R is not a constant,
    /// and the convolution's output is not protected, an output, or read elsewhere. The fused
    /// node takes the Add's place in the order, where R is computed.
    public static func fuseResidualAdds(_ graph: Graph, protected: Set<ValueID>) -> Graph {
        fuseIntoAdds(graph, protected: protected) { convNode, residual in
            guard graph.constants[residual] == nil, let conv = convNode.op as? Convolution, conv.group == 1,
                  conv.activation == nil, !conv.addsResidual, convNode.inputs.count >= 2, convNode.inputs.count <= 3 else { return nil }
            let bias: ValueID? = convNode.inputs.count == 3 ? convNode.inputs[2] : nil
            return (conv.addingResidual(), [convNode.inputs[0], convNode.inputs[1], bias, residual])
        }
    }
}
