// Compiled only where the importer module is importable: in the final package the plugin is
// loaded with dlopen, so the test target must depend on it (or a library of it) to run these.
#if canImport(ONNXFormat)
import CAMCore
import Foundation
import ONNXFormat
import Testing

/// Initializers stored in external files (`save_as_external_data=True`): loaded relative to the
/// model's folder, with location, offset and length checked against the file.
@Suite("External data")
struct ExternalDataTests {
    typealias B = ONNXProtoBuilder

    /// Writes `weights.bin` (16 junk bytes, then 3 floats) and a model whose initializer `w`
    /// points at it with `entries`; returns the model path.
    func write(_ entries: [(String, String)], in dir: String, dims: [Int64] = [3], type: Int64 = 1) throws -> String {
        let floats: [Float] = [1, 2, 3]
        var blob = [UInt8](repeating: 0xEE, count: 16)
        blob += floats.flatMap { littleEndianBytes($0.bitPattern) }
        try Data(blob).write(to: URL(fileURLWithPath: dir + "/weights.bin"))
        let tensor = B.tensor(name: "w", dims: dims, dataType: type, data: .external(entries), dataLocation: 1)
        let path = dir + "/model.onnx"
        try B.identityModel(initializer: tensor).data.write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("Loads location/offset/length relative to the model")
    func loads() throws {
        let dir = try ProtoFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try write([("location", "weights.bin"), ("offset", "16"), ("length", "12")], in: dir)
        let w = try #require(try ONNXModelFile.parse(path: path).graph.initializers["w"])
        #expect(w.toFloats() == [1, 2, 3])
        // Without a length, the tensor's own size is read.
        let path2 = try write([("location", "./weights.bin"), ("offset", "16"), ("checksum", "abc")], in: dir)
        #expect(try ONNXModelFile.parse(path: path2).graph.initializers["w"]!.toFloats() == [1, 2, 3])
        // Converting types read through a scratch buffer: 6 INT16 values from the same bytes.
        let path3 = try write([("location", "weights.bin"), ("offset", "16")], in: dir, dims: [6], type: 5)
        #expect(try ONNXModelFile.parse(path: path3).graph.initializers["w"]!.count == 6)
    }

    @Test("Bad locations, offsets and lengths are clear errors", arguments: [
        ([("location", "weights.bin"), ("offset", "16"), ("length", "8")], "length is 8 bytes, expected 12"),
        ([("location", "weights.bin"), ("offset", "20")], "runs past the end"),
        ([("location", "weights.bin"), ("offset", "-4")], "expected a non-negative decimal number"),
        ([("location", "weights.bin"), ("offset", "0x10")], "expected a non-negative decimal number"),
        ([("location", "missing.bin")], "cannot open external data file for tensor 'w'"),
        ([("location", "/etc/passwd")], "outside the model's folder"),
        ([("location", "../weights.bin")], "outside the model's folder"),
        ([("offset", "0")], "has no 'location'"),
    ])
    func errors(entries: [(String, String)], expected: String) throws {
        let dir = try ProtoFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try write(entries, in: dir)
        let e = expectCAMError { try ONNXModelFile.parse(path: path) }
        #expect(e?.message.contains(expected) == true, "\(e?.message ?? "")")
        #expect(e?.message.contains("initializer 'w'") == true || e?.message.contains("tensor 'w'") == true)
    }

    @Test("Huge dims are checked against the file before anything is allocated")
    func hugeDims() throws {
        let dir = try ProtoFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try write([("location", "weights.bin")], in: dir, dims: [1 << 30, 2])  // 8 GiB of FLOAT
        let e = expectCAMError { try ONNXModelFile.parse(path: path) }
        #expect(e?.message.contains("with length 8589934592 runs past the end") == true, "\(e?.message ?? "")")
    }

    @Test("Bytes without a folder cannot use external data")
    func noFolder() throws {
        let tensor = B.tensor(name: "w", dims: [3], dataType: 1, data: .external([("location", "weights.bin")]), dataLocation: 1)
        let e = expectCAMError { try ONNXModelFile.parse(data: B.identityModel(initializer: tensor).data, source: "mem.onnx") }
        #expect(e?.kind == .unsupported)
        #expect(e?.message.contains("save_as_external_data=False") == true)
    }

    @Test("External data plus embedded data is refused")
    func both() throws {
        var tensor = B.tensor(name: "w", dims: [1], dataType: 1, data: .floats([1]))
        tensor.message(13) { e in e.string(1, "location"); e.string(2, "x.bin") }
        let e = expectCAMError { try ONNXModelFile.parse(data: B.identityModel(initializer: tensor).data, source: "m.onnx") }
        #expect(e?.message.contains("has external data and also stores data in float_data") == true)
    }
}

#endif
