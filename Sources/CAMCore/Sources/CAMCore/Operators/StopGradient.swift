/// The identity, through which no gradient flows: marks a value as a constant of the
/// differentiation (e.g. the vector of a Hessian–vector product).
public struct StopGradient: Operator {
    public init() {}
    public var name: String { "StopGradient" }
    public func isDifferentiable(input index: Int) -> Bool { false }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil else { throw CAMError(.invalidModel, "StopGradient needs an input") }
        return [x]
    }
}
