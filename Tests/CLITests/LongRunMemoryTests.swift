import Foundation
import Testing
import TestSupport

/// A thousand explanations in one process do not grow its memory (upstream's context-release
/// test, stronger): the resident size after run 1000 is within 10 % of that after run 10. Runs
/// in its own process (`swiftcam bench --soak`), so tests running alongside do not count.
@Suite("Long runs")
struct LongRunMemoryTests {
    @Test func memoryStaysFlatOverAThousandExplanations() throws {
        guard let model = Fixtures.path("keras/small_cnn/model.h5") else { return }
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["bench", "--model", model, "--target-layer", "relu2",
                                                                "--method", "gradcam", "gradcam++", "layercam", "scorecam",
                                                                "--batch", "2", "--soak", "1000"])
        try #require(r.status == 0, "\(r.stderr)")
        func bytes(after run: Int) -> Double? {
            let prefix = "resident memory after run \(run): "
            return r.stdout.split(separator: "\n").first { $0.hasPrefix(prefix) }
                .flatMap { Double($0.dropFirst(prefix.count).split(separator: " ")[0]) }
        }
        let after10 = try #require(bytes(after: 10), "\(r.stdout)")
        let after1000 = try #require(bytes(after: 1000), "\(r.stdout)")
        #expect(after10 > 1_048_576, "the resident size must be read: \(r.stdout)")
        #expect(after1000 <= after10 * 1.10, "RSS after run 10: \(Int(after10) >> 20) MiB, after run 1000: \(Int(after1000) >> 20) MiB")
    }
}
