import CAMCore
import Foundation
import Testing
import TestSupport

/// Deep feature factorization against upstream's run on the ResNet-18 fixture
/// (`../shared/fixtures/dff/resnet18`): sklearn's NMF (coordinate descent, random start, 200
/// sweeps) of layer4's activations into 4 concepts.
@Suite("DFF matches pytorch-grad-cam + sklearn")
struct DFFFixtureTests {
    static let folder = "dff/resnet18"

    struct Setup: @unchecked Sendable {
        let model: Model
        let input: Tensor
        let dff: any FeatureFactorization
        let manifest: [String: Any]
    }

    static let setup: Setup? = {
        guard let modelPath = Fixtures.path("torch/resnet18/model.onnx"), Fixtures.path("\(folder)/manifest.json") != nil else { return nil }
        Fixtures.loadPlugins()
        guard let model = try? Model.load(path: modelPath), let input = try? Fixtures.npy("torch/resnet18/input.npy"),
              let dff = try? PluginRegistry.shared.factorization(named: "dff"), let manifest = try? Fixtures.json("\(folder)/manifest.json") else { return nil }
        return Setup(model: model, input: input, dff: dff, manifest: manifest)
    }()

    static var nmf: [String: Any] { setup!.manifest["nmf"] as! [String: Any] }

    /// Our run of upstream's call: `DeepFeatureFactorization(model, model.layer4, model.fc)(input, 4)`.
    static let result: DFFResult? = {
        guard let s = setup else { return nil }
        return try? DeepFeatureFactorization(model: s.model, factorization: s.dff)
            .run(s.input, DFFRequest(targetLayer: "layer4", components: 4, head: "fc"))
    }()

    static func relative(_ a: Tensor, _ ref: Tensor) -> Float { Compare.relative(a, ref) }

    @Test func activationsAreUpstreams() throws {
        guard let r = Self.result else { return }
        let ref = try Fixtures.npy("\(Self.folder)/activations.npy")
        #expect(r.activations.shape == ref.shape)
        #expect(Self.relative(r.activations, ref) <= 1e-4)
        let offset = try Fixtures.npy("\(Self.folder)/nmf_offset.npy")
        #expect(Self.relative(r.factorization.offset, offset) <= 1e-4)
    }

    @Test func randomStartIsSklearnsBitForBit() throws {
        guard let s = Self.setup else { return }
        let activations = try Fixtures.npy("\(Self.folder)/activations.npy")
        let f = try s.dff.factorize(activations, components: 4, options: FactorizationOptions(maxIterations: 0))
        #expect(f.iterations == 0)
        let (w0, h0) = (try Fixtures.npy("\(Self.folder)/nmf_init_W0.npy"), try Fixtures.npy("\(Self.folder)/nmf_init_H0.npy"))
        #expect(f.w.shape == w0.shape && f.h.shape == h0.shape)
        #expect(Array(f.w.floats) == Array(w0.floats), "W0: max |Δ| \(Compare.maxAbs(f.w, w0))")
        #expect(Array(f.h.floats) == Array(h0.floats), "H0: max |Δ| \(Compare.maxAbs(f.h, h0))")
        let error = Self.nmf["reconstruction_error_at_init"] as! Double
        #expect(abs(f.reconstructionError - error) <= 1e-6 * error, "\(f.reconstructionError) vs \(error)")
    }

    @Test func fromSklearnsStartCoordinateDescentReachesSklearnsFactors() throws {
        guard let s = Self.setup else { return }
        let activations = try Fixtures.npy("\(Self.folder)/activations.npy")
        let options = FactorizationOptions(initialW: try Fixtures.npy("\(Self.folder)/nmf_init_W0.npy"),
                                           initialH: try Fixtures.npy("\(Self.folder)/nmf_init_H0.npy"))
        let f = try s.dff.factorize(activations, components: 4, options: options)
        let (w, h) = (try Fixtures.npy("\(Self.folder)/nmf_W.npy"), try Fixtures.npy("\(Self.folder)/nmf_H.npy"))
        #expect(f.iterations == Self.nmf["n_iter"] as! Int)
        #expect(Self.relative(f.w, w) <= 1e-3, "W: relative max |Δ| \(Self.relative(f.w, w))")
        #expect(Self.relative(f.h, h) <= 1e-3, "H: relative max |Δ| \(Self.relative(f.h, h))")
        let concepts = try Fixtures.npy("\(Self.folder)/concepts.npy")
        #expect(Self.relative(f.concepts, concepts) <= 1e-3)
        let error = Self.nmf["reconstruction_error_frobenius"] as! Double
        #expect(abs(f.reconstructionError - error) <= 1e-5 * error, "‖A − WH‖ \(f.reconstructionError) vs sklearn's \(error)")
    }

    @Test func reconstructionErrorIsWithinSklearns() throws {
        guard let r = Self.result else { return }
        let sklearn = Self.nmf["reconstruction_error_frobenius"] as! Double
        #expect(r.factorization.reconstructionError <= 1.002 * sklearn, "‖A − WH‖ \(r.factorization.reconstructionError) vs sklearn's \(sklearn)")
    }

    /// The best one-to-one assignment of our concepts to upstream's by the Pearson correlation of
    /// their maps (all images), and those correlations.
    static func assignment(_ ours: Tensor, _ ref: Tensor) -> (perm: [Int], pearson: [Double]) {
        let (n, k) = (ref.shape[0], ref.shape[1]), plane = ref.count / (n * k)
        func concept(_ t: Tensor, _ c: Int) -> [Float] {
            var out: [Float] = []
            for i in 0..<n {
                let start = (i * k + c) * plane
                out += t.floats[start..<(start + plane)]
            }
            return out
        }
        let a = (0..<k).map { concept(ours, $0) }, b = (0..<k).map { concept(ref, $0) }
        let p = (0..<k).map { i in (0..<k).map { j in Compare.pearson(a[i][...], b[j][...]) } }
        var best: (perm: [Int], score: Double) = ([], -.infinity)
        func permute(_ prefix: [Int]) {
            if prefix.count == k {
                let score = prefix.enumerated().reduce(0.0) { $0 + p[$1.offset][$1.element] }
                if score > best.score { best = (prefix, score) }
                return
            }
            for j in 0..<k where !prefix.contains(j) { permute(prefix + [j]) }
        }
        permute([])
        return (best.perm, best.perm.enumerated().map { p[$0.offset][$0.element] })
    }

    @Test func conceptMapsMatchUpstreamsAfterAssignment() throws {
        guard let r = Self.result else { return }
        let ref = try Fixtures.npy("\(Self.folder)/batch_explanations.npy")
        #expect(r.maps.shape == ref.shape)
        let (perm, pearson) = Self.assignment(r.maps, ref)
        #expect(pearson.allSatisfy { $0 >= 0.9 }, "assignment \(perm), Pearson \(pearson)")
        // Upstream's raw maps (H) too.
        let (_, rawPearson) = Self.assignment(r.factorization.explanations, try Fixtures.npy("\(Self.folder)/explanations_raw.npy"))
        #expect(rawPearson.allSatisfy { $0 >= 0.9 }, "raw Pearson \(rawPearson)")
    }

    @Test func conceptScoresThroughTheHead() throws {
        guard let s = Self.setup, let r = Self.result else { return }
        let ref = try Fixtures.npy("\(Self.folder)/concept_outputs.npy")
        // The head on upstream's own concepts: model.fc(concepts.T).
        let dff = DeepFeatureFactorization(model: s.model, factorization: s.dff)
        let head = try ConceptHead.resolve("fc", in: s.model.graph)
        let scores = try dff.conceptScores(try Fixtures.npy("\(Self.folder)/concepts.npy"), head: head)
        #expect(scores.shape == ref.shape)
        #expect(Self.relative(scores, ref) <= 1e-4, "relative \(Self.relative(scores, ref))")
        // Ours, after the assignment of concepts.
        let (perm, _) = Self.assignment(r.maps, try Fixtures.npy("\(Self.folder)/batch_explanations.npy"))
        let ours = try #require(r.conceptScores)
        let classes = ref.shape[1]
        for (i, j) in perm.enumerated() {
            let a = Tensor(shape: [classes], floats: Array(ours.floats[(i * classes)..<((i + 1) * classes)]))
            let b = Tensor(shape: [classes], floats: Array(ref.floats[(j * classes)..<((j + 1) * classes)]))
            #expect(Self.relative(a, b) <= 1e-2, "concept \(i) ↔ upstream's \(j): relative \(Self.relative(a, b))")
        }
        // The same head named by its input tensor.
        let byInput = try ConceptHead.fromInput("/Flatten_output_0", in: s.model.graph)
        #expect(byInput.input == head.input && byInput.output == head.output)
    }

    @Test func headErrorsNameTheProblem() throws {
        guard let s = Self.setup else { return }
        #expect(throws: CAMError.self) { try ConceptHead.resolve("layer9", in: s.model.graph) }
        do {
            _ = try ConceptHead.resolve("layer4.1", in: s.model.graph)
        } catch let e as CAMError {
            Issue.record("layer4.1 is a block with one input; got \(e.message)")
        }
    }
}
