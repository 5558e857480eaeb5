/// A graph being extended with new nodes: where VJP rules write the gradient computation,
/// and where graph targets write their score.
public struct GradientBuilder {
    public internal(set) var graph: Graph
    private var counter = 0

    public init(graph: Graph) { self.graph = graph }

    /// Appends `op(inputs)` to the graph and returns its outputs.
    public mutating func apply(_ op: any Operator, _ inputs: [ValueID?], outputs: Int = 1) -> [ValueID] {
        counter += 1
        let ids = (0..<outputs).map { k in graph.addFreshValue("grad/\(op.name)_\(counter)" + (outputs > 1 ? ":\(k)" : "")) }
        graph.nodes.append(Node(name: "grad/\(op.name)_\(counter)", op: op, inputs: inputs, outputs: ids))
        return ids
    }

    /// Appends a single-output `op(inputs)`.
    public mutating func apply(_ op: any Operator, _ inputs: ValueID?...) -> ValueID {
        apply(op, inputs, outputs: 1)[0]
    }

    /// A constant value in the gradient graph.
    public mutating func constant(_ tensor: Tensor) -> ValueID {
        counter += 1
        return graph.addConstant("grad/const_\(counter)", tensor)
    }

    // MARK: Helpers that VJP rules share

    /// `a + b` where either may be a zero gradient (`nil`).
    public mutating func add(_ a: ValueID?, _ b: ValueID?) -> ValueID? {
        guard let a else { return b }
        guard let b else { return a }
        return apply(Binary(.add), a, b)
    }

    public mutating func mul(_ a: ValueID, _ b: ValueID) -> ValueID { apply(Binary(.mul), a, b) }
    public mutating func div(_ a: ValueID, _ b: ValueID) -> ValueID { apply(Binary(.div), a, b) }
    public mutating func sub(_ a: ValueID, _ b: ValueID) -> ValueID { apply(Binary(.sub), a, b) }
    public mutating func neg(_ a: ValueID) -> ValueID { apply(Unary(.neg), a) }

    /// Sums `gradient` over the axes along which `like` was broadcast, giving `like`'s shape.
    public mutating func unbroadcast(_ gradient: ValueID, like: ValueID) -> ValueID {
        apply(SumToShapeOf(), gradient, like)
    }

    /// `gradient` reshaped to `like`'s run-time shape.
    public mutating func reshape(_ gradient: ValueID, like: ValueID) -> ValueID {
        apply(ReshapeLike(), gradient, like)
    }
}
