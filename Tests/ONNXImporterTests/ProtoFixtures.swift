// Compiled only where the importer module is importable: in the final package the plugin is
// loaded with dlopen, so the test target must depend on it (or a library of it) to run these.
#if canImport(ONNXFormat)
import CAMCore
import Foundation
import Testing

/// Paths of the real files the tests read; tests that need one are skipped when it is missing.
enum ProtoFixtures {
    static let resnet18 = "/work/shared/fixtures/torch/resnet18/model.onnx"
    static let efficientnetLite0 = "/work/shared/fixtures/real/efficientnet_lite0/model.onnx"
    static let ppocrCls = "/work/shared/fixtures/real/ppocr_cls/model.onnx"
    static let deitTiny = "/work/shared/fixtures/torch/deit_tiny_patch16_224/model.onnx"
    static let conformanceNodeTests = "/usr/share/libonnx-testdata/data/node"
    static let png = "/work/shared/fixtures/real/images/doc_small.png"

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    static func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    /// A fresh temporary folder, removed by the caller.
    static func temporaryDirectory() throws -> String {
        let dir = NSTemporaryDirectory() + "onnx-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// Runs `body`, which must throw a `CAMError`; returns it.
@discardableResult
func expectCAMError(_ body: () throws -> Any, sourceLocation: SourceLocation = #_sourceLocation) -> CAMError? {
    do {
        _ = try body()
        Issue.record("expected a CAMError, but the call succeeded", sourceLocation: sourceLocation)
        return nil
    } catch let e as CAMError {
        return e
    } catch {
        Issue.record("expected a CAMError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

#endif
