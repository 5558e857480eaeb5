/// Who reads and who produces each value of a graph: what every rewrite of `GraphOptimizer`
/// asks before it fuses a node into the one that reads its output.
struct GraphUsage {
    /// How many nodes read each value (indexed by `ValueID.index`).
    let readers: [Int]
    /// The nodes reading each value, each once, in order (indexed by `ValueID.index`).
    let readingNodes: [[Int]]
    /// The index of the node producing each value; -1 for graph inputs and constants.
    let producer: [Int]
    /// Values a rewrite must keep: the protected ones and the graph's outputs.
    private let kept: Set<ValueID>

    init(_ graph: Graph, protected: Set<ValueID>) {
        var readers = [Int](repeating: 0, count: graph.valueCount)
        var reading = [[Int]](repeating: [], count: graph.valueCount)
        for (i, node) in graph.nodes.enumerated() {
            for v in node.inputs.compactMap({ $0 }) {
                readers[v.index] += 1
                if reading[v.index].last != i { reading[v.index].append(i) }
            }
        }
        readingNodes = reading
        var producer = [Int](repeating: -1, count: graph.valueCount)
        for (i, node) in graph.nodes.enumerated() { for o in node.outputs { producer[o.index] = i } }
        (self.readers, self.producer, kept) = (readers, producer, protected.union(graph.outputs))
    }

    /// Whether a rewrite must keep `v`: protected, or an output of the graph.
    func keeps(_ v: ValueID) -> Bool { kept.contains(v) }

    /// The index of the node producing `v` when `v` may disappear into the one node that reads
    /// it: produced by a node, read once, neither protected nor a graph output.
    func foldableProducer(of v: ValueID) -> Int? {
        let p = producer[v.index]
        guard p >= 0, readers[v.index] == 1, !kept.contains(v) else { return nil }
        return p
    }
}
