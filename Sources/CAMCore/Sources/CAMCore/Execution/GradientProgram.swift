/// A compiled forward + backward computation: run the forward pass (keeping exactly the
/// values the backward pass will read), let a target compute seeds from the outputs, then run
/// the backward pass down to the requested tensors — and no further.
///
/// ```swift
/// let program = try model.gradientProgram(outputs: model.graph.outputs, wrt: [layer], capture: [layer])
/// let pass = try program.forward([input])
/// let grads = try pass.backward(seeds: [seed])
/// ```
///
/// A program holds the model's graph, not the model: the model caches its programs, and a
/// reference back would keep both alive for ever.
public final class GradientProgram: @unchecked Sendable {
    /// The model's graph (as loaded, constants folded).
    public let graph: Graph
    public let outputs: [ValueID]
    public let wrt: [ValueID]
    public let capture: [ValueID]
    let gradientGraph: GradientGraph
    let executor: Executor
    let forwardSchedule: Executor.Schedule
    let backwardSchedule: Executor.Schedule
    let forwardRetain: Set<ValueID>
    let backwardRetain: Set<ValueID>

    init(model: Model, outputs: [ValueID], wrt: [ValueID], capture: [ValueID], rules: GradientRules) throws {
        self.graph = model.graph
        self.outputs = outputs
        self.wrt = wrt
        self.capture = capture
        // Fused activations would hide the ReLUs that non-standard rules change.
        let protected = Set(outputs).union(wrt).union(capture)
        let optimized = rules == .standard ? GraphOptimizer.optimize(model.graph, protected: protected)
                                           : GraphOptimizer.foldPaddingIntoConvolutions(model.graph, protected: protected)
        gradientGraph = try Autodiff.differentiate(optimized, outputs: outputs, wrt: wrt, rules: rules)
        executor = try Executor(gradientGraph.graph)
        let inputs = Set(model.graph.inputs)
        let gradientTargets = gradientGraph.gradients.compactMap { $0 }
        let backwardKnownGuess = Set(0..<model.graph.valueCount).map(ValueID.init)
        // Backward nodes are the ones added by differentiation; they may read forward values.
        let backward = try executor.schedule(for: gradientTargets, known: Set(backwardKnownGuess).union(gradientGraph.seeds))
        var readByBackward = Set<ValueID>()
        for n in backward.nodes {
            for v in gradientGraph.graph.nodes[n].inputs.compactMap({ $0 }) where v.index < model.graph.valueCount {
                readByBackward.insert(v)
            }
        }
        forwardRetain = Set(outputs).union(capture).union(readByBackward)
        forwardSchedule = try executor.schedule(for: Array(forwardRetain.filter { model.graph.constants[$0] == nil }), known: inputs)
        backwardSchedule = backward
        backwardRetain = Set(gradientTargets).union(capture)
    }

    /// Runs the forward pass on `inputs`.
    public func forward(_ inputs: [Tensor]) throws -> ForwardPass {
        var store = ValueStore(valueCount: executor.graph.valueCount)
        for (k, v) in try graph.feeds(inputs) { store[k] = v }
        try executor.run(forwardSchedule, &store, retain: forwardRetain)
        return ForwardPass(program: self, store: store)
    }

    /// The state between the forward and the backward pass.
    public struct ForwardPass: Sendable {
        let program: GradientProgram
        var store: ValueStore

        /// The graph outputs, in the program's `outputs` order.
        public var outputs: [Tensor] { program.outputs.map { value($0)! } }

        /// A captured (or output) value.
        public func value(_ id: ValueID) -> Tensor? { store[id] ?? program.graph.constants[id] }

        /// Runs the backward pass from `seeds` (one per output, shaped like it; `nil` = zero)
        /// and returns the gradient of each `wrt` value (zeros where it does not reach).
        public func backward(seeds: [Tensor?]) throws -> [Tensor] {
            let p = program
            guard seeds.count == p.outputs.count else {
                throw CAMError(.runtime, "backward needs \(p.outputs.count) seeds, got \(seeds.count)")
            }
            var s = store
            for (k, seed) in seeds.enumerated() {
                let out = s[p.outputs[k]]!
                let filled = seed ?? Tensor(zeros: out.shape)
                guard filled.shape == out.shape else {
                    throw CAMError(.runtime, "seed for output '\(p.graph.name(of: p.outputs[k]))' has shape \(filled.shape), the output has \(out.shape)")
                }
                s[p.gradientGraph.seeds[k]] = filled
            }
            try p.executor.run(p.backwardSchedule, &s, retain: p.backwardRetain)
            return try zip(p.wrt, p.gradientGraph.gradients).map { v, g in
                if let g, let t = s[g] { return t }
                guard let x = value(v) else { throw CAMError(.runtime, "value '\(p.graph.name(of: v))' was not computed") }
                return Tensor(zeros: x.shape)
            }
        }
    }
}
