/// Turns what a user calls a layer into a graph value: an exact tensor name, or a module
/// path as PyTorch exporters write node names (`layer4.1` → the last tensor produced under
/// `/layer4/layer4.1/`).
public enum LayerResolver {
    public static func resolve(_ name: String, in graph: Graph) throws -> ValueID {
        if let id = graph.id(named: name), graph.constants[id] == nil { return id }
        let components = name.split(separator: ".").map(String.init)
        if !components.isEmpty {
            let prefix = "/" + components.indices.map { components[0...$0].joined(separator: ".") }.joined(separator: "/") + "/"
            let order = (try? Autodiff.topologicalOrder(graph)) ?? Array(graph.nodes.indices)
            if let last = order.last(where: { graph.nodes[$0].name.hasPrefix(prefix) }), let out = graph.nodes[last].outputs.first {
                return out
            }
            // Exporters qualify only container indices (`/blocks/blocks.11/norm1/…` for
            // `blocks.11.norm1`): match the module path rebuilt from the node's scopes.
            if let last = order.last(where: { modulePath(ofNode: graph.nodes[$0].name).map { $0 == name || $0.hasPrefix(name + ".") } == true }),
               let out = graph.nodes[last].outputs.first {
                return out
            }
        }
        var names: [String] = graph.inputs.map { graph.name(of: $0) }
        for node in graph.nodes { names += node.outputs.map { graph.name(of: $0) } }
        let candidates = closest(to: name, among: names)
        throw CAMError(.usage, "no tensor or module named '\(name)' in the model; closest: \(candidates.joined(separator: ", "))")
    }

    /// The module path of a node named with scopes as PyTorch's exporter writes them:
    /// `/blocks/blocks.11/norm1/LayerNormalization` → `blocks.11.norm1` (a scope that already
    /// starts with the path so far is that path qualified; others are appended).
    static func modulePath(ofNode name: String) -> String? {
        guard name.hasPrefix("/") else { return nil }
        let scopes = name.split(separator: "/").dropLast()
        guard !scopes.isEmpty else { return nil }
        var path = ""
        for scope in scopes {
            let s = String(scope)
            path = path.isEmpty ? s : (s.hasPrefix(path + ".") ? s : path + "." + s)
        }
        return path
    }

    /// The `count` names nearest to `name` by edit distance.
    static func closest(to name: String, among names: [String], count: Int = 5) -> [String] {
        let target = Array(name.lowercased())
        let scored: [(name: String, distance: Int)] = names.map { (name: $0, distance: editDistance(target, Array($0.lowercased()))) }
        let sorted = scored.sorted { a, b in a.distance != b.distance ? a.distance < b.distance : a.name < b.name }
        return sorted.prefix(count).map { $0.name }
    }

    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        var prev = Array(0...b.count)
        var cur = prev
        for i in 1...a.count {
            cur[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                cur[j] = Swift.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&prev, &cur)
        }
        return prev[b.count]
    }
}
