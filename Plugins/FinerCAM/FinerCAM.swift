import CAMCore

/// Finer-CAM (Zhang et al., 2025): a base method (default Grad-CAM) explaining what separates
/// the main class from its most similar classes, through `FinerWeightedTarget`.
///
/// Options: `base-method` (default gradcam), `comparison-ranks` (positions in the closeness
/// order, default 1,2,3 — upstream's `comparison_categories`), `alpha` (default 1).
final class FinerCAM: CAMMethod {
    let name = "finercam"
    let summary = "Finer-CAM: a base method (gradcam) on the main class against its closest classes (options base-method, comparison-ranks, alpha)"

    func base(_ options: CAMOptions) throws -> any CAMMethod {
        let base = try PluginRegistry.shared.method(named: options["base-method"] ?? "gradcam")
        guard base !== self else { throw CAMError(.usage, "finercam cannot be its own base method") }
        return base
    }

    func requirements(options: CAMOptions) throws -> CAMRequirements { try base(options).requirements(options: options) }

    func targets(outputs: [Tensor], categories: [Int?], options: CAMOptions) throws -> [any Target]? {
        let ranks = try options.ints("comparison-ranks") ?? [1, 2, 3]
        let alpha = try options.float("alpha", default: 1)
        return categories.enumerated().map { i, category in
            FinerWeightedTarget.closest(logits: outputs[0].batchItem(i).toFloats(), category: category, ranks: ranks, alpha: alpha)
        }
    }

    func compute(_ context: CAMContext) throws -> CAMOutput {
        try base(context.options).compute(context)
    }
}
