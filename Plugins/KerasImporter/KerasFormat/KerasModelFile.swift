import CAMCore
import Foundation

/// One stored weight of a layer: its name as the file's `weight_names` attribute gives it
/// (`conv1/kernel`, `conv2d_1_1/kernel:0`, `innerseq/c/bias`), and its values.
public struct KerasWeight: Sendable {
    /// The name from `weight_names`, which is also the dataset's path inside the layer's group.
    public let name: String
    /// The variable's own name: the last path component without a `:0` suffix ("kernel").
    public let variable: String
    /// The path components before the variable ("conv1", or "innerseq", "c").
    public let scope: [String]
    public let tensor: Tensor

    public init(name: String, tensor: Tensor) {
        self.name = name
        self.tensor = tensor
        var parts = name.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        var last = parts.popLast() ?? name
        if let colon = last.lastIndex(of: ":"), last[last.index(after: colon)...].allSatisfy(\.isNumber), colon != last.startIndex {
            last = String(last[..<colon])
        }
        variable = last
        scope = parts
    }

    public var shape: [Int] { tensor.shape }
}

/// A Keras `.h5` model file read into memory: versions, the model config, and every layer's
/// weights, found through the `layer_names` and `weight_names` attributes (never by guessing
/// dataset paths, which differ between Keras versions).
public struct KerasModelFile: Sendable {
    public let source: String
    /// The root `keras_version` attribute ("2.0.5", "3.15.1"), if present.
    public let kerasVersion: String?
    /// The root `backend` attribute ("tensorflow", "jax", "torch"), if present.
    public let backend: String?
    public let model: KerasModelConfig
    /// `model_weights`' `layer_names`, in file order.
    public let weightLayerNames: [String]
    /// Each layer's weights, in `weight_names` order, by layer name.
    public let weights: [String: [KerasWeight]]

    /// The major Keras version (2 when the file does not say: Keras 1 files are not supported
    /// separately).
    public var kerasMajorVersion: Int {
        guard let v = kerasVersion, let major = Int(v.split(separator: ".").first ?? "") else { return 2 }
        return major
    }

    /// Reads a Keras model saved with `model.save("model.h5")`.
    public static func read(path: String) throws -> KerasModelFile {
        let file = try HDF5File(path: path)
        guard let configText = try file.stringsAttribute("model_config", of: "/")?.first else {
            if try file.stringsAttribute("layer_names", of: "/") != nil || (try file.isGroup("model_weights")) {
                throw CAMError(.invalidModel, "\(path) has no 'model_config' attribute: it holds only weights (model.save_weights), without the model's architecture; SwiftCAM needs the whole model: save it with model.save('model.h5')")
            }
            throw CAMError(.invalidModel, "\(path) is an HDF5 file but not a Keras model: it has no 'model_config' attribute")
        }
        let kerasVersion = try file.stringsAttribute("keras_version", of: "/")?.first
        let backend = try file.stringsAttribute("backend", of: "/")?.first
        let json = try JSONValue.parse(configText, what: "\(path): model_config")
        let model = try KerasModelConfig.parse(json, what: path)

        guard try file.isGroup("model_weights") else {
            throw CAMError(.invalidModel, "\(path) has no 'model_weights' group: the model was saved without its weights")
        }
        guard let layerNames = try chunkedStrings(file, "layer_names", of: "model_weights") else {
            throw CAMError(.invalidModel, "\(path): group 'model_weights' has no 'layer_names' attribute")
        }
        var weights: [String: [KerasWeight]] = [:]
        for layer in layerNames {
            let group = "model_weights/\(layer)"
            guard try file.isGroup(group) else {
                throw CAMError(.invalidModel, "\(path): 'layer_names' lists '\(layer)' but there is no group \(group)")
            }
            let names = try chunkedStrings(file, "weight_names", of: group) ?? []
            weights[layer] = try names.map { name in
                let datasetPath = "\(group)/\(name)"
                guard try file.exists(datasetPath) else {
                    throw CAMError(.invalidModel, "\(path): layer '\(layer)' lists weight '\(name)' but dataset \(datasetPath) is missing")
                }
                return KerasWeight(name: name, tensor: try file.readFloats(datasetPath))
            }
        }
        return KerasModelFile(source: path, kerasVersion: kerasVersion, backend: backend, model: model,
                              weightLayerNames: layerNames, weights: weights)
    }

    /// A string-list attribute that Keras may have split into `name0`, `name1`, … when it was
    /// larger than HDF5's 64 KiB attribute limit.
    static func chunkedStrings(_ file: HDF5File, _ name: String, of group: String) throws -> [String]? {
        if let whole = try file.stringsAttribute(name, of: group) { return whole }
        var chunks: [String] = []
        var k = 0
        while let chunk = try file.stringsAttribute("\(name)\(k)", of: group) {
            chunks += chunk
            k += 1
        }
        return k == 0 ? nil : chunks
    }
}
