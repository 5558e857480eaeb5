import Foundation

/// One batch being scored by CAM metrics, and the services metric plugins share: scoring the
/// model's targets, upstream's keep masks and imputer, seeded noise, running the CAM method
/// again, and evaluating other metrics by name.
///
/// ```swift
/// let context = try MetricContext(model: model, input: x, cams: result.maps!, targets: result.targets)
/// let road = try context.evaluate(try MetricCall.parse("ROADCombined(percentiles=[20,40,60,80])"))
/// ```
///
/// Randomness follows the reference: the noise generator is reseeded before every top-level
/// `evaluate` (upstream's fixtures seed before every metric call), and a metric that calls
/// others continues the stream. Noise-free imputations are cached, so metrics that share a
/// threshold (ROAD at 80 and ROADCombined) solve each system once. Thread-safe: top-level
/// calls run one at a time.
public final class MetricContext: @unchecked Sendable {
    public let model: Model
    /// The batch as fed to the model (NCHW, or NHWC for Keras models).
    public let input: Tensor
    /// The maps being judged, (N, H, W).
    public let cams: Tensor
    /// One target per image: what the metrics score (e.g. the logit or the softmax of a class).
    public let targets: [any Target]
    /// ROAD's imputer; its `noise` is upstream's `NoisyLinearImputer(noise=…)` (default 0.01).
    public let imputer: NoisyLinearImputer
    /// Seed of the imputation noise.
    public let seed: UInt64
    /// How the maps were made, for metrics that compute maps again (Coherency).
    public let camRequest: CAMRequest?
    public let registry: PluginRegistry

    public let batchSize: Int
    public let channels: Int
    public let imageSize: (height: Int, width: Int)

    private let lock = NSRecursiveLock()
    private var depth = 0
    private var noise: GaussianNoise
    private var baseline: [Float]?
    private let imagesNCHW: Tensor
    private let shared: SharedCache

    private struct FillKey: Hashable {
        let image: Int
        let order: RemovalOrder
        let threshold: RemovalThreshold
    }

    /// What contexts on the same batch and maps share: noise-free imputed images, and the
    /// model's outputs on noise-free perturbed batches.
    private final class SharedCache: @unchecked Sendable {
        let lock = NSLock()
        /// Held while computing what is missing, so that concurrent callers wait for one
        /// computation instead of repeating it.
        let fillLock = NSLock(), outputsLock = NSLock()
        var filled: [FillKey: [Float]] = [:]
        var outputs: [String: [Tensor]] = [:]

        func get<K: Hashable, V>(_ path: ReferenceWritableKeyPath<SharedCache, [K: V]>, _ key: K) -> V? {
            lock.lock()
            defer { lock.unlock() }
            return self[keyPath: path][key]
        }

        func set<K: Hashable, V>(_ path: ReferenceWritableKeyPath<SharedCache, [K: V]>, _ key: K, _ value: V) {
            lock.lock()
            self[keyPath: path][key] = value
            lock.unlock()
        }
    }

    public convenience init(model: Model, input: Tensor, cams: Tensor, targets: [any Target], imputerNoise: Float = 0.01, seed: UInt64 = 0,
                            camRequest: CAMRequest? = nil, registry: PluginRegistry = .shared) throws {
        try self.init(model: model, input: input, cams: cams, targets: targets, imputerNoise: imputerNoise, seed: seed,
                      camRequest: camRequest, registry: registry, shared: SharedCache())
    }

    /// A context on the same batch and maps with other targets, noise or seed; it shares the
    /// imputed images already computed (they do not depend on those).
    public func variant(targets: [any Target]? = nil, imputerNoise: Float? = nil, seed: UInt64? = nil) throws -> MetricContext {
        try MetricContext(model: model, input: input, cams: cams, targets: targets ?? self.targets, imputerNoise: imputerNoise ?? imputer.noise,
                          seed: seed ?? self.seed, camRequest: camRequest, registry: registry, shared: shared)
    }

    private init(model: Model, input: Tensor, cams: Tensor, targets: [any Target], imputerNoise: Float, seed: UInt64,
                 camRequest: CAMRequest?, registry: PluginRegistry, shared: SharedCache) throws {
        guard input.rank == 4, input.dtype == .float32 else {
            throw CAMError(.invalidInput, "metrics need a float32 image batch (N, C, H, W), got \(input.dtype) \(input.shape)")
        }
        let n = input.shape[0]
        let size = model.imageSize(of: input)
        guard cams.rank == 3, cams.shape == [n, size.height, size.width] else {
            throw CAMError(.invalidInput, "metrics need one map per image at the input's size, (\(n), \(size.height), \(size.width)); got \(cams.shape)")
        }
        guard targets.count == n else { throw CAMError(.invalidInput, "metrics need one target per image: \(targets.count) targets for \(n) images") }
        guard imputerNoise.isFinite, imputerNoise >= 0 else { throw CAMError(.usage, "the imputer's noise must be ≥ 0, got \(imputerNoise)") }
        self.model = model
        self.input = input
        self.cams = cams
        self.targets = targets
        self.imputer = NoisyLinearImputer(noise: imputerNoise)
        self.seed = seed
        self.camRequest = camRequest
        self.registry = registry
        self.batchSize = n
        self.channels = model.inputLayout == .nhwc ? input.shape[3] : input.shape[1]
        self.imageSize = size
        self.noise = GaussianNoise(seed: seed)
        self.imagesNCHW = model.inputLayout == .nhwc ? try CAMMath.channelsFirst(input) : input
        self.shared = shared
    }

    // MARK: Metrics by name

    /// The key `call` is reported under (upstream's class with its arguments); validates the call.
    public func key(for call: MetricCall) throws -> String {
        try registry.metric(named: call.name).key(for: call)
    }

    /// Scores of a metric, one per image. A top-level call reseeds the noise.
    public func evaluate(_ call: MetricCall) throws -> [Float] {
        let metric = try registry.metric(named: call.name)
        lock.lock()
        defer { lock.unlock() }
        if depth == 0 { noise = GaussianNoise(seed: seed) }
        depth += 1
        defer { depth -= 1 }
        let s = try metric.scores(call, context: self)
        guard s.count == batchSize else {
            throw CAMError(.runtime, "metric \(metric.name) returned \(s.count) scores for \(batchSize) images")
        }
        return s
    }

    /// Every call's key and scores, in order.
    public func evaluate(_ calls: [MetricCall]) throws -> [(key: String, scores: [Float])] {
        let keys = try calls.map { try key(for: $0) }
        return try zip(keys, calls).map { ($0, try evaluate($1)) }
    }

    // MARK: Scoring

    /// `target(model(input))` per image (computed once).
    public func baselineScores() throws -> [Float] {
        lock.lock()
        defer { lock.unlock() }
        if let baseline { return baseline }
        let s = try scores(for: input)
        baseline = s
        return s
    }

    /// `target_i(model(batch)[i])` for a batch laid out as the model's input.
    public func scores(for batch: Tensor) throws -> [Float] {
        guard batch.shape == input.shape else { throw CAMError(.runtime, "a perturbed batch of shape \(batch.shape) for inputs \(input.shape)") }
        return try scores(outputs: try model.predict(batch))
    }

    /// Each image's target on the model's outputs for a batch.
    public func scores(outputs: [Tensor]) throws -> [Float] {
        try (0..<batchSize).map { i in try targets[i].evaluate(outputs: outputs.map { $0.batchItem(i) }).value }
    }

    /// upstream's `PerturbationConfidenceMetric` with `return_diff=True`: the score on the
    /// perturbed batch minus the score on the input, per image (float32).
    public func confidenceChange(_ perturbed: Tensor) throws -> [Float] {
        let after = try scores(for: perturbed)
        return zip(after, try baselineScores()).map { $0 - $1 }
    }

    // MARK: Perturbations

    /// Image `i`'s map, H·W values.
    public func cam(_ i: Int) -> [Float] {
        let plane = imageSize.height * imageSize.width
        return Array(cams.floats[(i * plane)..<((i + 1) * plane)])
    }

    /// The input multiplied by the maps (every channel), laid out as the model's input:
    /// upstream's `multiply_tensor_with_cam` and Coherency's masked images.
    public func inputTimesCAMs() throws -> Tensor {
        let x = imagesNCHW
        let out = Tensor(uninitialized: x.shape)
        let plane = imageSize.height * imageSize.width
        let src = x.floats, m = cams.floats, dst = out.mutableFloats
        for i in 0..<batchSize {
            for c in 0..<channels {
                let base = (i * channels + c) * plane
                for p in 0..<plane { dst[base + p] = src[base + p] * m[i * plane + p] }
            }
        }
        return try toModelLayout(out)
    }

    /// upstream's mask for image `i` (see `RelevanceMask.keepMask`): 0 = imputed.
    public func keepMask(image i: Int, order: RemovalOrder, threshold: RemovalThreshold) -> [Float] {
        RelevanceMask.keepMask(cam: cam(i), order: order, threshold: threshold)
    }

    /// The batch with each image's removed pixels imputed by ROAD's noisy linear imputer (noise
    /// drawn from the context's generator, images in order), laid out as the model's input.
    public func imputedBatch(order: RemovalOrder, threshold: RemovalThreshold) throws -> Tensor {
        let masks = (0..<batchSize).map { keepMask(image: $0, order: order, threshold: threshold) }
        let slots = UnsafeMutableBufferPointer<[Float]>.allocate(capacity: batchSize)
        slots.initialize(repeating: [])
        defer { slots.deinitialize(); slots.deallocate() }
        var failure: Error?
        let failureLock = NSLock()
        let x = imagesNCHW
        let (h, w) = imageSize
        let c = channels
        shared.fillLock.lock()
        parallelEach(batchSize) { i in
            let key = FillKey(image: i, order: order, threshold: threshold)
            if let cached = shared.get(\.filled, key) { slots[i] = cached; return }
            do {
                let image = Array(x.floats[(i * c * h * w)..<((i + 1) * c * h * w)])
                let f = try NoisyLinearImputer.fill(image, channels: c, height: h, width: w, keep: masks[i])
                shared.set(\.filled, key, f)
                slots[i] = f
            } catch {
                failureLock.lock()
                failure = failure ?? error
                failureLock.unlock()
            }
        }
        shared.fillLock.unlock()
        if let failure { throw failure }
        var filled = Array(slots)
        if imputer.noise != 0 {
            lock.lock()
            for i in 0..<batchSize { imputer.addNoise(to: &filled[i], channels: c, keep: masks[i], generator: &noise) }
            lock.unlock()
        }
        return try toModelLayout(Tensor(shape: x.shape, floats: Array(filled.joined())))
    }

    /// upstream's `PerturbationConfidenceMetric(RemoveMostRelevantFirst(p, NoisyLinearImputer()))`
    /// (or `RemoveLeastRelevantFirst`): the confidence change after imputing the removed pixels.
    public func removalConfidenceChange(order: RemovalOrder, threshold: RemovalThreshold) throws -> [Float] {
        guard imputer.noise == 0 else { return try confidenceChange(try imputedBatch(order: order, threshold: threshold)) }
        // Without noise the perturbed batch is a function of the mask alone: run the model once.
        let key = "\(order)|\(threshold)"
        let before = try baselineScores()
        shared.outputsLock.lock()
        let outputs: [Tensor]
        do {
            defer { shared.outputsLock.unlock() }
            if let cached = shared.get(\.outputs, key) {
                outputs = cached
            } else {
                outputs = try model.predict(try imputedBatch(order: order, threshold: threshold))
                shared.set(\.outputs, key, outputs)
            }
        }
        return zip(try scores(outputs: outputs), before).map { $0 - $1 }
    }

    // MARK: Maps again

    /// The CAM method that made the maps (or `method`), run on another batch with the metric's
    /// targets: upstream's `base_method(input_tensor=…, targets=targets)`.
    public func cams(for batch: Tensor, method: (any CAMMethod)? = nil) throws -> Tensor {
        guard var request = camRequest else {
            throw CAMError(.usage, "this metric runs the CAM method again; give the request that made the maps (MetricContext camRequest)")
        }
        if let method { request.method = method }
        request.targets = targets
        request.categories = []
        request.progress = nil
        guard let maps = try CAMExplainer(model: model).explain(batch, request).maps else {
            throw CAMError(.usage, "method '\(request.method.name)' produces no class activation maps")
        }
        return maps
    }

    // MARK: Layout

    private func toModelLayout(_ nchw: Tensor) throws -> Tensor {
        model.inputLayout == .nhwc ? try CAMMath.channelsLast(nchw) : nchw
    }
}

/// The metrics' JSON report: each key mapped to its per-image scores, in the order asked for.
public enum MetricReport {
    public static func json(_ results: [(key: String, scores: [Float])]) -> Data {
        func quoted(_ s: String) -> String {
            var out = "\""
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                default:
                    if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
                }
            }
            return out + "\""
        }
        func number(_ f: Float) -> String { f.isFinite ? "\(f)" : "null" }
        let lines = results.map { "  \(quoted($0.key)): [" + $0.scores.map(number).joined(separator: ", ") + "]" }
        return Data(("{\n" + lines.joined(separator: ",\n") + "\n}\n").utf8)
    }
}
