import CAMCore
import KerasFormat

/// The stored weights of one plain layer, handed out by variable name.
struct LayerWeights {
    let layer: KerasLayer
    let list: [KerasWeight]

    /// The weights for `variables`, in that order. Each entry may list aliases separated by
    /// `|` ("depthwise_kernel|kernel": Keras 2 and Keras 3 name it differently). Matched by
    /// variable name when the stored names say which is which, else by position (Keras itself
    /// loads by position); anything else is an error naming what was expected and found.
    func take(_ variables: [String]) throws -> [Tensor] {
        let specs = variables.map { $0.split(separator: "|").map(String.init) }
        var byName: [Tensor] = []
        var used = Set<Int>()
        for spec in specs {
            let hits = list.indices.filter { !used.contains($0) && spec.contains(list[$0].variable) }
            guard hits.count == 1 else { break }
            used.insert(hits[0])
            byName.append(list[hits[0]].tensor)
        }
        if byName.count == specs.count && used.count == list.count { return byName }
        if list.count == specs.count && byName.count < specs.count && !namesAreKnown(specs) {
            return list.map(\.tensor)
        }
        let expected = specs.map { $0[0] }.joined(separator: ", ")
        let found = list.isEmpty ? "none" : list.map { "\($0.name) \($0.shape)" }.joined(separator: ", ")
        if let missing = specs.first(where: { spec in !list.contains { spec.contains($0.variable) } }), list.count < specs.count || namesAreKnown(specs) {
            throw CAMError(.invalidModel, "missing weight '\(missing[0])' (expected \(expected); the file has: \(found))")
        }
        throw CAMError(.invalidModel, "has weights \(found); expected \(expected)")
    }

    /// Whether the stored names are all recognisable variable names of this layer (then a
    /// mismatch is a real one, not a naming convention).
    private func namesAreKnown(_ specs: [[String]]) -> Bool {
        let known = Set(specs.flatMap { $0 })
        return !list.isEmpty && list.allSatisfy { known.contains($0.variable) }
    }

    /// Checks a weight's shape against what the config implies.
    func check(_ t: Tensor, _ what: String, _ expected: [Int?]) throws {
        let ok = t.shape.count == expected.count && zip(t.shape, expected).allSatisfy { $0.1 == nil || $0.0 == $0.1 }
        guard ok else {
            let e = "(" + expected.map { $0.map(String.init) ?? "?" }.joined(separator: ", ") + ")"
            let g = "(" + t.shape.map(String.init).joined(separator: ", ") + ")"
            throw CAMError(.invalidModel, "weight '\(what)' has shape \(g) but the layer's config and input imply \(e)")
        }
    }
}

/// Where a model's layers find their weights: the file's per-layer groups (top level), or, inside
/// a nested model, the nested model's weights distributed over its layers.
enum WeightSource {
    case groups([String: [KerasWeight]])

    static func topLevel(_ weights: [String: [KerasWeight]]) -> WeightSource { .groups(weights) }

    func list(_ layer: KerasLayer) -> [KerasWeight] {
        switch self {
        case .groups(let g): return g[layer.name] ?? []
        }
    }

    func plain(_ layer: KerasLayer, source: String) throws -> LayerWeights {
        LayerWeights(layer: layer, list: list(layer))
    }

    /// The weights of the layers inside nested model `layer`: Keras stores all of them in the
    /// nested model's group (`innerseq/c/kernel`, or `c/kernel`). They are matched to the inner
    /// layers by name (the scope ending in the layer's name, the variable one it has), else by
    /// Keras's own order (trainable weights of every layer in order, then the non-trainable).
    func nested(_ layer: KerasLayer, model: KerasModelConfig, source: String) throws -> WeightSource {
        let weights = list(layer)
        var leaves: [(path: [String], layer: KerasLayer, trainable: Bool)] = []
        func flatten(_ m: KerasModelConfig, _ path: [String], _ trainable: Bool) {
            for l in m.layers where l.className != "InputLayer" {
                let t = trainable && (l.config["trainable"]?.bool ?? true)
                if let inner = l.nestedModel { flatten(inner, path + [l.name], t) } else { leaves.append((path + [l.name], l, t)) }
            }
        }
        flatten(model, [], layer.config["trainable"]?.bool ?? true)
        let expected = try leaves.map { try KerasLayers.expectedWeights($0.layer) }
        var assigned = [[KerasWeight]](repeating: [], count: leaves.count)

        // By name.
        var byName = true
        for w in weights {
            var best = -1, bestScore = 0, tie = false
            for (i, leaf) in leaves.enumerated() {
                let all = expected[i].trainable + expected[i].nonTrainable
                guard all.contains(where: { $0.split(separator: "|").map(String.init).contains(w.variable) }) else { continue }
                var score = 0
                while score < min(w.scope.count, leaf.path.count), w.scope[w.scope.count - 1 - score] == leaf.path[leaf.path.count - 1 - score] { score += 1 }
                if score == 0 { continue }
                if score > bestScore { best = i; bestScore = score; tie = false } else if score == bestScore { tie = true }
            }
            if best < 0 || tie { byName = false; break }
            assigned[best].append(w)
        }
        if byName {
            for (i, e) in expected.enumerated() where assigned[i].count != e.trainable.count + e.nonTrainable.count {
                byName = false
                break
            }
        }
        if !byName {
            // Keras's order.
            var slots: [Int] = []
            for (i, leaf) in leaves.enumerated() {
                slots += [Int](repeating: i, count: leaf.trainable ? expected[i].trainable.count : 0)
            }
            for (i, leaf) in leaves.enumerated() {
                slots += [Int](repeating: i, count: (leaf.trainable ? 0 : expected[i].trainable.count) + expected[i].nonTrainable.count)
            }
            guard slots.count == weights.count else {
                throw CAMError(.invalidModel, "\(source): nested model \(layer.label) stores \(weights.count) weights (\(weights.prefix(8).map(\.name).joined(separator: ", "))\(weights.count > 8 ? ", …" : "")) but its layers expect \(slots.count)")
            }
            assigned = [[KerasWeight]](repeating: [], count: leaves.count)
            for (w, slot) in zip(weights, slots) { assigned[slot].append(w) }
            // Within a layer, keep Keras's variable order (trainable first, as stored).
        }
        // Group by the nested model's direct children: a plain child gets its own, a nested
        // child everything beneath it (distributed again when it is built).
        // A nested child's list is put back in Keras's order (all trainable, then the rest).
        var groups: [String: [KerasWeight]] = [:]
        var rest: [String: [KerasWeight]] = [:]
        for (i, leaf) in leaves.enumerated() {
            let k = leaf.trainable ? min(expected[i].trainable.count, assigned[i].count) : 0
            groups[leaf.path[0], default: []] += assigned[i].prefix(k)
            rest[leaf.path[0], default: []] += assigned[i].dropFirst(k)
        }
        for (key, tail) in rest { groups[key, default: []] += tail }
        return .groups(groups)
    }
}
