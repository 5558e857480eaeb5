import CAMCore
import Foundation
import Testing
import TestSupport

/// A thousand explanations in one process do not grow its memory (upstream's context-release
/// test, stronger): the resident size after run 1000 is within 10 % of that after run 10.
@Suite("Long runs")
struct LongRunMemoryTests {
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }

    @Test func memoryStaysFlatOverAThousandExplanations() throws {
        guard let path = Fixtures.path("keras/small_cnn/model.h5") else { return }
        Fixtures.loadPlugins()
        let model = try Model.load(path: path)
        let input = try Fixtures.npy("keras/small_cnn/input.npy")
        let explainer = CAMExplainer(model: model)
        let methods = try ["gradcam", "gradcam++", "layercam", "scorecam"].map { try PluginRegistry.shared.method(named: $0) }
        var after10 = 0
        for run in 1...1000 {
            let method = methods[run % methods.count]
            _ = try explainer.explain(input, CAMRequest(method: method, targetLayers: ["relu2"], categories: [3, 7]))
            if run == 10 { after10 = Self.residentBytes() }
        }
        let after1000 = Self.residentBytes()
        #expect(Double(after1000) <= Double(after10) * 1.10, "RSS after run 10: \(after10 >> 20) MiB, after run 1000: \(after1000 >> 20) MiB")
    }
}
