import CAMCore

extension ONNXNode {
    /// The value a `Constant` node produces, from whichever of its attributes is set:
    /// `value` (a tensor), `value_float` / `value_int` (scalars of shape `[]`) or
    /// `value_floats` / `value_ints` (1-D tensors).
    ///
    /// Throws a `CAMError` naming the node when it is not a Constant, has no or several value
    /// attributes, or uses `value_string(s)` / `sparse_value` (not supported).
    ///
    /// ```swift
    /// for node in model.graph.nodes where node.opType == "Constant" {
    ///     constants[node.outputs[0]] = try node.constantValue()
    /// }
    /// ```
    public func constantValue() throws -> Tensor {
        guard opType == "Constant", isDefaultDomain else {
            throw CAMError(.invalidModel, "\(label) is not a Constant node")
        }
        let known = ["value", "value_float", "value_floats", "value_int", "value_ints",
                     "value_string", "value_strings", "sparse_value"]
        let present = known.filter { attributes[$0] != nil }
        guard present.count == 1, let which = present.first, let attr = attributes[which] else {
            if present.isEmpty {
                throw CAMError(.invalidModel, "\(label) has none of the attributes \(known.joined(separator: ", ")); expected exactly one")
            }
            throw CAMError(.invalidModel, "\(label) sets \(present.joined(separator: " and ")); expected exactly one value attribute")
        }
        switch (which, attr) {
        case ("value", .tensor(let t)):
            return t
        case ("value_float", .float(let v)):
            return Tensor(shape: [], floats: [v])
        case ("value_floats", .floats(let v)):
            return Tensor(shape: [v.count], floats: v)
        case ("value_int", .int(let v)):
            return Tensor(shape: [], int64s: [v])
        case ("value_ints", .ints(let v)):
            return Tensor(shape: [v.count], int64s: v)
        case ("value_string", _), ("value_strings", _):
            throw CAMError(.unsupported, "\(label) produces a string constant ('\(which)'); string tensors are not supported")
        case ("sparse_value", _):
            throw CAMError(.unsupported, "\(label) produces a sparse tensor ('sparse_value'); sparse tensors are not supported")
        default:
            throw CAMError(.invalidModel, "\(label): attribute '\(which)' is \(attr.typeName), which does not fit a Constant's '\(which)'")
        }
    }
}
