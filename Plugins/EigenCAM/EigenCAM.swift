import CAMCore

/// EigenCAM (Muhammad & Yeasin, 2020): the first principal component of the activations.
/// Needs no gradients and no target, so it works on models whose gradients are out of reach.
final class EigenCAM: CAMMethod {
    let name = "eigencam"
    let summary = "EigenCAM: first principal component of the activations (no gradients)"

    func requirements(options: CAMOptions) throws -> CAMRequirements {
        var r = CAMRequirements(layerGradients: false)
        r.usesTargets = false  // the map ignores the target: none is built, so any model (a detector) works
        return r
    }

    func compute(_ context: CAMContext) throws -> CAMOutput {
        .layerMaps(try context.layers.map { LayerMap(raw: try EigenProjection.firstComponent($0.activations)) })
    }
}
