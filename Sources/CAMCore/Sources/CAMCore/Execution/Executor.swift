import Foundation

/// Runs a graph, or the part of it needed for some values, on concrete tensors.
///
/// A `Schedule` lists the nodes needed to compute requested values from known ones, in
/// dependency order, with the point after which each intermediate value is dead; running it
/// frees intermediates as soon as nothing scheduled reads them (unless retained).
public final class Executor: @unchecked Sendable {
    public let graph: Graph
    let order: [Int]
    let producer: [Int]

    public init(_ graph: Graph) throws {
        self.graph = graph
        order = try Autodiff.topologicalOrder(graph)
        var producer = [Int](repeating: -1, count: graph.valueCount)
        for (i, n) in graph.nodes.enumerated() { for o in n.outputs { producer[o.index] = i } }
        self.producer = producer
    }

    /// Nodes to run, in order, and when each value is last read.
    public struct Schedule: Sendable {
        public let nodes: [Int]
        /// For each value read by a scheduled node, the position (in `nodes`) of its last reader.
        let lastUse: [ValueID: Int]
    }

    /// The nodes needed to compute `targets`, given that the `known` values are available.
    public func schedule(for targets: [ValueID], known: Set<ValueID>) throws -> Schedule {
        var needed = Set<Int>()
        var stack: [ValueID] = targets
        var visited = Set<ValueID>()
        while let v = stack.popLast() {
            guard visited.insert(v).inserted else { continue }
            if known.contains(v) || graph.constants[v] != nil { continue }
            let p = producer[v.index]
            guard p >= 0 else {
                throw CAMError(.invalidModel, "value '\(graph.name(of: v))' is neither computed by a node nor given as an input")
            }
            if needed.insert(p).inserted {
                stack.append(contentsOf: graph.nodes[p].inputs.compactMap { $0 })
            }
        }
        let nodes = order.filter(needed.contains)
        var lastUse: [ValueID: Int] = [:]
        for (pos, n) in nodes.enumerated() {
            for v in graph.nodes[n].inputs.compactMap({ $0 }) { lastUse[v] = pos }
        }
        return Schedule(nodes: nodes, lastUse: lastUse)
    }

    /// Runs `schedule`, reading and writing `store`. Intermediates not in `retain` are dropped
    /// after their last reader.
    public func run(_ schedule: Schedule, _ store: inout ValueStore, retain: Set<ValueID>) throws {
        let observer = ExecutionObserver.current
        for (pos, n) in schedule.nodes.enumerated() {
            let node = graph.nodes[n]
            observer?(node)
            var inputs: [Tensor?] = []
            inputs.reserveCapacity(node.inputs.count)
            for v in node.inputs {
                guard let v else { inputs.append(nil); continue }
                guard let t = store[v] ?? graph.constants[v] else {
                    throw CAMError(.runtime, "\(node.label): input '\(graph.name(of: v))' has no value")
                }
                inputs.append(t)
            }
            let outputs: [Tensor]
            do {
                outputs = try node.op.forward(inputs)
            } catch let e as CAMError {
                throw CAMError(e.kind, "\(node.label): \(e.message)")
            }
            guard outputs.count >= node.outputs.count else {
                throw CAMError(.unsupported, "\(node.label): produces \(outputs.count) output(s) but the model uses \(node.outputs.count)")
            }
            for (k, o) in node.outputs.enumerated() { store[o] = outputs[k] }
            for v in node.inputs.compactMap({ $0 }) where schedule.lastUse[v] == pos && !retain.contains(v) {
                store[v] = nil
            }
        }
    }

    /// Convenience: computes `fetch` from `feeds` in one go.
    public func evaluate(_ feeds: [ValueID: Tensor], fetch: [ValueID]) throws -> [Tensor] {
        var store = ValueStore(valueCount: graph.valueCount)
        for (k, v) in feeds { store[k] = v }
        let s = try schedule(for: fetch, known: Set(feeds.keys))
        try run(s, &store, retain: Set(fetch))
        return try fetch.map { v in
            guard let t = store[v] ?? graph.constants[v] else { throw CAMError(.runtime, "value '\(graph.name(of: v))' was not computed") }
            return t
        }
    }
}
