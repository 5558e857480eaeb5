/// Checking and binding the tensors given for a graph's inputs.
extension Graph {
    var inputNames: [String] { inputs.map(name(of:)) }

    /// Checks a batch against the declared input: rank, dtype and every fixed dimension.
    public func validate(input: Tensor, at index: Int = 0) throws {
        guard index < inputs.count else {
            throw CAMError(.invalidInput, "the model has \(inputs.count) inputs (\(inputNames.joined(separator: ", "))) but \(index + 1) were given")
        }
        let info = values[inputs[index].index]
        if let dtype = info.dtype, dtype != input.dtype {
            throw CAMError(.invalidInput, "input '\(info.name)' expects \(dtype), got \(input.dtype)")
        }
        guard let shape = info.shape else { return }
        let expected = shape.map { $0.map(String.init) ?? "?" }.joined(separator: "×")
        guard shape.count == input.rank, zip(shape, input.shape).allSatisfy({ $0.0 == nil || $0.0 == $0.1 }) else {
            throw CAMError(.invalidInput, "input '\(info.name)' expects shape \(expected), got \(input.shape.map(String.init).joined(separator: "×"))")
        }
    }

    /// Feeds for the graph inputs, checking there is one tensor per input.
    func feeds(_ tensors: [Tensor]) throws -> [ValueID: Tensor] {
        guard tensors.count == inputs.count else {
            throw CAMError(.invalidInput, "the model has \(inputs.count) inputs (\(inputNames.joined(separator: ", "))) but \(tensors.count) were given")
        }
        for (i, t) in tensors.enumerated() { try validate(input: t, at: i) }
        return Dictionary(uniqueKeysWithValues: zip(inputs, tensors))
    }
}
