// Compiled only where the importer module is importable: in the final package the plugin is
// loaded with dlopen, so the test target must depend on it (or a library of it) to run these.
#if canImport(ONNXFormat)
import CAMCore
import Foundation
import ONNXFormat
import Testing

/// ONNX's own operator test data (Debian package libonnx-testdata): hundreds of small models
/// and `.pb` tensors covering every data type and attribute kind. Everything must either parse
/// or fail with a clear `CAMError`; nothing may crash.
@Suite("ONNX conformance test data", .enabled(if: ProtoFixtures.exists(ProtoFixtures.conformanceNodeTests)))
struct ConformanceDataTests {
    static func caseFolders() -> [String] {
        let root = ProtoFixtures.conformanceNodeTests
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.sorted().map { root + "/" + $0 }
    }

    @Test("Every node test model parses or fails clearly")
    func models() throws {
        var parsed = 0
        var failures: [String: Int] = [:]  // first words of the error → count
        var examples: [String: String] = [:]
        for folder in Self.caseFolders() {
            let path = folder + "/model.onnx"
            guard ProtoFixtures.exists(path) else { continue }
            do {
                let model = try ONNXModelFile.parse(path: path)
                #expect(!model.graph.nodes.isEmpty, "\(path) has no nodes")
                #expect(model.defaultOpset != nil || !model.opsetImports.isEmpty)
                parsed += 1
            } catch let e as CAMError {
                #expect(e.message.hasPrefix(path), "error does not name the file: \(e.message)")
                let key = Self.category(e.message)
                failures[key, default: 0] += 1
                examples[key] = examples[key] ?? e.message
            }
        }
        let failed = failures.values.reduce(0, +)
        print("libonnx-testdata node models: \(parsed) parsed fully, \(failed) refused with a CAMError")
        for (k, n) in failures.sorted(by: { $0.value > $1.value }) {
            print("  \(n) × \(k) — e.g. \(examples[k]!)")
        }
        #expect(parsed > 800)
    }

    @Test("Every test_data_set_0 tensor decodes or fails clearly")
    func tensors() throws {
        var decoded = 0
        var failures: [String: Int] = [:]
        var examples: [String: String] = [:]
        for folder in Self.caseFolders() {
            let dataSet = folder + "/test_data_set_0"
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: dataSet)) ?? []).filter { $0.hasSuffix(".pb") }
            for file in files.sorted() {
                let path = dataSet + "/" + file
                do {
                    let (_, tensor) = try ONNXTensorFile.read(path: path)
                    #expect(tensor.count == tensor.shape.reduce(1, *))
                    decoded += 1
                } catch let e as CAMError {
                    #expect(e.message.hasPrefix(path), "error does not name the file: \(e.message)")
                    let key = Self.category(e.message)
                    failures[key, default: 0] += 1
                    examples[key] = examples[key] ?? e.message
                }
            }
        }
        let failed = failures.values.reduce(0, +)
        print("libonnx-testdata test_data_set_0 .pb files: \(decoded) decoded, \(failed) refused with a CAMError")
        for (k, n) in failures.sorted(by: { $0.value > $1.value }) {
            print("  \(n) × \(k) — e.g. \(examples[k]!)")
        }
        #expect(decoded > 2500)
    }

    /// Sequence and optional values are refused as "not a TensorProto", never misread.
    @Test("Sequence and optional .pb files are not misread as tensors")
    func sequencesAndOptionals() throws {
        let cases = [
            "test_identity_sequence/test_data_set_0/input_0.pb",
            "test_identity_opt/test_data_set_0/input_0.pb",
            "test_optional_has_element_empty/test_data_set_0/input_0.pb",
            "test_loop16_seq_none/test_data_set_0/input_2.pb",
            "test_if_seq/test_data_set_0/output_0.pb",
            "test_sequence_map_extract_shapes/test_data_set_0/input_0.pb",
        ]
        for c in cases {
            let path = ProtoFixtures.conformanceNodeTests + "/" + c
            guard ProtoFixtures.exists(path) else { continue }
            let e = expectCAMError { try ONNXTensorFile.read(path: path) }
            #expect(e?.message.contains("is not a TensorProto") == true, "\(c): \(e?.message ?? "")")
        }
    }

    /// Decoded values agree with the operator: abs(input) == output, exact casts.
    @Test("Decoded values match the reference outputs")
    func values() throws {
        let root = ProtoFixtures.conformanceNodeTests
        func pair(_ name: String) throws -> (Tensor, Tensor)? {
            let dir = root + "/" + name + "/test_data_set_0/"
            guard ProtoFixtures.exists(dir + "input_0.pb") else { return nil }
            return (try ONNXTensorFile.read(path: dir + "input_0.pb").tensor,
                    try ONNXTensorFile.read(path: dir + "output_0.pb").tensor)
        }
        if let (x, y) = try pair("test_abs") {
            #expect(x.shape == [3, 4, 5])
            #expect(x.toFloats().map { abs($0) } == y.toFloats())
        }
        if let (x, y) = try pair("test_relu") {
            #expect(x.toFloats().map { max($0, 0) } == y.toFloats())
        }
        // FLOAT16 and DOUBLE inputs widen to float32 exactly as numpy does.
        for name in ["test_cast_FLOAT16_to_FLOAT", "test_cast_DOUBLE_to_FLOAT"] {
            guard let (x, y) = try pair(name) else { continue }
            #expect(x.dtype == .float32 && y.dtype == .float32, "\(name)")
            let a = x.toFloats(), b = y.toFloats()
            #expect(a.count == b.count, "\(name)")
            for (u, v) in zip(a, b) where !(u.isNaN && v.isNaN) {
                #expect(u == v, "\(name): \(u) != \(v)")
            }
        }
        // This test data stores BFLOAT16 values as UINT16 bit patterns (data_type 4) although the
        // model declares BFLOAT16: they load as int64 bit patterns, whose float32 is bits << 16.
        if let (x, y) = try pair("test_cast_BFLOAT16_to_FLOAT") {
            #expect(x.dtype == .int64)
            let widened = x.toInt64s().map { Float(bitPattern: UInt32($0) << 16) }
            for (u, v) in zip(widened, y.toFloats()) where !(u.isNaN && v.isNaN) {
                #expect(u == v)
            }
        }
        if let (x, y) = try pair("test_not_2d") {
            #expect(x.dtype == .bool)
            #expect(x.toInt64s().map { $0 == 0 ? 1 : 0 } == y.toInt64s())
        }
        #if !(os(macOS) && arch(x86_64))
        // FLOAT16 outputs decode to the float32 value of numpy's round-to-nearest-even cast.
        if let (x, y) = try pair("test_cast_FLOAT_to_FLOAT16") {
            for (u, v) in zip(x.toFloats(), y.toFloats()) where !(u.isNaN && v.isNaN) {
                #expect(Float(Float16(u)) == v)
            }
        }
        #endif
    }

    /// "m.onnx: initializer 'w' has …" → "initializer has" — groups errors for the report.
    static func category(_ message: String) -> String {
        var text = message
        if let colon = text.range(of: ".onnx: ") ?? text.range(of: ".pb: ") { text = String(text[colon.upperBound...]) }
        if let r = text.range(of: ".pb is not") ?? text.range(of: ".onnx is not") { text = String(text[r.lowerBound...]) }
        text = text.replacingOccurrences(of: #"'[^']*'"#, with: "'…'", options: .regularExpression)
        text = text.replacingOccurrences(of: #"\[[^\]]*\]"#, with: "[…]", options: .regularExpression)
        text = text.replacingOccurrences(of: #"#\d+"#, with: "#N", options: .regularExpression)
        text = text.replacingOccurrences(of: #"\d+"#, with: "N", options: .regularExpression)
        return String(text.prefix(90))
    }
}

#endif
