// Compiled only where the importer module is importable: in the final package the plugin is
// loaded with dlopen, so the test target must depend on it (or a library of it) to run these.
#if canImport(ONNXFormat)
import CAMCore
import Foundation
import ONNXFormat
import Testing

/// Files that are not ONNX, cut short, corrupted or built to exhaust memory or stack. Each
/// must give a `CAMError` (or, for harmless corruption, parse) — never crash.
@Suite("Malformed inputs")
struct MalformedInputTests {
    typealias B = ONNXProtoBuilder

    /// Parses `bytes`; a success or a CAMError naming the source are both fine.
    @discardableResult
    func survive(_ bytes: Data, source: String = "fuzz.onnx") -> CAMError? {
        do {
            _ = try ONNXModelFile.parse(data: bytes, source: source)
            return nil
        } catch let e as CAMError {
            #expect(e.message.hasPrefix(source), "\(e.message)")
            return e
        } catch {
            Issue.record("unexpected error type: \(error)")
            return nil
        }
    }

    /// A deterministic generator so failures reproduce.
    struct FuzzRNG: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test("A PNG is not a valid ONNX model", .enabled(if: ProtoFixtures.exists(ProtoFixtures.png)))
    func png() throws {
        let e = expectCAMError { try ONNXModelFile.parse(path: ProtoFixtures.png) }
        #expect(e?.kind == .invalidModel)
        #expect(e?.message.hasPrefix("\(ProtoFixtures.png) is not a valid ONNX model (protobuf parse failed") == true, "\(e?.message ?? "")")
        let t = expectCAMError { try ONNXTensorFile.read(path: ProtoFixtures.png) }
        #expect(t != nil)
    }

    @Test("Empty, missing, directory and device paths")
    func oddPaths() throws {
        #expect(expectCAMError { try ONNXModelFile.parse(data: Data(), source: "empty.onnx") }?.message
                == "empty.onnx is empty (0 bytes); it is not a valid ONNX model")
        let missing = expectCAMError { try ONNXModelFile.parse(path: "/nonexistent/model.onnx") }
        #expect(missing?.kind == .io)
        #expect(missing?.message.contains("cannot open model file /nonexistent/model.onnx") == true)
        #expect(expectCAMError { try ONNXModelFile.parse(path: "/tmp") }?.message.contains("it is a directory") == true)
        #expect(expectCAMError { try ONNXModelFile.parse(path: "/dev/zero") }?.message.contains("not a regular file") == true)
    }

    @Test("Truncated ResNet-18 at many offsets", .enabled(if: ProtoFixtures.exists(ProtoFixtures.resnet18)))
    func truncatedResNet() throws {
        let data = try ProtoFixtures.bytes(ProtoFixtures.resnet18)
        let cuts = [1, 2, 7, 16, 100, 1000, 4096, 65_536, 1_000_000, data.count / 2, data.count - 100, data.count - 1]
        for cut in cuts {
            let e = survive(data.prefix(cut), source: "resnet18-cut-\(cut).onnx")
            #expect(e?.kind == .invalidModel, "cut at \(cut)")
            #expect(e?.message.contains("is not a valid ONNX model") == true, "cut at \(cut): \(e?.message ?? "")")
        }
    }

    @Test("A small model truncated at every offset", .enabled(if: ProtoFixtures.exists(ProtoFixtures.conformanceNodeTests)))
    func truncatedEverywhere() throws {
        for name in ["test_conv_with_strides_padding", "test_if", "test_constant"] {
            let path = ProtoFixtures.conformanceNodeTests + "/\(name)/model.onnx"
            guard ProtoFixtures.exists(path) else { continue }
            let data = try ProtoFixtures.bytes(path)
            for cut in 0..<data.count {
                survive(data.prefix(cut), source: "\(name)-\(cut).onnx")
            }
        }
    }

    @Test("Random bytes")
    func randomBytes() throws {
        var rng = FuzzRNG(state: 42)
        for i in 0..<500 {
            let n = Int.random(in: 1...4096, using: &rng)
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            survive(Data(bytes), source: "random-\(i).onnx")
        }
    }

    @Test("Byte flips in a real model", .enabled(if: ProtoFixtures.exists(ProtoFixtures.ppocrCls)))
    func byteFlips() throws {
        let original = [UInt8](try ProtoFixtures.bytes(ProtoFixtures.ppocrCls))
        var rng = FuzzRNG(state: 7)
        for i in 0..<150 {
            var bytes = original
            for _ in 0..<3 {
                let at = Int.random(in: 0..<min(bytes.count, 200_000), using: &rng)
                bytes[at] = UInt8.random(in: 0...255, using: &rng)
            }
            survive(Data(bytes), source: "flip-\(i).onnx")
        }
    }

    @Test("Byte flips in a hand-built model with every tensor kind")
    func byteFlipsSmall() throws {
        let inits = [
            B.tensor(name: "a", dims: [2, 2], dataType: 1, data: .raw([UInt8](repeating: 0, count: 16))),
            B.tensor(name: "b", dims: [3], dataType: 7, data: .int64s([1, -2, 3])),
            B.tensor(name: "c", dims: [2], dataType: 10, data: .int32s([0x3C00, 0x7C00])),
            B.tensor(name: "d", dims: [2], dataType: 9, data: .raw([0, 1])),
        ]
        let original = B.model(graph: B.graph(nodes: [B.node("Add", name: "add", inputs: ["a", "a"], outputs: ["y"],
                                                              attributes: [B.attribute("k", type: 7) { $0.packedVarints(8, [1, 2]) }])],
                                              initializers: inits, inputs: [B.valueInfo("x", elemType: 1, dims: ["N", 2])],
                                              outputs: [B.valueInfo("y", elemType: 1, dims: [2, 2])])).bytes
        #expect(survive(Data(original)) == nil)
        var rng = FuzzRNG(state: 99)
        for i in 0..<3000 {
            var bytes = original
            let at = Int.random(in: 0..<bytes.count, using: &rng)
            bytes[at] = UInt8.random(in: 0...255, using: &rng)
            survive(Data(bytes), source: "small-flip-\(i).onnx")
        }
    }

    /// Model → graph → node → attribute → graph → … nested `levels` times, written directly as
    /// headers (each message holds only the next), so building it is linear.
    func deeplyNested(levels: Int) -> Data {
        // Field numbers: ModelProto.graph 7, GraphProto.node 1, NodeProto.attribute 5, AttributeProto.g 6.
        let cycle = [1, 5, 6]
        var fields = [7]
        while fields.count < levels { fields.append(cycle[(fields.count - 1) % 3]) }
        var lengths = [Int](repeating: 0, count: fields.count)
        var inner = 0
        for i in stride(from: fields.count - 1, through: 0, by: -1) {
            lengths[i] = inner
            var header = ProtoWriter()
            header.key(fields[i], 2)
            header.varint(UInt64(inner))
            inner += header.bytes.count
        }
        var out = ProtoWriter()
        for i in fields.indices {
            out.key(fields[i], 2)
            out.varint(UInt64(lengths[i]))
        }
        return out.data
    }

    @Test("Deep nesting is refused before protobuf-c recurses")
    func deepNesting() throws {
        for levels in [150, 100_000] {
            let e = expectCAMError { try ONNXModelFile.parse(data: deeplyNested(levels: levels), source: "deep.onnx") }
            #expect(e?.message.contains("nested more than 100 deep") == true, "\(e?.message ?? "")")
        }
    }

    @Test("Node and memory limits apply before unpacking")
    func amplification() throws {
        // 200,000 empty NodeProtos: 2 bytes each in the file, a C struct each once unpacked.
        var graph = ProtoWriter()
        for _ in 0..<200_000 { graph.bytes(1, []) }
        let model = B.model(graph: graph).data
        var limits = ONNXLimits.default
        limits.maxNodes = 1000
        let nodes = expectCAMError { try ONNXModelFile.parse(data: model, source: "many.onnx", limits: limits) }
        #expect(nodes?.message == "many.onnx has more than 1000 nodes, over the node limit")
        limits = .default
        limits.maxUnpackedBytes = 1 << 20
        let memory = expectCAMError { try ONNXModelFile.parse(data: model, source: "many.onnx", limits: limits) }
        #expect(memory?.message.contains("over the limit") == true && memory?.message.contains("memory") == true)
        // With default limits it is simply a model whose nodes have no op_type.
        #expect(expectCAMError { try ONNXModelFile.parse(data: model, source: "many.onnx") }?.message.contains("has no op_type") == true)
    }

    @Test("Broken wire format", arguments: [
        ([0x08] as [UInt8], "cut off"),                                      // varint missing
        ([0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], "cut off"),  // 11-byte varint
        ([0x3A, 0x05, 0x00], "longer than what is left"),                    // graph length past the end
        ([0x3B, 0x3C], "wire type 3"),                                       // a group
        ([0x00, 0x01], "field number 0"),
    ])
    func wireErrors(bytes: [UInt8], expected: String) throws {
        let e = expectCAMError { try ONNXModelFile.parse(data: Data(bytes), source: "w.onnx") }
        #expect(e?.message.hasPrefix("w.onnx is not a valid ONNX model (protobuf parse failed") == true)
        #expect(e?.message.contains(expected) == true, "\(e?.message ?? "")")
    }

    @Test("Oversized files are refused before reading")
    func fileSizeLimit() throws {
        guard ProtoFixtures.exists(ProtoFixtures.ppocrCls) else { return }
        var limits = ONNXLimits.default
        limits.maxFileBytes = 1000
        let e = expectCAMError { try ONNXModelFile.parse(path: ProtoFixtures.ppocrCls, limits: limits) }
        #expect(e?.message.contains("585532 bytes, over the limit of 1000 bytes") == true)
    }

    @Test("Garbage tensor files")
    func garbageTensors() throws {
        var rng = FuzzRNG(state: 5)
        for i in 0..<300 {
            let bytes = (0..<Int.random(in: 0...512, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            do { _ = try ONNXTensorFile.decode(data: Data(bytes), source: "g\(i).pb") } catch is CAMError {}
        }
        let empty = expectCAMError { try ONNXTensorFile.decode(data: Data(), source: "e.pb") }
        #expect(empty?.message.contains("has no data_type") == true)
    }
}

#endif
