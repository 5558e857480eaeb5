import CAMCore
import Foundation
import Testing
import TestSupport

/// Bad files fail with one clear error naming the file, the layer and its class and what was
/// expected; none crashes. The loader is chosen by content, then by extension.
@Suite("Keras: malformed files and loader choice")
struct KerasMalformedTests {
    static func load(_ path: String, loader: String? = nil) throws -> Model {
        Fixtures.loadPlugins()
        return try Model.load(path: path, loader: loader)
    }

    /// Expects loading to fail with a CAMError whose message contains every fragment.
    func expectError(_ path: String, loader: String? = nil, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try Self.load(path, loader: loader)
            Issue.record("loading \(path) succeeded", sourceLocation: sourceLocation)
        } catch let e as CAMError {
            for f in fragments {
                #expect(e.message.contains(f), "“\(e.message)” lacks “\(f)”", sourceLocation: sourceLocation)
            }
            #expect(!e.message.contains("\n"), "one line: \(e.message)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    func temporary(_ name: String, _ bytes: Data) throws -> (URL, String) {
        let dir = try CommandRunner.temporaryFolder("keras-bad")
        let path = dir.appendingPathComponent(name).path
        try bytes.write(to: URL(fileURLWithPath: path))
        return (dir, path)
    }

    static var sequential: Data { FileManager.default.contents(atPath: KerasLayerTests.path("sequential.h5"))! }

    @Test func unknownLayerClassNamesTheLayerAndClass() {
        expectError(KerasLayerTests.path("bad_unknown_layer.h5"), ["bad_unknown_layer.h5", "layer 'leaky' (FancyAttention)", "layer class 'FancyAttention' is not supported"])
    }

    @Test func missingWeightNamesTheLayerAndTheWeight() {
        expectError(KerasLayerTests.path("bad_missing_weight.h5"), ["bad_missing_weight.h5", "layer 'conv' (Conv2D)", "missing weight 'bias'", "conv/kernel"])
    }

    @Test func shapeMismatchNamesTheLayerAndTheShapes() {
        expectError(KerasLayerTests.path("bad_shape_mismatch.h5"), ["layer 'probs' (Dense)", "weight 'kernel' has shape (48, 5)", "imply (48, 4)"])
    }

    @Test func aDanglingInboundNodeIsNamed() {
        expectError(KerasLayerTests.path("bad_dangling_input.h5"), ["layer 'pool' (MaxPooling2D)", "no layer 'ghost'"])
    }

    @Test func aWeightsOnlyFileIsExplained() {
        expectError(KerasLayerTests.path("bad_weights_only.h5"), ["holds only weights", "model.save"])
    }

    @Test func aTruncatedFileFailsCleanly() throws {
        let data = Self.sequential
        for fraction in [0.02, 0.3, 0.6, 0.95] {
            let (dir, path) = try temporary("truncated.h5", data.prefix(Int(Double(data.count) * fraction)))
            defer { try? FileManager.default.removeItem(at: dir) }
            expectError(path, ["truncated.h5"])
        }
    }

    @Test func corruptedBytesFailCleanlyOrLoad() throws {
        // Overwrite stretches of the file with garbage: every outcome must be a CAMError or a model.
        let data = Self.sequential
        var rng = SplitMix(seed: 5)
        for trial in 0..<64 {
            var bytes = [UInt8](data)
            let start = Int(rng.next() % UInt64(bytes.count - 64))
            for i in start..<(start + 1 + Int(rng.next() % 48)) { bytes[i] = UInt8(truncatingIfNeeded: rng.next()) }
            let (dir, path) = try temporary("corrupt\(trial).h5", Data(bytes))
            defer { try? FileManager.default.removeItem(at: dir) }
            do {
                let model = try Self.load(path)
                _ = try? model.predict(Tensor(zeros: [1, 8, 8, 2]))
            } catch is CAMError {
            } catch {
                Issue.record("trial \(trial): \(error)")
            }
        }
    }

    @Test func aNonHDF5FileNamedH5IsRefused() throws {
        let (dir, path) = try temporary("model.h5", Data("this is a text file, not a model\n".utf8))
        defer { try? FileManager.default.removeItem(at: dir) }
        expectError(path, ["model.h5", "not an HDF5 file"])
        expectError(path, loader: "keras", ["not an HDF5 file"])
    }

    @Test func anEmptyFileIsRefused() throws {
        let (dir, path) = try temporary("empty.h5", Data())
        defer { try? FileManager.default.removeItem(at: dir) }
        expectError(path, ["empty.h5"])
    }

    @Test func theLoaderIsChosenByContent() throws {
        // A Keras model named .onnx is read by the Keras loader (the HDF5 signature wins) …
        let (dir, path) = try temporary("really_keras.onnx", Self.sequential)
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try Self.load(path)
        #expect(model.inputLayout == .nhwc)
        #expect(model.outputNames == ["probs"])
        // … and an ONNX model named .h5 by the ONNX loader.
        if let onnx = Fixtures.path("torch/resnet18/model.onnx") {
            let (dir2, path2) = try temporary("really_onnx.h5", FileManager.default.contents(atPath: onnx)!)
            defer { try? FileManager.default.removeItem(at: dir2) }
            #expect(try Self.load(path2).inputLayout == .nchw)
        }
        let keras = try #require(PluginRegistry.shared.loader(named: "keras"))
        #expect(keras.recognizes(header: [UInt8](Self.sequential.prefix(64))))
        #expect(!keras.recognizes(header: [0x08, 0x07]))
        #expect(keras.fileExtensions.contains("h5"))
    }

    @Test func aDirectoryIsRefused() throws {
        let dir = try CommandRunner.temporaryFolder("keras-dir.h5")
        defer { try? FileManager.default.removeItem(at: dir) }
        expectError(dir.path, loader: "keras", ["directory"])
    }
}
