/// Turns a model file into a `Graph`. The ONNX and Keras-HDF5 importers are plugins
/// conforming to this.
public protocol ModelLoader: AnyObject, Sendable {
    /// Short name used on the command line and in manifests ("onnx", "keras").
    var name: String { get }
    /// File extensions this loader claims, lower-case, without the dot.
    var fileExtensions: [String] { get }
    /// Whether the file's first bytes look like this loader's format.
    func recognizes(header: [UInt8]) -> Bool
    /// Loads the file. Errors name the file and, where it applies, the node or field at fault.
    func load(path: String) throws -> Graph
    /// Reads a single tensor stored in this loader's format (e.g. an ONNX `TensorProto` `.pb`),
    /// with its stored name. Loaders without such files keep the default, which throws.
    func readTensor(path: String) throws -> (name: String, tensor: Tensor)
}

extension ModelLoader {
    public func readTensor(path: String) throws -> (name: String, tensor: Tensor) {
        throw CAMError(.unsupported, "the \(name) loader does not read tensor files")
    }
}
