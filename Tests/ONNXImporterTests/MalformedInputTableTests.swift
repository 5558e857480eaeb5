#if canImport(ONNXFormat)
import CAMCore
import Foundation
import Testing
import TestSupport

/// The hostile-input table: malformed models, pictures, arrays, manifests and output paths,
/// each through the command line — one line on stderr with the expected fragment, the expected
/// exit code (2 misuse, 1 anything else), never a crash, and no output file left behind.
@Suite("Malformed inputs through the command line")
struct MalformedInputTableTests {
    typealias B = ONNXProtoBuilder

    struct Case: CustomStringConvertible, Sendable {
        let name: String
        /// Writes the case's files into the folder; returns the command's arguments, with
        /// "OUT" standing for the output file that must not appear.
        let setup: @Sendable (URL) throws -> [String]
        let status: Int32
        let message: String
        var description: String { name }
    }

    static func write(_ m: ProtoWriter, _ dir: URL, _ name: String = "m.onnx") throws -> String {
        let p = dir.appendingPathComponent(name)
        try Data(m.bytes).write(to: p)
        return p.path
    }

    static func input(_ dir: URL, _ shape: [Int] = [1, 3, 8, 8]) throws -> String {
        let p = dir.appendingPathComponent("x.npy").path
        try NPY.write(Tensor(repeating: 0.5, shape: shape), to: p)
        return p
    }

    static func ints(_ name: String, _ values: [Int64]) -> ProtoWriter {
        B.attribute(name, type: 7) { a in for v in values { a.int(8, v) } }
    }

    /// x (1, 3, 8, 8) → Conv(W) → y, with the given attributes and weight shape.
    static func conv(_ attributes: [ProtoWriter], weight: [Int64] = [4, 3, 3, 3]) -> ProtoWriter {
        let count = Int(weight.reduce(1, *))
        return B.model(graph: B.graph(nodes: [B.node("Conv", name: "conv", inputs: ["x", "W"], outputs: ["y"], attributes: attributes)],
                                      initializers: [B.tensor(name: "W", dims: weight, dataType: 1, data: .floats([Float](repeating: 0.1, count: count)))],
                                      inputs: [B.valueInfo("x", elemType: 1, dims: [1, 3, 8, 8])],
                                      outputs: [B.valueInfo("y", elemType: 1, dims: [])]))
    }

    static func predict(_ model: String, _ x: String) -> [String] { ["predict", "--model", model, "--input-npy", x, "--logits", "OUT"] }

    static var demo: String { Fixtures.repositoryRoot.appendingPathComponent("demo/efficientnet-lite0.onnx").path }
    static var kerasFixtures: URL { Fixtures.repositoryRoot.appendingPathComponent("Tests/KerasImporterTests/Fixtures") }

    static let cases: [Case] = [
        // ONNX models
        Case(name: "truncated ONNX", setup: { d in
            let bytes = try Data(contentsOf: URL(fileURLWithPath: demo)).prefix(5000)
            try bytes.write(to: d.appendingPathComponent("t.onnx"))
            return predict(d.appendingPathComponent("t.onnx").path, try input(d))
        }, status: 1, message: "is not a valid ONNX model"),
        Case(name: "garbage that starts like ONNX", setup: { d in
            var g = Data([0x08, 0x07, 0x12])
            g.append(Data((0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) }))
            try g.write(to: d.appendingPathComponent("g.onnx"))
            return predict(d.appendingPathComponent("g.onnx").path, try input(d))
        }, status: 1, message: "not a valid ONNX model"),
        Case(name: "a 2^40-element initializer", setup: { d in
            let m = B.identityModel(initializer: B.tensor(name: "w", dims: [1 << 20, 1 << 20], dataType: 1, data: .raw([0, 0, 0, 0])))
            return predict(try write(m, d), try input(d))
        }, status: 1, message: "'w'"),
        Case(name: "a STRING initializer", setup: { d in
            predict(try write(B.identityModel(initializer: B.tensor(name: "w", dims: [1], dataType: 8, data: .none)), d), try input(d))
        }, status: 1, message: "STRING"),
        Case(name: "a cyclic graph", setup: { d in
            let m = B.model(graph: B.graph(nodes: [B.node("Relu", name: "a", inputs: ["q"], outputs: ["p"]), B.node("Relu", name: "b", inputs: ["p"], outputs: ["q"])],
                                           inputs: [B.valueInfo("x", elemType: 1, dims: [1, 3, 8, 8])], outputs: [B.valueInfo("p", elemType: 1, dims: [])]))
            return predict(try write(m, d), try input(d))
        }, status: 1, message: "cycle"),
        Case(name: "a missing initializer", setup: { d in
            let m = B.model(graph: B.graph(nodes: [B.node("Conv", name: "conv", inputs: ["x", "W"], outputs: ["y"])],
                                           inputs: [B.valueInfo("x", elemType: 1, dims: [1, 3, 8, 8])], outputs: [B.valueInfo("y", elemType: 1, dims: [])]))
            return predict(try write(m, d), try input(d))
        }, status: 1, message: "reads 'W', which no node, initializer or graph input defines"),
        Case(name: "a zero stride", setup: { d in predict(try write(conv([ints("strides", [0, 1])]), d), try input(d)) },
             status: 1, message: "strides must be positive"),
        Case(name: "negative pads", setup: { d in predict(try write(conv([ints("pads", [-1, 0, 0, 0])]), d), try input(d)) },
             status: 1, message: "pads must not be negative"),
        Case(name: "a group that does not divide the channels", setup: { d in
            predict(try write(conv([B.attribute("group", type: 2) { $0.int(3, 2) }], weight: [4, 1, 3, 3]), d), try input(d))
        }, status: 1, message: "group"),
        Case(name: "a kernel larger than the input", setup: { d in predict(try write(conv([], weight: [4, 3, 9, 9]), d), try input(d)) },
             status: 1, message: "too small for kernel"),
        Case(name: "an unknown operator", setup: { d in
            let m = B.model(graph: B.graph(nodes: [B.node("Frobnicate", name: "f", inputs: ["x"], outputs: ["y"])],
                                           inputs: [B.valueInfo("x", elemType: 1, dims: [1, 3, 8, 8])], outputs: [B.valueInfo("y", elemType: 1, dims: [])]))
            return predict(try write(m, d), try input(d))
        }, status: 1, message: "operator Frobnicate is not supported"),
        Case(name: "an opset from the future", setup: { d in
            predict(try write(B.model(graph: B.graph(nodes: [B.node("Relu", inputs: ["x"], outputs: ["y"])], inputs: [B.valueInfo("x", elemType: 1, dims: [1, 3, 8, 8])],
                                                   outputs: [B.valueInfo("y", elemType: 1, dims: [])]), opsets: [("", 99)]), d), try input(d))
        }, status: 1, message: "opset 99 is outside the supported range"),
        Case(name: "external data that is not there", setup: { d in
            let t = B.tensor(name: "w", dims: [4], dataType: 1, data: .external([("location", "weights.bin")]), dataLocation: 1)
            return predict(try write(B.identityModel(initializer: t), d), try input(d))
        }, status: 1, message: "weights.bin"),
        Case(name: "an Expand to an absurd shape", setup: { d in
            let m = B.model(graph: B.graph(nodes: [B.node("Expand", name: "e", inputs: ["x", "s"], outputs: ["y"])],
                                           initializers: [B.tensor(name: "s", dims: [3], dataType: 7, data: .int64s([100_000, 100_000, 1000]))],
                                           inputs: [B.valueInfo("x", elemType: 1, dims: [1])], outputs: [B.valueInfo("y", elemType: 1, dims: [])]))
            return predict(try write(m, d), try input(d, [1]))
        }, status: 1, message: "over the memory limit"),
        Case(name: "an axis out of range", setup: { d in
            let m = B.model(graph: B.graph(nodes: [B.node("Squeeze", name: "s", inputs: ["x", "a"], outputs: ["y"])],
                                           initializers: [B.tensor(name: "a", dims: [1], dataType: 7, data: .int64s([7]))],
                                           inputs: [B.valueInfo("x", elemType: 1, dims: [1, 3, 8, 8])], outputs: [B.valueInfo("y", elemType: 1, dims: [])]))
            return predict(try write(m, d), try input(d))
        }, status: 1, message: "out of range"),
        Case(name: "a model that is not there", setup: { d in predict(d.appendingPathComponent("none.onnx").path, try input(d)) },
             status: 1, message: "no such file"),
        Case(name: "a picture given as the model", setup: { d in
            predict(Fixtures.repositoryRoot.appendingPathComponent("demo/cat.png").path, try input(d))
        }, status: 2, message: "no loaded plugin reads this kind of file"),
        // Keras files
        Case(name: "Keras: weights that do not fit the config", setup: { d in
            predict(kerasFixtures.appendingPathComponent("bad_shape_mismatch.h5").path, try input(d, [1, 8, 8, 3]))
        }, status: 1, message: "shape"),
        Case(name: "Keras: a missing weight", setup: { d in
            predict(kerasFixtures.appendingPathComponent("bad_missing_weight.h5").path, try input(d, [1, 8, 8, 3]))
        }, status: 1, message: "weight"),
        Case(name: "Keras: an unknown layer class", setup: { d in
            predict(kerasFixtures.appendingPathComponent("bad_unknown_layer.h5").path, try input(d, [1, 8, 8, 3]))
        }, status: 1, message: "layer"),
        Case(name: "Keras: a truncated file", setup: { d in
            let bytes = try Data(contentsOf: kerasFixtures.appendingPathComponent("activations.h5")).prefix(2000)
            try bytes.write(to: d.appendingPathComponent("t.h5"))
            return predict(d.appendingPathComponent("t.h5").path, try input(d))
        }, status: 1, message: "t.h5"),
        // Pictures
        Case(name: "a truncated PNG", setup: { d in
            try Data(try Data(contentsOf: Fixtures.repositoryRoot.appendingPathComponent("demo/cat.png")).prefix(400)).write(to: d.appendingPathComponent("c.png"))
            return ["explain", "--model", demo, "--image", d.appendingPathComponent("c.png").path, "--npy", "OUT"]
        }, status: 1, message: "c.png"),
        Case(name: "a text file named .jpg", setup: { d in
            try "not a picture".write(to: d.appendingPathComponent("c.jpg"), atomically: true, encoding: .utf8)
            return ["explain", "--model", demo, "--image", d.appendingPathComponent("c.jpg").path, "--npy", "OUT"]
        }, status: 1, message: "c.jpg"),
        Case(name: "an empty picture", setup: { d in
            try Data().write(to: d.appendingPathComponent("e.png"))
            return ["explain", "--model", demo, "--image", d.appendingPathComponent("e.png").path, "--npy", "OUT"]
        }, status: 1, message: "e.png"),
        Case(name: "a truncated JPEG", setup: { d in
            try Data([0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 0x4A, 0x46, 0x49, 0x46]).write(to: d.appendingPathComponent("t.jpg"))
            return ["explain", "--model", demo, "--image", d.appendingPathComponent("t.jpg").path, "--npy", "OUT"]
        }, status: 1, message: "t.jpg"),
        // Arrays
        Case(name: "an .npy without its magic", setup: { d in
            try "hello".write(to: d.appendingPathComponent("x.npy"), atomically: true, encoding: .utf8)
            return ["explain", "--model", demo, "--input-npy", d.appendingPathComponent("x.npy").path, "--npy", "OUT"]
        }, status: 1, message: "not a .npy file"),
        Case(name: "a truncated .npy", setup: { d in
            let full = NPY.encode(Tensor(repeating: 1, shape: [1, 3, 224, 224]))
            try Data(full.prefix(1000)).write(to: d.appendingPathComponent("x.npy"))
            return ["explain", "--model", demo, "--input-npy", d.appendingPathComponent("x.npy").path, "--npy", "OUT"]
        }, status: 1, message: "data bytes"),
        Case(name: "an .npy of strings", setup: { d in
            var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
            let header = "{'descr': '<U4', 'fortran_order': False, 'shape': (2,), }" + String(repeating: " ", count: 6) + "\n"
            data.append(contentsOf: [UInt8(header.utf8.count), 0])
            data.append(contentsOf: Array(header.utf8) + [UInt8](repeating: 65, count: 32))
            try data.write(to: d.appendingPathComponent("s.npy"))
            return ["explain", "--model", demo, "--input-npy", d.appendingPathComponent("s.npy").path, "--npy", "OUT"]
        }, status: 1, message: "dtype <U4 is not supported"),
        Case(name: "an input of the wrong rank", setup: { d in
            ["explain", "--model", demo, "--input-npy", try input(d, [3, 224, 224]), "--npy", "OUT"]
        }, status: 1, message: "expected a float32 (N, C, H, W) array"),
        Case(name: "an input of the wrong size", setup: { d in
            ["explain", "--model", demo, "--input-npy", try input(d, [1, 3, 100, 100]), "--npy", "OUT"]
        }, status: 1, message: "expects shape ?×3×224×224"),
        // Manifests
        Case(name: "a manifest with a wrong type", setup: { d in
            let p = d.appendingPathComponent("run.json")
            try "{\"model\": {\"path\": 3}, \"methods\": [\"gradcam\"], \"inputs\": [\"x\"], \"outputs\": {\"dir\": \"OUT\"}}".write(to: p, atomically: true, encoding: .utf8)
            return ["run", p.path]
        }, status: 2, message: "$.model.path: expected a string, got 3"),
        Case(name: "a manifest whose model is missing", setup: { d in
            let p = d.appendingPathComponent("run.json")
            try "{\"model\": {\"path\": \"nothing.onnx\"}, \"methods\": [\"gradcam\"], \"inputs\": [\"run.json\"], \"outputs\": {\"dir\": \"OUT\"}}".write(to: p, atomically: true, encoding: .utf8)
            return ["run", p.path]
        }, status: 1, message: "nothing.onnx: no such file"),
        // Outputs and flags
        Case(name: "an output whose parent is a file", setup: { d in
            try "file".write(to: d.appendingPathComponent("plain"), atomically: true, encoding: .utf8)
            return ["explain", "--model", demo, "--input-npy", try input(d, [1, 3, 224, 224]), "--npy", d.appendingPathComponent("plain/out.npy").path]
        }, status: 1, message: "cannot write"),
        Case(name: "an unknown method", setup: { d in ["explain", "--model", demo, "--input-npy", try input(d, [1, 3, 224, 224]), "--method", "magiccam", "--npy", "OUT"] },
             status: 2, message: "no plugin provides method 'magiccam'"),
        Case(name: "zero threads", setup: { d in ["explain", "--model", demo, "--input-npy", try input(d, [1, 3, 224, 224]), "--threads", "0", "--npy", "OUT"] },
             status: 2, message: "--threads must be at least 1"),
        Case(name: "a memory limit too small for the model", setup: { d in
            ["explain", "--model", demo, "--input-npy", try input(d, [1, 3, 224, 224]), "--max-memory", "1M", "--npy", "OUT"]
        }, status: 1, message: "over the memory limit"),
    ]

    @Test(arguments: cases)
    func rejected(_ c: Case) throws {
        let dir = try CommandRunner.temporaryFolder("malformed")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.npy").path
        let arguments = try c.setup(dir).map { $0 == "OUT" ? out : $0 }
        let r = try CommandRunner.run(CommandRunner.swiftcam, arguments, in: dir)
        #expect(r.status == c.status, "exit \(r.status): \(r.stderr)")
        #expect(r.stderr.contains(c.message), "\(r.stderr)")
        #expect(!r.stderr.contains("Program crashed") && !r.stderr.contains("Fatal error"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out), "an output was written")
    }

    @Test func theTableIsLarge() { #expect(Self.cases.count >= 30) }
}
#endif
