import CAMCore
import Foundation
import Testing
import TestSupport

/// The `vit` and `swin` reshape transforms (the transformers plugin): finding the token grid
/// from the graph's patch embedding, from the token count, or from the option; distillation
/// tokens, non-square grids, and errors that say which grids fit.
@Suite("Reshape transforms for transformers")
struct ReshapeTransformTests {
    /// A miniature ViT: x (N, 3, H, W) → Conv(patch × patch, stride patch) → (N, h·w, C) patch
    /// tokens; a class token (and with `distilled`, a distillation token) computed from the
    /// image's mean colour, independently of the patches; Concat → "tokens"; LayerNorm →
    /// "norm"; mean over tokens → logits.
    struct TinyViT {
        let model: Model
        let size: (height: Int, width: Int)
        let channels: Int

        init(height: Int, width: Int, patch: Int, channels: Int = 4, distilled: Bool, classToken: Bool = true, seed: UInt64 = 41) throws {
            var rng = SplitMix(seed: seed)
            var g = Graph()
            let x = try g.addValue("x", dtype: .float32, shape: [nil, 3, height, width])
            g.inputs = [x]
            func value(_ name: String) throws -> ValueID { try g.addValue(name) }
            let conv = try value("conv"), flat = try value("flat"), patches = try value("patches")
            g.nodes.append(Node(name: "/patch_embed/proj/Conv", op: Convolution(strides: [patch, patch], padding: .explicit([0, 0, 0, 0])),
                                inputs: [x, g.addConstant("w", rng.tensor([channels, 3, patch, patch])), g.addConstant("b", rng.tensor([channels]))],
                                outputs: [conv]))
            g.nodes.append(Node(name: "flat", op: Reshape(), inputs: [conv, g.addConstant("shape", int64s([0, channels, -1]))], outputs: [flat]))
            g.nodes.append(Node(name: "to_tokens", op: Transpose(perm: [0, 2, 1]), inputs: [flat], outputs: [patches]))
            var pieces: [ValueID] = []
            let colour = try value("colour")
            g.nodes.append(Node(name: "colour", op: Reduce(.mean, keepDims: false), inputs: [x, g.addConstant("hw", int64s([2, 3]))], outputs: [colour]))
            for (k, name) in ((classToken ? ["cls"] : []) + (distilled ? ["dist"] : [])).enumerated() {
                let m = try value("\(name)_mm"), t = try value(name)
                g.nodes.append(Node(name: "\(name)_mm", op: MatMul(), inputs: [colour, g.addConstant("\(name)_w", rng.tensor([3, channels]))], outputs: [m]))
                g.nodes.append(Node(name: "\(name)_unsqueeze", op: Unsqueeze(), inputs: [m, g.addConstant("axis\(k)", int64s([1]))], outputs: [t]))
                pieces.append(t)
            }
            let tokens = try value("tokens"), norm = try value("norm"), pooled = try value("pooled"), logits = try value("logits")
            g.nodes.append(Node(name: "concat", op: Concat(axis: 1), inputs: pieces + [patches], outputs: [tokens]))
            g.nodes.append(Node(name: "norm", op: LayerNormalization(axis: -1, epsilon: 1e-6),
                                inputs: [tokens, g.addConstant("gamma", rng.tensor([channels], 0.5, 1.5)), g.addConstant("beta", rng.tensor([channels]))],
                                outputs: [norm, try value("norm_mean"), try value("norm_inv_std")]))
            g.nodes.append(Node(name: "pool", op: Reduce(.mean, keepDims: false), inputs: [norm, g.addConstant("token_axis", int64s([1]))], outputs: [pooled]))
            g.nodes.append(Node(name: "head", op: MatMul(), inputs: [pooled, g.addConstant("head_w", rng.tensor([channels, 5]))], outputs: [logits]))
            g.outputs = [logits]
            model = try Model(graph: g, source: "tiny-vit")
            size = (height, width)
            self.channels = channels
        }

        func input(batch: Int = 2, seed: UInt64 = 42) -> Tensor {
            var rng = SplitMix(seed: seed)
            return rng.tensor([batch, 3, size.height, size.width])
        }

        func values(_ names: [String], _ x: Tensor) throws -> [Tensor] {
            try model.evaluate([x], fetch: names.map { model.graph.id(named: $0)! })
        }

        func context(_ layer: String, options: String? = nil, withModel: Bool = true) -> ReshapeContext {
            ReshapeContext(model: withModel ? model : nil, layer: model.graph.id(named: layer), layerName: layer, inputSize: size, options: options)
        }
    }

    static func transform(_ name: String) throws -> any ReshapeTransform {
        Fixtures.loadPlugins()
        guard let t = PluginRegistry.shared.reshape(named: name) else {
            throw CAMError(.plugin, "the \(name) reshape transform is not registered: \(PluginRegistry.shared.failures.map(\.reason))")
        }
        return t
    }

    func expectError(_ body: () throws -> Tensor, containing parts: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let t = try body()
            Issue.record("expected an error, got \(t.shape)", sourceLocation: sourceLocation)
        } catch let e as CAMError {
            #expect(e.kind == .usage, sourceLocation: sourceLocation)
            for p in parts { #expect(e.message.contains(p), "\(e.message)", sourceLocation: sourceLocation) }
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    // MARK: vit

    @Test("vit: distillation token and a non-square grid, from the patch embedding and from the count alone",
          arguments: [(40, 24, 8, true), (40, 24, 8, false), (48, 80, 16, true), (30, 45, 5, true)])
    func vitGrid(_ height: Int, _ width: Int, _ patch: Int, _ distilled: Bool) throws {
        let vit = try Self.transform("vit")
        let net = try TinyViT(height: height, width: width, patch: patch, distilled: distilled)
        let x = net.input()
        let v = try net.values(["tokens", "conv"], x)
        let (tokens, conv) = (v[0], v[1])
        #expect(tokens.shape[1] == (distilled ? 2 : 1) + (height / patch) * (width / patch))
        // With the graph: the patch embedding gives the grid; without it: the token count does.
        for withModel in [true, false] {
            let out = try vit.apply(tokens, context: net.context("tokens", withModel: withModel))
            #expect(out.shape == conv.shape, "with model: \(withModel)")
            #expect(Compare.maxAbs(out, conv) == 0, "with model: \(withModel)")
        }
        // Forcing the right grid gives the same; the transposed grid is a different layout.
        let forced = try vit.apply(tokens, context: net.context("tokens", options: "\(height / patch)x\(width / patch)"))
        #expect(Compare.maxAbs(forced, conv) == 0)
        if height / patch != width / patch {
            #expect(try vit.apply(tokens, context: net.context("tokens", options: "\(width / patch)x\(height / patch)")).shape
                == [2, net.channels, width / patch, height / patch])
        }
    }

    @Test func vitPatchEmbeddingDecidesWhereTheCountIsAmbiguous() throws {
        // 16x16 input, 8x8 patches: 2x2 grid, tokens = cls + dist + 4 = 6. From the count alone
        // 6 tokens on a square input fit 2x2 (2 leading) and 1x1 (5 leading).
        let vit = try Self.transform("vit")
        let net = try TinyViT(height: 16, width: 16, patch: 8, distilled: true)
        let v = try net.values(["tokens", "conv"], net.input())
        #expect(Compare.maxAbs(try vit.apply(v[0], context: net.context("tokens")), v[1]) == 0)
        expectError({ try vit.apply(v[0], context: net.context("tokens", withModel: false)) },
                    containing: ["fit several grids", "2x2 after 2 leading tokens", "1x1 after 5 leading tokens", "vit:HxW"])
    }

    @Test func vitAmbiguousAndImpossibleCountsAreErrorsNamingTheGrids() throws {
        let vit = try Self.transform("vit")
        let square = ReshapeContext(layerName: "blocks.0", inputSize: (224, 224))
        expectError({ try vit.apply(Tensor(zeros: [1, 5, 8]), context: square) },
                    containing: ["layer 'blocks.0'", "5 tokens", "2x2 after 1 leading token", "1x1 after 4 leading tokens", "--reshape vit:HxW"])
        expectError({ try vit.apply(Tensor(zeros: [1, 6, 8]), context: square) },
                    containing: ["2x2 after 2 leading tokens", "1x1 after 5 leading tokens"])
        // 110 tokens on a 224x112 input: 98 (14x7) and 128 (16x8) are the nearest grids.
        expectError({ try vit.apply(Tensor(zeros: [1, 110, 8]), context: ReshapeContext(inputSize: (224, 112))) },
                    containing: ["cannot find the token grid", "110 tokens", "224x112", "vit:HxW"])
        // DeiT's count alone is unambiguous: 14x14 after the class token.
        let deitLike = try vit.apply(Tensor(zeros: [2, 197, 3]), context: square)
        #expect(deitLike.shape == [2, 3, 14, 14])
        let distilled = try vit.apply(Tensor(zeros: [2, 198, 3]), context: square)
        #expect(distilled.shape == [2, 3, 14, 14])
    }

    @Test func vitDropsTheLeadingTokensInOrder() throws {
        let vit = try Self.transform("vit")
        // (1, 2 + 2·3, 2): token k has channels (k, 100 + k).
        let t = Tensor(shape: [1, 8, 2], floats: (0..<8).flatMap { [Float($0), Float(100 + $0)] })
        let out = try vit.apply(t, context: ReshapeContext(inputSize: (20, 30), options: "2x3"))
        #expect(out.shape == [1, 2, 2, 3])
        #expect(out.toFloats() == [2, 3, 4, 5, 6, 7, 102, 103, 104, 105, 106, 107])
    }

    @Test func vitOptionAndShapeErrors() throws {
        let vit = try Self.transform("vit")
        let ctx = { (o: String?) in ReshapeContext(layerName: "l", inputSize: (224, 224), options: o) }
        let tokens = Tensor(zeros: [1, 197, 4])
        expectError({ try vit.apply(tokens, context: ctx("15x15")) }, containing: ["197 tokens", "225", "15x15"])
        expectError({ try vit.apply(tokens, context: ctx("14")) }, containing: ["expected a grid HxW", "vit:14x14"])
        expectError({ try vit.apply(tokens, context: ctx("0x14")) }, containing: ["expected a grid HxW"])
        expectError({ try vit.apply(Tensor(zeros: [1, 4, 14, 14]), context: ctx(nil)) }, containing: ["(N, tokens, channels)", "--reshape swin"])
        // Upstream's fixed 14x14 on DeiT's tokens.
        #expect(try vit.apply(tokens, context: ctx("14x14")).shape == [1, 4, 14, 14])
    }

    // MARK: swin

    @Test func swinChannelsLastMaps() throws {
        let swin = try Self.transform("swin")
        var rng = SplitMix(seed: 43)
        let t = rng.tensor([2, 3, 5, 4])   // (N, h, w, C)
        let out = try swin.apply(t, context: ReshapeContext(inputSize: (96, 160)))
        #expect(out.shape == [2, 4, 3, 5])
        for n in 0..<2 { for i in 0..<3 { for j in 0..<5 { for c in 0..<4 {
            #expect(out.floats[((n * 4 + c) * 3 + i) * 5 + j] == t.floats[((n * 3 + i) * 5 + j) * 4 + c])
        } } } }
        #expect(try swin.apply(t, context: ReshapeContext(inputSize: (96, 160), options: "3x5")).shape == [2, 4, 3, 5])
        expectError({ try swin.apply(t, context: ReshapeContext(inputSize: (96, 160), options: "5x3")) }, containing: ["3x5 map"])
    }

    @Test func swinTokenSequences() throws {
        let swin = try Self.transform("swin")
        // A non-square input: 8 tokens on 64x32 → 4x2 (stride 16).
        var rng = SplitMix(seed: 44)
        let t = rng.tensor([1, 8, 3])
        let out = try swin.apply(t, context: ReshapeContext(inputSize: (64, 32)))
        #expect(out.shape == [1, 3, 4, 2])
        #expect(out.floats[(1 * 4 + 3) * 2 + 1] == t.floats[(3 * 2 + 1) * 3 + 1])
        // Stages of a patch-4 embedding on 64x32: 16x8, then 8x4 after one patch merging.
        let net = try TinyViT(height: 64, width: 32, patch: 4, distilled: false, classToken: false)
        let v = try net.values(["tokens", "conv"], net.input())
        #expect(Compare.maxAbs(try swin.apply(v[0], context: net.context("tokens")), v[1]) == 0)
        #expect(try swin.apply(rng.tensor([2, 32, 3]), context: net.context("norm")).shape == [2, 3, 8, 4])
        expectError({ try swin.apply(rng.tensor([1, 7, 3]), context: ReshapeContext(inputSize: (64, 32))) }, containing: ["7 tokens", "swin:HxW"])
        expectError({ try swin.apply(t, context: ReshapeContext(inputSize: (64, 32), options: "3x3")) }, containing: ["8 tokens", "3x3"])
    }

    // MARK: Through the CAM pipeline

    @Test func gradCAMOnTokensEqualsGradCAMOnThePatchEmbedding() throws {
        // The class and distillation tokens do not depend on the patches, so the gradient at the
        // tokens, reshaped, is the gradient at the convolution's output: both layers must give
        // the same activations, gradients and maps.
        Fixtures.loadPlugins()
        let vit = try Self.transform("vit")
        let net = try TinyViT(height: 40, width: 24, patch: 8, distilled: true)
        let cam = try PluginRegistry.shared.method(named: "gradcam")
        let explainer = CAMExplainer(model: net.model)
        let x = net.input(batch: 3)
        let onTokens = try explainer.explain(x, CAMRequest(method: cam, targetLayers: ["tokens"], categories: [0, 3, 4], reshape: vit))
        let onConv = try explainer.explain(x, CAMRequest(method: cam, targetLayers: ["conv"], categories: [0, 3, 4]))
        #expect(onTokens.layers[0].activations.shape == [3, 4, 5, 3])
        #expect(Compare.maxAbs(onTokens.layers[0].activations, onConv.layers[0].activations) == 0)
        #expect(Compare.relative(onTokens.layers[0].gradients!, onConv.layers[0].gradients!) < 1e-6)
        #expect(Compare.maxAbs(onTokens.maps!, onConv.maps!) < 1e-5)
        #expect(onTokens.maps!.shape == [3, 40, 24])
    }
}
