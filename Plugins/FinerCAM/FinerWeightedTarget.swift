import CAMCore

/// upstream's `FinerWeightedTarget`: the main category's logit against similar categories,
/// `Σ_j p_j (z_main − α z_j) / (Σ_j p_j + 1e-9)` with p = softmax(z) over the comparison
/// categories j. Written as a small graph, so its gradient comes from the runtime's autodiff.
public struct FinerWeightedTarget: GraphTarget {
    public let mainCategory: Int
    public let comparisonCategories: [Int]
    public let alpha: Float

    public init(mainCategory: Int, comparisonCategories: [Int], alpha: Float) {
        self.mainCategory = mainCategory
        self.comparisonCategories = comparisonCategories
        self.alpha = alpha
    }

    public var description: String { "FinerWeightedTarget(\(mainCategory), \(comparisonCategories), alpha \(alpha))" }

    public func score(_ b: inout GradientBuilder, outputs: [ValueID]) throws -> ValueID {
        let z = outputs[0]
        func pick(_ v: ValueID, _ k: Int) -> ValueID { b.apply(Gather(axis: -1), v, b.constant(Tensor(shape: [1], int64s: [Int64(k)]))) }
        let main = pick(z, mainCategory)
        let p = b.apply(Softmax(axis: -1), z)
        let alphaValue = b.constant(Tensor(scalar: alpha))
        var numerator: ValueID?, denominator: ValueID?
        for j in comparisonCategories {
            let w = pick(p, j)
            let term = b.mul(w, b.sub(main, b.mul(alphaValue, pick(z, j))))
            numerator = b.add(numerator, term)
            denominator = b.add(denominator, w)
        }
        guard let numerator, let denominator else { return main }
        return b.div(numerator, b.add(denominator, b.constant(Tensor(scalar: 1e-9)))!)
    }

    /// upstream's target choice: the main category is the top class (or `category`); the
    /// comparisons are the classes at `ranks` (default 1, 2, 3) when sorted by how close their
    /// logit is to the main one.
    public static func closest(logits: [Float], category: Int?, ranks: [Int], alpha: Float) -> FinerWeightedTarget {
        let reference = category.map { logits[$0] } ?? (logits.max() ?? 0)
        let order = logits.indices.sorted { a, b in
            let da = Swift.abs(logits[a] - reference), db = Swift.abs(logits[b] - reference)
            return da != db ? da < db : a < b
        }
        return FinerWeightedTarget(mainCategory: order[0], comparisonCategories: ranks.filter { $0 < logits.count }.map { order[$0] }, alpha: alpha)
    }
}

/// `--target finer`: FinerWeightedTarget with `--target-option comparison-ranks=1,2,3` and `alpha`.
final class FinerTargetFactory: TargetFactory {
    let name = "finer"

    func makeTarget(category: Int?, options: [String: String], outputs: [Tensor]) throws -> any Target {
        let o = CAMOptions(options)
        return FinerWeightedTarget.closest(logits: outputs[0].toFloats(), category: category,
                                           ranks: try o.ints("comparison-ranks") ?? [1, 2, 3], alpha: try o.float("alpha", default: 1))
    }
}
