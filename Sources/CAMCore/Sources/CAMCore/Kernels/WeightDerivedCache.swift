import Foundation

/// Tensors derived from a weight tensor once and kept while the weights live: Winograd's
/// transformed filters, weights packed for `ck_gemm_packed`. Keyed by the weights' buffer
/// (held weakly, so that unloading a model frees what was derived from it) and by `Key`,
/// the form derived.
final class WeightDerivedCache<Key: Equatable, Value>: @unchecked Sendable {
    private struct Entry {
        weak var weights: TensorBuffer?
        let key: Key
        let value: Value
    }
    private var entries: [Entry] = []
    private let lock = NSLock()

    /// The value derived from `weights` as `key`, made by `make` on first use.
    func value(for weights: Tensor, key: Key, make: () -> Value) -> Value {
        lock.lock()
        defer { lock.unlock() }
        if let hit = entries.first(where: { $0.weights === weights.buffer && $0.key == key }) { return hit.value }
        entries.removeAll { $0.weights == nil }
        let value = make()
        entries.append(Entry(weights: weights.buffer, key: key, value: value))
        return value
    }
}
