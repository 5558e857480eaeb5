import CAMCore
import Foundation
import Testing
import TestSupport

/// Runs ONNX's own per-operator conformance tests (Debian's `libonnx-testdata`) through the
/// ONNX plugin and the runtime.
///
/// A test whose model uses an operator SwiftCAM does not implement is skipped. Every other
/// test must load, run and match its expected outputs (rtol 1e-3, atol 1e-4, as ONNX's backend
/// tests allow for float32) — or be listed in `conformance-allowlist.txt` with the reason.
@Suite("ONNX conformance (libonnx-testdata)")
struct ONNXConformanceTests {
    static let root = "/usr/share/libonnx-testdata/data/node"

    struct Outcome { var passed: [String] = []; var failed: [(String, String)] = []; var skipped: [String] = []; var allowed: [String] = [] }

    static func allowList() throws -> [String: String] {
        let url = Fixtures.repositoryRoot.appendingPathComponent("Tests/ONNXImporterTests/conformance-allowlist.txt")
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let parts = line.split(separator: " ", maxSplits: 1)
            let reason = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
            #expect(!reason.isEmpty, "allow-list entry \(parts[0]) needs a reason")
            out[String(parts[0])] = reason
        }
        return out
    }

    @Test func nodeTests() throws {
        guard FileManager.default.fileExists(atPath: Self.root) else {
            print("libonnx-testdata is not installed; skipping (scripts/setup.sh installs it)")
            return
        }
        Fixtures.loadPlugins()
        guard let loader = PluginRegistry.shared.loader(named: "onnx") else {
            Issue.record("the ONNX plugin did not load: \(PluginRegistry.shared.failures.map(\.reason))")
            return
        }
        let allowed = try Self.allowList()
        var outcome = Outcome()
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.root).sorted()
        for name in names {
            let dir = "\(Self.root)/\(name)"
            switch Self.run(dir, loader: loader) {
            case .passed: outcome.passed.append(name)
            case .skipped: outcome.skipped.append(name)
            case .failed(let why):
                if allowed[name] != nil { outcome.allowed.append(name) } else { outcome.failed.append((name, why)) }
            }
        }
        print("ONNX conformance: \(outcome.passed.count) passed, \(outcome.failed.count) failed, \(outcome.allowed.count) allowed failures, \(outcome.skipped.count) skipped (operator not implemented, or test data that is not a tensor)")
        for (name, why) in outcome.failed {
            Issue.record("\(name): \(why)")
        }
        let stale = Set(allowed.keys).intersection(outcome.passed)
        #expect(stale.isEmpty, "allow-listed tests now pass; remove them: \(stale.sorted())")
    }

    enum Result { case passed, skipped, failed(String) }

    static func run(_ dir: String, loader: any ModelLoader) -> Result {
        let model: Model
        do {
            model = try Model(graph: try loader.load(path: dir + "/model.onnx"), source: dir)
        } catch let e as CAMError where e.kind == .unsupportedOperator {
            return .skipped
        } catch {
            return .failed("load: \(error)")
        }
        let data = dir + "/test_data_set_0"
        do {
            let files = try FileManager.default.contentsOfDirectory(atPath: data)
            let inputs: [Tensor], expected: [Tensor]
            do {
                inputs = try files.filter { $0.hasPrefix("input_") }.sorted(by: numbered).map { try loader.readTensor(path: data + "/" + $0).tensor }
                expected = try files.filter { $0.hasPrefix("output_") }.sorted(by: numbered).map { try loader.readTensor(path: data + "/" + $0).tensor }
            } catch let e as CAMError where e.kind == .unsupported {
                // Sequence, optional and string values: not tensors the runtime can hold.
                return .skipped
            }
            let outputs: [Tensor]
            do {
                outputs = try model.predict(inputs)
            } catch let e as CAMError where e.kind == .unsupportedOperator {
                return .skipped
            }
            guard outputs.count >= expected.count else { return .failed("\(outputs.count) outputs, expected \(expected.count)") }
            for (k, (got, want)) in zip(outputs, expected).enumerated() {
                guard got.shape == want.shape else { return .failed("output \(k): shape \(got.shape), expected \(want.shape)") }
                if want.dtype == .bool || got.dtype == .bool {
                    guard got.toInt64s() == want.toInt64s() else { return .failed("output \(k): values differ") }
                    continue
                }
                for (i, (g, w)) in zip(got.toFloats(), want.toFloats()).enumerated() {
                    if g.isNaN && w.isNaN { continue }
                    if g == w { continue }
                    guard abs(g - w) <= 1e-4 + 1e-3 * abs(w) else {
                        return .failed("output \(k)[\(i)]: \(g), expected \(w)")
                    }
                }
            }
            return .passed
        } catch {
            return .failed("run: \(error)")
        }
    }

    static func numbered(_ a: String, _ b: String) -> Bool {
        func n(_ s: String) -> Int { Int(s.split(separator: "_").last!.split(separator: ".").first!) ?? 0 }
        return n(a) < n(b)
    }
}
