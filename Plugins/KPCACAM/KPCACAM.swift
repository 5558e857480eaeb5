import CAMCore

/// KPCA-CAM (Karmani et al., 2024): the first kernel principal component of the activations
/// (sigmoid kernel by default; options `kernel` = sigmoid|rbf|linear|poly|cosine and `gamma`).
/// No gradients.
final class KPCACAM: CAMMethod {
    let name = "kpcacam"
    let summary = "KPCA-CAM: first kernel principal component of the activations (options kernel=sigmoid, gamma)"

    func requirements(options: CAMOptions) throws -> CAMRequirements {
        var r = CAMRequirements(layerGradients: false)
        r.usesTargets = false  // the map ignores the target: none is built, so any model (a detector) works
        return r
    }

    func compute(_ context: CAMContext) throws -> CAMOutput {
        let name = context.options["kernel"] ?? "sigmoid"
        guard let kernel = KernelProjection.Kernel(rawValue: name) else {
            throw CAMError(.usage, "option kernel: expected sigmoid, rbf, linear, poly or cosine, got '\(name)'")
        }
        let gamma = context.options["gamma"] == nil ? nil : Double(try context.options.float("gamma", default: 0))
        return .layerMaps(try context.layers.map { LayerMap(raw: try KernelProjection.firstComponent($0.activations, kernel: kernel, gamma: gamma)) })
    }
}
