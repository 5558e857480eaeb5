import CAMCore

/// RefineCAM: a base method (default Grad-CAM++) run on each target layer alone; the final
/// map is the product of the per-layer maps, min-max scaled — denoising early layers.
/// Option `base-method`.
final class RefineCAM: CAMMethod {
    let name = "refinecam"
    let summary = "RefineCAM: product over target layers of a base method's maps (option base-method, default gradcam++)"

    func requirements(options: CAMOptions) throws -> CAMRequirements { CAMRequirements(layerGradients: false) }

    func compute(_ context: CAMContext) throws -> CAMOutput {
        let base = try PluginRegistry.shared.method(named: context.options["base-method"] ?? "gradcam++")
        guard base !== self else { throw CAMError(.usage, "refinecam cannot be its own base method") }
        var product: Tensor?
        var layerMaps: [LayerMap] = []
        for layer in context.layers {
            let result = try context.explain(with: base, layers: [layer.name])
            guard let maps = result.maps else { throw CAMError(.usage, "refinecam's base method must produce maps") }
            product = try product.map { try CAMMath.combine($0, maps, *) } ?? maps
            layerMaps += result.layerMaps
        }
        return .combined(product!, layerMaps: layerMaps)
    }
}
