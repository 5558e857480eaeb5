/// Owned, 64-byte aligned memory behind one or more `Tensor` values. Tensors never mutate a
/// buffer after the kernel that produced it returns, so reshapes share buffers freely.
public final class TensorBuffer: @unchecked Sendable {
    public let raw: UnsafeMutableRawPointer
    public let byteCount: Int
    private let capacity: Int

    /// Allocates `byteCount` bytes, zero-filled when `zeroed` is true.
    public init(byteCount: Int, zeroed: Bool = false) {
        self.byteCount = byteCount
        (raw, capacity) = BufferPool.shared.allocate(capacity: BufferPool.capacity(for: byteCount))
        if zeroed { raw.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount) }
    }

    deinit { BufferPool.shared.release(raw, capacity: capacity) }
}
