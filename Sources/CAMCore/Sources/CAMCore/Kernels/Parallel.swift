import Foundation
internal import CKernels

/// Runs `body(range)` over `0..<count` split into contiguous chunks on the available cores.
/// Small loops (below `grain` iterations in all) run inline.
@inline(__always)
func parallelFor(_ count: Int, grain: Int = 4096, _ body: (Range<Int>) -> Void) {
    let workers = Runtime.threadCount
    if workers <= 1 || count < 2 * grain {
        if count > 0 { body(0..<count) }
        return
    }
    let chunks = min(workers * 4, (count + grain - 1) / grain)
    let per = (count + chunks - 1) / chunks
    parallelEach(chunks) { k in
        let lo = k * per
        let hi = min(count, lo + per)
        if lo < hi { body(lo..<hi) }
    }
}

/// Runs `body(i)` for `i` in `0..<count`, in parallel when there are several items: on the
/// runtime's own workers (`ck_parallel`, which wait for the next loop spinning, not asleep),
/// or, when those are busy with another thread's loop or this loop is nested in one, on
/// Dispatch's.
func parallelEach(_ count: Int, _ body: (Int) -> Void) {
    parallelEach(count, pinned: false, body)
}

/// `parallelEach`, with `pinned`: index i on the same thread every time (`ck_parallel_pinned`;
/// count ≤ threads). Returns whether it ran so (false: on Dispatch's threads, the pool being
/// busy with another thread's loop).
@discardableResult
private func parallelEach(_ count: Int, pinned: Bool, _ body: (Int) -> Void) -> Bool {
    let threads = Runtime.threadCount
    if threads <= 1 || count <= 1 {
        for i in 0..<count { body(i) }
        return true
    }
    let scoped = Runtime.scopedAccumulation
    let ran = withoutActuallyEscaping(body) { body -> Bool in
        // Task-local values do not cross into other threads by themselves.
        var task: (Int) -> Void = { i in Runtime.inheriting(scoped) { body(i) } }
        return withUnsafeMutablePointer(to: &task) { pointer in
            let run: ck_parallel_task = { context, i in context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(i) }
            return (pinned ? ck_parallel_pinned(count, Int32(threads), run, pointer) : ck_parallel(count, Int32(threads), run, pointer)) == 0
        }
    }
    if !ran {
        DispatchQueue.concurrentPerform(iterations: count) { i in Runtime.inheriting(scoped) { body(i) } }
    }
    return ran
}

/// Runs `body(share, tasks)` for one contiguous share of `0..<count` per thread, share i always
/// on the same thread (the caller's first), so that consecutive layers that cut their work
/// alike hand each thread the part of the data it has just written: the bands of rows of a
/// large plane, say. (Handing tasks out in turn gave each thread every other band, half of
/// them written by the other core.)
/// Returns false where the shares ran on Dispatch's threads instead, unpinned (the pool busy
/// with another thread's loop, or this one nested in a loop).
@discardableResult
func parallelShares(_ count: Int, _ body: (_ share: Int, _ tasks: Range<Int>) -> Void) -> Bool {
    let shares = shareCount(count)
    let per = (count + shares - 1) / shares
    return parallelEach(shares, pinned: true) { share in
        let tasks = share * per ..< Swift.min(count, (share + 1) * per)
        if !tasks.isEmpty { body(share, tasks) }
    }
}

/// How many shares `parallelShares(count)` makes: one per thread, at most one per task (and at
/// least one), so that a caller can size per-share scratch.
func shareCount(_ count: Int) -> Int { Swift.max(1, Swift.min(Runtime.threadCount, count)) }

/// Runs `body(task)` for every task of `0..<count`, in the pinned contiguous shares of
/// `parallelShares`.
func parallelEachInShares(_ count: Int, _ body: (Int) -> Void) {
    parallelShares(count) { _, tasks in
        for task in tasks { body(task) }
    }
}

extension Runtime {
    /// For tests of `parallelShares`: the thread (`pthread_self`) that ran each share of
    /// `count` tasks, and the tasks of each share; nil when they ran unpinned, the pool being
    /// busy with another thread's loop.
    @_spi(Testing) public static func threadsRunningShares(_ count: Int) -> [(thread: UInt, tasks: Range<Int>)]? {
        let shares = shareCount(count)
        let seen = UnsafeMutablePointer<(thread: UInt, tasks: Range<Int>)>.allocate(capacity: shares)
        defer { seen.deallocate() }
        seen.initialize(repeating: (0, 0..<0), count: shares)
        let pinned = parallelShares(count) { share, tasks in seen[share] = (UInt(bitPattern: Int(bitPattern: pthread_self())), tasks) }
        return pinned ? Array(UnsafeBufferPointer(start: seen, count: shares)) : nil
    }
}
