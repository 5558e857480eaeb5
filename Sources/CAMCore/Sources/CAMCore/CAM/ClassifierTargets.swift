import Foundation

/// upstream's `ClassifierOutputTarget`: the logit of `category` (first graph output).
public struct ClassifierOutputTarget: GraphTarget {
    public let category: Int
    public init(category: Int) { self.category = category }
    public var description: String { "ClassifierOutputTarget(\(category))" }

    public func evaluate(outputs: [Tensor]) throws -> TargetEvaluation {
        let logits = try classifierScores(outputs, category: category)
        let seed = Tensor(zeros: logits.shape)
        seed.mutableFloats[category] = 1
        return TargetEvaluation(value: logits.floats[category], outputGradients: [seed] + outputs.dropFirst().map { _ in nil })
    }

    public func score(_ b: inout GradientBuilder, outputs: [ValueID]) throws -> ValueID {
        b.apply(Gather(axis: -1), outputs[0], b.constant(Tensor(shape: [1], int64s: [Int64(category)])))
    }
}

/// upstream's `ClassifierOutputSoftmaxTarget`: softmax probability of `category`.
public struct ClassifierOutputSoftmaxTarget: GraphTarget {
    public let category: Int
    public init(category: Int) { self.category = category }
    public var description: String { "ClassifierOutputSoftmaxTarget(\(category))" }

    public func evaluate(outputs: [Tensor]) throws -> TargetEvaluation {
        let logits = try classifierScores(outputs, category: category)
        let p = softmax(Array(logits.floats))
        // ∂p_k/∂z_j = p_k (δ_kj − p_j)
        let grad = p.enumerated().map { j, pj in p[category] * ((j == category ? 1 : 0) - pj) }
        return TargetEvaluation(value: p[category], outputGradients: [Tensor(shape: logits.shape, floats: grad)] + outputs.dropFirst().map { _ in nil })
    }

    public func score(_ b: inout GradientBuilder, outputs: [ValueID]) throws -> ValueID {
        b.apply(Gather(axis: -1), b.apply(Softmax(axis: -1), outputs[0]), b.constant(Tensor(shape: [1], int64s: [Int64(category)])))
    }
}

/// upstream's `ClassifierOutputReST` (ShapleyCAM's companion): the logit of `category` minus
/// the cross-entropy loss of that category, `z_k − (logsumexp(z) − z_k)`. Not piecewise linear,
/// so it has a second derivative.
public struct ClassifierOutputReST: GraphTarget {
    public let category: Int
    public init(category: Int) { self.category = category }
    public var description: String { "ClassifierOutputReST(\(category))" }

    public func evaluate(outputs: [Tensor]) throws -> TargetEvaluation {
        let logits = try classifierScores(outputs, category: category)
        let z = Array(logits.floats)
        let p = softmax(z)
        let m = z.max() ?? 0
        let logSumExp = m + Foundation.log(z.reduce(0) { $0 + Foundation.exp($1 - m) })
        // d/dz_j [2 z_k − logsumexp(z)] = 2 δ_jk − p_j
        let grad = p.enumerated().map { j, pj in (j == category ? 2 : 0) - pj }
        return TargetEvaluation(value: 2 * z[category] - logSumExp,
                                outputGradients: [Tensor(shape: logits.shape, floats: grad)] + outputs.dropFirst().map { _ in nil })
    }

    public func score(_ b: inout GradientBuilder, outputs: [ValueID]) throws -> ValueID {
        let k = b.constant(Tensor(shape: [1], int64s: [Int64(category)]))
        let logit = b.apply(Gather(axis: -1), outputs[0], k)
        return b.add(logit, b.apply(Gather(axis: -1), b.apply(Softmax(axis: -1, log: true), outputs[0]), k))!
    }
}

/// The per-image score vector of a classifier, checking `category` against it.
func classifierScores(_ outputs: [Tensor], category: Int) throws -> Tensor {
    guard let logits = outputs.first, logits.dtype == .float32 else {
        throw CAMError(.runtime, "the model has no float32 output to take a class score from")
    }
    guard category >= 0 && category < logits.count else {
        throw CAMError(.usage, "category \(category) is out of range: the model's output '\(logits.shape)' has \(logits.count) classes (0…\(logits.count - 1))")
    }
    return logits.reshaped(to: [logits.count])
}

/// Numerically stable softmax.
public func softmax(_ z: [Float]) -> [Float] {
    let m = z.max() ?? 0
    let e = z.map { Foundation.exp($0 - m) }
    let s = e.reduce(0, +)
    return e.map { $0 / s }
}

/// The index of the largest score in the first output (upstream's default category).
public func topCategory(_ outputs: [Tensor]) throws -> Int {
    guard let logits = outputs.first, logits.dtype == .float32, logits.count > 0 else {
        throw CAMError(.runtime, "the model has no float32 output to choose a category from")
    }
    var best = 0
    for (i, v) in logits.floats.enumerated() where v > logits.floats[best] { best = i }
    return best
}

/// Factory for `ClassifierOutputTarget` ("classifier"), `ClassifierOutputSoftmaxTarget`
/// ("classifier-softmax") and `ClassifierOutputReST` ("classifier-rest"); without a category,
/// the image's top class.
final class ClassifierTargetFactory: TargetFactory {
    enum Kind { case logit, softmax, rest }
    let name: String
    let kind: Kind
    init(name: String, kind: Kind) { self.name = name; self.kind = kind }

    func makeTarget(category: Int?, options: [String: String], outputs: [Tensor]) throws -> any Target {
        let k = try category ?? topCategory(outputs)
        switch kind {
        case .logit: return ClassifierOutputTarget(category: k)
        case .softmax: return ClassifierOutputSoftmaxTarget(category: k)
        case .rest: return ClassifierOutputReST(category: k)
        }
    }
}

enum BuiltInTargets {
    static let all: [any TargetFactory] = [
        ClassifierTargetFactory(name: "classifier", kind: .logit),
        ClassifierTargetFactory(name: "classifier-softmax", kind: .softmax),
        ClassifierTargetFactory(name: "classifier-rest", kind: .rest),
    ]
}
