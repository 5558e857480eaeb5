import Testing
@_spi(Testing) import CAMCore

/// The buffer pool hands out the most recently freed block of the requested size or up to
/// twice it, and takes each block back into its own size class.
@Suite("Buffer pool")
struct BufferPoolTests {
    static let kib = 1 << 10

    @Test("the most recent block that fits, up to twice the request")
    func mostRecentFittingBlock() {
        let pool = BufferPool()
        let a = pool.allocate(capacity: 1024 * Self.kib), b = pool.allocate(capacity: 512 * Self.kib)
        let c = pool.allocate(capacity: 2048 * Self.kib)
        pool.release(a.pointer, capacity: a.capacity)
        pool.release(c.pointer, capacity: c.capacity)
        pool.release(b.pointer, capacity: b.capacity)
        // 512 KiB: its own size, freed last.
        let d = pool.allocate(capacity: 512 * Self.kib)
        #expect(d.pointer == b.pointer && d.capacity == 512 * Self.kib)
        // 1024 KiB: the 2048 block was freed after the 1024 one, and is at most twice the request.
        let e = pool.allocate(capacity: 1024 * Self.kib)
        #expect(e.pointer == c.pointer && e.capacity == 2048 * Self.kib)
        // 448 KiB: the 1024 block is more than twice it, so a new block.
        let f = pool.allocate(capacity: 448 * Self.kib)
        #expect(f.pointer != a.pointer && f.capacity == 448 * Self.kib)
        // Taken back as a 2048 block, the larger block serves a 2048 request again.
        pool.release(e.pointer, capacity: e.capacity)
        let g = pool.allocate(capacity: 2048 * Self.kib)
        #expect(g.pointer == c.pointer)
        for block in [d, f, g] { pool.release(block.pointer, capacity: block.capacity) }
    }

    @Test("size classes of 64 KiB; smaller blocks keep their size")
    func smallBlocksAreNotPooled() {
        let pool = BufferPool()
        let small = pool.allocate(capacity: 32 * Self.kib)
        #expect(small.capacity == 32 * Self.kib)
        pool.release(small.pointer, capacity: small.capacity)
        let again = pool.allocate(capacity: 32 * Self.kib)
        pool.release(again.pointer, capacity: again.capacity)
        #expect(BufferPool.capacity(for: 65 * Self.kib) == 128 * Self.kib)
    }
}
