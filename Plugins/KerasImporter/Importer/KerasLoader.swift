import CAMCore
import KerasFormat

/// The `ModelLoader` for Keras `.h5` models: read with libhdf5, import into the graph IR.
final class KerasLoader: ModelLoader {
    let name = "keras"
    let fileExtensions = ["h5", "hdf5"]

    /// HDF5's format signature, at the start of the file (Keras never writes a user block).
    static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    func recognizes(header: [UInt8]) -> Bool { header.starts(with: Self.signature) }

    func load(path: String) throws -> Graph {
        let file = try KerasModelFile.read(path: path)
        return try KerasGraphBuilder(file: file).build()
    }
}
