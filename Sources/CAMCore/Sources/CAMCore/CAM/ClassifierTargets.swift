import Foundation

/// upstream's `ClassifierOutputTarget`: the logit of `category` (first graph output).
public struct ClassifierOutputTarget: Target {
    public let category: Int
    public init(category: Int) { self.category = category }
    public var description: String { "ClassifierOutputTarget(\(category))" }

    public func evaluate(outputs: [Tensor]) throws -> TargetEvaluation {
        let logits = try classifierScores(outputs, category: category)
        let seed = Tensor(zeros: logits.shape)
        seed.mutableFloats[category] = 1
        return TargetEvaluation(value: logits.floats[category], outputGradients: [seed] + outputs.dropFirst().map { _ in nil })
    }
}

/// upstream's `ClassifierOutputSoftmaxTarget`: softmax probability of `category`.
public struct ClassifierOutputSoftmaxTarget: Target {
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

/// Factory for `ClassifierOutputTarget` ("classifier") and `ClassifierOutputSoftmaxTarget`
/// ("classifier-softmax"); without a category, the image's top class.
final class ClassifierTargetFactory: TargetFactory {
    let name: String
    let softmax: Bool
    init(name: String, softmax: Bool) { self.name = name; self.softmax = softmax }

    func makeTarget(category: Int?, options: [String: String], outputs: [Tensor]) throws -> any Target {
        let k = try category ?? topCategory(outputs)
        return softmax ? ClassifierOutputSoftmaxTarget(category: k) as any Target : ClassifierOutputTarget(category: k)
    }
}

enum BuiltInTargets {
    static let all: [any TargetFactory] = [
        ClassifierTargetFactory(name: "classifier", softmax: false),
        ClassifierTargetFactory(name: "classifier-softmax", softmax: true),
    ]
}
