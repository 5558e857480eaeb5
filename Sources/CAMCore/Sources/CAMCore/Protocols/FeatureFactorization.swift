/// A factorization of a layer's activations into concepts — deep feature factorization
/// (Collins et al., 2018; upstream's `DeepFeatureFactorization`): the (N, C, h, w) activations
/// become a C × N·h·w matrix, factorized into K non-negative concepts (C × K) and their
/// per-pixel strengths (K × N·h·w). Lives in a plugin (`dff`); the core's
/// `DeepFeatureFactorization` runs the model, scales the maps and scores the concepts.
public protocol FeatureFactorization: AnyObject, Sendable {
    /// The name `swiftcam dff --factorization` takes.
    var name: String { get }
    /// One line for `swiftcam plugins`.
    var summary: String { get }
    /// Factorizes (N, C, h, w) activations into `components` concepts.
    func factorize(_ activations: Tensor, components: Int, options: FactorizationOptions) throws -> Factorization
}

/// Settings of a factorization (defaults: upstream's, i.e. sklearn's `NMF(init='random',
/// random_state=0)`: coordinate descent, at most 200 sweeps, tolerance 1e-4).
public struct FactorizationOptions: Sendable {
    public var maxIterations: Int
    public var tolerance: Double
    /// Seed of the random start (sklearn's `random_state`).
    public var seed: UInt64
    /// Start from these matrices, (C, K) and (K, N·h·w), instead of the random start.
    public var initialW: Tensor?
    public var initialH: Tensor?
    /// Plugin-specific settings (e.g. `solver=cd|mu`).
    public var values: [String: String]

    public init(maxIterations: Int = 200, tolerance: Double = 1e-4, seed: UInt64 = 0, initialW: Tensor? = nil, initialH: Tensor? = nil,
                values: [String: String] = [:]) {
        self.maxIterations = maxIterations
        self.tolerance = tolerance
        self.seed = seed
        self.initialW = initialW
        self.initialH = initialH
        self.values = values
    }
}

/// What a factorization found.
public struct Factorization: Sendable {
    /// (C, K): the concept embeddings, `W + offset` (upstream's `concepts`).
    public let concepts: Tensor
    /// (N, K, h, w): each concept's strength at each position (upstream's `explanations`).
    public let explanations: Tensor
    /// (C, K) and (K, N·h·w): the factors of the shifted activation matrix A ≈ W·H.
    public let w: Tensor
    public let h: Tensor
    /// (C,): the per-channel minimum subtracted to make A non-negative.
    public let offset: Tensor
    /// Sweeps run, and ‖A − W·H‖_F.
    public let iterations: Int
    public let reconstructionError: Double

    public init(concepts: Tensor, explanations: Tensor, w: Tensor, h: Tensor, offset: Tensor, iterations: Int, reconstructionError: Double) {
        self.concepts = concepts
        self.explanations = explanations
        self.w = w
        self.h = h
        self.offset = offset
        self.iterations = iterations
        self.reconstructionError = reconstructionError
    }
}
