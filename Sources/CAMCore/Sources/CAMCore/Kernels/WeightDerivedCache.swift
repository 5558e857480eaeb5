import Foundation

/// Tensors derived from a weight tensor once and kept while the weights live: Winograd's
/// transformed filters, weights packed for `ck_gemm_packed`. Keyed by the weights' buffer
/// (held weakly, so that unloading a model frees what was derived from it) and by `Key`,
/// the form derived.
///
/// Looked up once per convolution per forward pass, so a lookup is one dictionary probe by the
/// buffer's identity and one weak load: scanning every entry, each a struct whose weak
/// reference was copied as it was read, took about 0.1 ms of each EfficientNet-Lite0 pass
/// (perf, batch 1), while the other thread waited.
final class WeightDerivedCache<Key: Equatable, Value>: @unchecked Sendable {
    private final class Entry {
        weak var weights: TensorBuffer?
        let key: Key
        let value: Value
        init(weights: TensorBuffer, key: Key, value: Value) { (self.weights, self.key, self.value) = (weights, key, value) }
    }
    /// By the identity of the weights' buffer. A buffer freed and another allocated at the same
    /// address share an identity; the weak reference tells them apart.
    private var entries: [ObjectIdentifier: [Entry]] = [:]
    private let lock = NSLock()

    /// The value derived from `weights` as `key`, made by `make` on first use.
    func value(for weights: Tensor, key: Key, make: () -> Value) -> Value {
        lock.lock()
        defer { lock.unlock() }
        let buffer = weights.buffer, id = ObjectIdentifier(buffer)
        if let hit = entries[id]?.first(where: { $0.key == key && $0.weights === buffer }) { return hit.value }
        // Forget what was derived from weights since freed.
        entries = entries.compactMapValues { list in
            let live = list.filter { $0.weights != nil }
            return live.isEmpty ? nil : live
        }
        let value = make()
        entries[id, default: []].append(Entry(weights: buffer, key: key, value: value))
        return value
    }
}
