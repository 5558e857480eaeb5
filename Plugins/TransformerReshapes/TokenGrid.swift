import CAMCore
import Foundation

/// A spatial grid of tokens: `height` rows of `width` patches.
struct Grid: Hashable, CustomStringConvertible {
    let height: Int
    let width: Int
    var count: Int { height * width }
    var description: String { "\(height)x\(width)" }
}

/// Finding the token grid of a transformer layer: from the user's `NAME:HxW` option, from the
/// patch-embedding convolution in the graph, or from the token count and the input size.
enum TokenGrid {
    /// The grid forced with `NAME:HxW` (nil when no options were given).
    static func forced(_ options: String?, transform: String) throws -> Grid? {
        guard let options = options?.trimmingCharacters(in: .whitespaces), !options.isEmpty else { return nil }
        let parts = options.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let h = Int(parts[0]), let w = Int(parts[1]), h > 0, w > 0 else {
            throw CAMError(.usage, "--reshape \(transform):\(options): expected a grid HxW of positive integers, e.g. \(transform):14x14")
        }
        return Grid(height: h, width: w)
    }

    /// Every grid a square patch (or total stride) of any size s gives for an input of
    /// `size`: (⌊H/s⌋, ⌊W/s⌋), and with `roundingUp` also (⌈H/s⌉, ⌈W/s⌉) (patch embeddings that
    /// pad the image to a multiple of the patch size).
    static func fitting(_ size: (height: Int, width: Int), roundingUp: Bool) -> Set<Grid> {
        var out = Set<Grid>()
        let (h, w) = size
        guard h > 0, w > 0 else { return out }
        for s in 1...Swift.max(h, w) {
            if h / s > 0 && w / s > 0 { out.insert(Grid(height: h / s, width: w / s)) }
            if roundingUp { out.insert(Grid(height: (h + s - 1) / s, width: (w + s - 1) / s)) }
        }
        return out
    }

    /// The patch embedding found in the graph: a convolution upstream of `layer` whose kernel
    /// equals its stride (> 1, no dilation), reading the model input at full resolution.
    struct PatchEmbedding {
        let node: String
        let patch: [Int]
        let grid: Grid
    }

    static func patchEmbedding(_ context: ReshapeContext) -> PatchEmbedding? {
        guard let model = context.model, let input = model.graph.inputs.first else { return nil }
        let graph = model.graph
        var producer: [ValueID: Int] = [:]
        for (i, n) in graph.nodes.enumerated() { for o in n.outputs { producer[o] = i } }

        // Nodes the layer depends on (all nodes when the layer is unknown).
        var upstream = Set<Int>()
        if let layer = context.layer {
            var stack = [layer]
            var seen = Set<ValueID>()
            while let v = stack.popLast() {
                guard seen.insert(v).inserted, let p = producer[v] else { continue }
                upstream.insert(p)
                stack.append(contentsOf: graph.nodes[p].inputs.compactMap { $0 })
            }
        } else {
            upstream = Set(graph.nodes.indices)
        }

        /// Whether `v` is the model input, or computed from it only by operations that keep the
        /// image's resolution (normalisation arithmetic, casts, a channels-last transpose).
        func atInputResolution(_ v: ValueID) -> Bool {
            var v = v
            for _ in 0..<64 {
                if v == input { return true }
                guard let p = producer[v] else { return false }
                let node = graph.nodes[p]
                switch node.op {
                case is Unary, is Binary, is Cast, is Identity, is BatchNormalization, is Clip:
                    break
                case is Transpose where model.inputLayout == .nhwc:
                    break
                default:
                    return false
                }
                guard let next = node.inputs.compactMap({ $0 }).first(where: { graph.constants[$0] == nil }) else { return false }
                v = next
            }
            return false
        }

        let order = (try? Autodiff.topologicalOrder(graph)) ?? Array(graph.nodes.indices)
        for i in order where upstream.contains(i) {
            let node = graph.nodes[i]
            guard let conv = node.op as? Convolution, node.inputs.count >= 2, let x = node.inputs[0], let wv = node.inputs[1],
                  let weights = graph.constants[wv], weights.rank == 4 else { continue }
            let kernel = Array(weights.shape[2...])
            let strides = conv.strides.isEmpty ? [1, 1] : conv.strides
            guard strides.count == 2, strides == kernel, kernel.allSatisfy({ $0 > 1 }),
                  conv.dilations.allSatisfy({ $0 == 1 }), atInputResolution(x) else { continue }
            let size = [context.inputSize.height, context.inputSize.width]
            var out = [0, 0]
            for d in 0..<2 {
                let (n, k, s) = (size[d], kernel[d], strides[d])
                switch conv.padding {
                case .explicit(let pads):
                    let (b, e) = pads.count == 4 ? (pads[d], pads[d + 2]) : (0, 0)
                    out[d] = n + b + e >= k ? (n + b + e - k) / s + 1 : 0
                case .valid:
                    out[d] = n >= k ? (n - k) / s + 1 : 0
                case .sameUpper, .sameLower:
                    out[d] = (n + s - 1) / s
                @unknown default:
                    out[d] = 0
                }
            }
            guard out.allSatisfy({ $0 > 0 }) else { continue }
            return PatchEmbedding(node: node.name.isEmpty ? graph.name(of: node.outputs[0]) : node.name, patch: kernel,
                                  grid: Grid(height: out[0], width: out[1]))
        }
        return nil
    }

    /// "the layer '…'" for messages.
    static func layer(_ context: ReshapeContext) -> String {
        context.layerName.isEmpty ? "the target layer" : "layer '\(context.layerName)'"
    }

    /// (N, skip + h·w, C) tokens → (N, C, h, w), dropping the first `skip` tokens.
    static func tokensToImage(_ t: Tensor, skip: Int, grid: Grid) -> Tensor {
        let (n, tokens, c) = (t.shape[0], t.shape[1], t.shape[2])
        let hw = grid.count
        let out = Tensor(uninitialized: [n, c, grid.height, grid.width])
        let src = t.floats.baseAddress!, dst = out.mutableFloats.baseAddress!
        for b in 0..<n {
            let s = src + (b * tokens + skip) * c, d = dst + b * c * hw
            // Transpose the (hw × C) block to (C × hw), in tiles for locality.
            let tile = 32
            for k0 in stride(from: 0, to: hw, by: tile) {
                for ch0 in stride(from: 0, to: c, by: tile) {
                    for k in k0..<Swift.min(k0 + tile, hw) {
                        for ch in ch0..<Swift.min(ch0 + tile, c) { d[ch * hw + k] = s[k * c + ch] }
                    }
                }
            }
        }
        return out
    }
}

extension Collection where Element == Grid {
    /// "14x14, 7x28" in a stable order.
    var listed: String { sorted { ($0.height, $0.width) < ($1.height, $1.width) }.map(\.description).joined(separator: ", ") }
}
