import Foundation

/// Recycles large tensor allocations. A forward pass allocates and frees the same sizes in
/// the same order every time; handing freed blocks back out avoids the page faults and
/// zeroing the kernel does for fresh memory. Blocks under 64 KiB go straight to malloc.
final class BufferPool: @unchecked Sendable {
    static let shared = BufferPool()

    /// Allocations at least this large are pooled.
    static let minimumPooled = 64 << 10
    /// Freed memory kept for reuse at most (beyond it, blocks are released).
    var limit = 512 << 20

    private let lock = NSLock()
    private var free: [Int: [UnsafeMutableRawPointer]] = [:]
    private var cached = 0

    /// The size class of a request: rounded up to 64 KiB.
    static func capacity(for bytes: Int) -> Int {
        bytes < minimumPooled ? Swift.max(bytes, 1) : (bytes + (64 << 10) - 1) & ~((64 << 10) - 1)
    }

    func allocate(capacity: Int) -> UnsafeMutableRawPointer {
        if capacity >= Self.minimumPooled {
            lock.lock()
            if let p = free[capacity]?.popLast() {
                cached -= capacity
                lock.unlock()
                return p
            }
            lock.unlock()
        }
        return UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
    }

    func release(_ p: UnsafeMutableRawPointer, capacity: Int) {
        if capacity >= Self.minimumPooled {
            lock.lock()
            if cached + capacity <= limit {
                free[capacity, default: []].append(p)
                cached += capacity
                lock.unlock()
                return
            }
            lock.unlock()
        }
        p.deallocate()
    }
}

/// Float scratch memory for a kernel's temporaries, from the buffer pool: large blocks are
/// handed back out instead of being returned to the system, trimmed and faulted in again on
/// every call. Uninitialised; `release()` it when done (with `defer`).
struct PooledFloats {
    let pointer: UnsafeMutablePointer<Float>
    private let raw: UnsafeMutableRawPointer
    private let capacity: Int

    init(count: Int) {
        capacity = BufferPool.capacity(for: Swift.max(1, count) * MemoryLayout<Float>.stride)
        raw = BufferPool.shared.allocate(capacity: capacity)
        pointer = raw.bindMemory(to: Float.self, capacity: Swift.max(1, count))
    }

    func release() { BufferPool.shared.release(raw, capacity: capacity) }
}
