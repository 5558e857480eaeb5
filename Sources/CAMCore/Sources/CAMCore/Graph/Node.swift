/// One operator application in a `Graph`: `outputs = op(inputs)`.
public struct Node: Sendable {
    /// The node's name in the source model (for error messages); may be empty.
    public var name: String
    public var op: any Operator
    /// Inputs in the operator's order; `nil` marks an omitted optional input.
    public var inputs: [ValueID?]
    public var outputs: [ValueID]

    public init(name: String, op: any Operator, inputs: [ValueID?], outputs: [ValueID]) {
        self.name = name
        self.op = op
        self.inputs = inputs
        self.outputs = outputs
    }

    /// "Conv node 'name'" — how errors refer to this node.
    public var label: String {
        name.isEmpty ? "\(op.name) node" : "\(op.name) node '\(name)'"
    }
}
