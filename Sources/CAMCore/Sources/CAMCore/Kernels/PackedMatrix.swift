import Foundation
internal import CKernels

/// A matrix packed once as the left operand of `ck_gemm_packed` (AVX-512, `gemm_packed.c`):
/// products with it skip the copy of A that BLAS makes on every call, which for weights used
/// again and again (a convolution's filters) is pure overhead, and for deep layers, whose
/// weights are larger than their activations, most of the product's memory traffic.
struct PackedMatrix: @unchecked Sendable {
    /// Whether this CPU runs the packed product, and `SWIFTCAM_GEMM=blas` does not ask for BLAS.
    static let isAvailable = ck_gemm_packed_available() != 0
        && ProcessInfo.processInfo.environment["SWIFTCAM_GEMM"] != "blas"

    /// Whether a product with `n` columns runs in the thin form (C's rows in vector lanes),
    /// which reads A once per product at full speed even for one small plane.
    static func runsThin(columns n: Int) -> Bool { isAvailable && ck_gemm_packed_thin_columns(Int32(n)) != 0 }

    /// Rows per packed block of A: products shared among threads by rows start each share at a
    /// multiple of it.
    static let rowBlock = Int(CK_PACKED_ROW_BLOCK)

    let storage: Tensor
    let offset: Int
    let rows: Int, columns: Int

    /// Floats one packed (rows × columns) matrix takes.
    static func count(rows: Int, columns: Int) -> Int { ck_gemm_packed_size(Int32(rows), Int32(columns)) }

    /// Packs the (rows × columns) matrix `a` (row pitch `lda`) into `storage` at `offset`.
    init(packing a: UnsafePointer<Float>, lda: Int, rows: Int, columns: Int, into storage: Tensor, offset: Int = 0) {
        ck_gemm_pack_a(a, lda, Int32(rows), Int32(columns), storage.mutableFloats.baseAddress! + offset)
        (self.storage, self.offset, self.rows, self.columns) = (storage, offset, rows, columns)
    }

    /// Rows `range` of C = A · B, with B (columns × n, pitch `ldb`) and C (rows × n, pitch
    /// `ldc`), on the calling thread; `range` starts at a multiple of 8 (of `rowBlock` for the
    /// thin form, else the wide one runs). `epilogue` (bias per
    /// row of C, residual, activation) is applied as C is stored.
    func multiply(rows range: Range<Int>, _ b: UnsafePointer<Float>, ldb: Int, n: Int, into c: UnsafeMutablePointer<Float>, ldc: Int,
                  epilogue: OutputEpilogue? = nil) {
        let a = storage.floats.baseAddress! + offset
        let status: Int32
        if let epilogue, !epilogue.isIdentity {
            var fused = epilogue.kernelEpilogue(storingAt: c)
            status = ck_gemm_packed(a, Int32(rows), Int32(range.lowerBound), Int32(range.count), Int32(n), Int32(columns), b, ldb,
                                    c, ldc, &fused)
        } else {
            status = ck_gemm_packed(a, Int32(rows), Int32(range.lowerBound), Int32(range.count), Int32(n), Int32(columns), b, ldb,
                                    c, ldc, nil)
        }
        precondition(status == 0, "packed matrix product failed (\(status): out of memory or rows \(range) outside \(rows))")
    }

    /// Whether `multiply` shares a product whose C is `rows` × `n` among threads by rows (else
    /// by columns). A depthwise convolution of one image follows it, so that each thread
    /// convolves the channels or pixels it has just computed.
    static func splitsByRows(rows: Int, columns n: Int) -> Bool { rows >= n || n < 64 * Runtime.threadCount }

    /// C = A · B (then `epilogue`) on the runtime's threads: blocks of rows when A is the
    /// larger operand (each thread then reads only its part of A), blocks of columns otherwise.
    func multiply(_ b: UnsafePointer<Float>, ldb: Int, n: Int, into c: UnsafeMutablePointer<Float>, ldc: Int,
                  epilogue: OutputEpilogue? = nil) {
        let threads = Runtime.threadCount
        guard threads > 1, rows * n * columns >= 1 << 20 else {
            multiply(rows: 0..<rows, b, ldb: ldb, n: n, into: c, ldc: ldc, epilogue: epilogue)
            return
        }
        if Self.splitsByRows(rows: rows, columns: n) {
            let block = Self.rowBlock
            parallelShares((rows + block - 1) / block) { _, blocks in
                multiply(rows: blocks.lowerBound * block ..< Swift.min(rows, blocks.upperBound * block), b, ldb: ldb, n: n, into: c, ldc: ldc,
                         epilogue: epilogue)
            }
        } else {
            // Whole vectors of 16 columns, as evenly as they go, the odd one last: 196 columns
            // (a 14 × 14 plane) as 96 + 100, not 112 + 84 (0.06 ms of EfficientNet-Lite0's
            // 4.7 at batch 1).
            let units = (n + 15) / 16, shares = shareCount(units)
            parallelShares(shares) { share, _ in
                let j0 = share * units / shares * 16, j1 = Swift.min(n, (share + 1) * units / shares * 16)
                guard j0 < j1 else { return }
                multiply(rows: 0..<rows, b + j0, ldb: ldb, n: j1 - j0, into: c + j0, ldc: ldc, epilogue: epilogue)
            }
        }
    }
}

/// Weights packed once for the AVX-512 products: convolution weights (m, c/group, kh, kw) as
/// the left (m × c·kh·kw) matrix of an im2col product, projection weights as the right
/// operand of `X · W`.
enum PackedWeights {
    private static let cache = WeightDerivedCache<Int, PackedMatrix>()
    private static let rightCache = WeightDerivedCache<Int, PackedRightMatrix>()

    /// The 2-D `w` (k × n) packed as the right operand of `X · w`, or nil where the packed
    /// product does not run.
    static func rightMatrix(for w: Tensor) -> PackedRightMatrix? {
        guard PackedMatrix.isAvailable, Runtime.gemmAccumulation == .single, w.rank == 2 else { return nil }
        return rightCache.value(for: w, key: 0) {
            PackedRightMatrix(packing: w.floats.baseAddress!, ldb: w.shape[1], rows: w.shape[0], columns: w.shape[1])
        }
    }

    /// The packed matrix of `w`, or nil where the packed product does not run.
    static func matrix(for w: Tensor) -> PackedMatrix? {
        guard PackedMatrix.isAvailable, Runtime.gemmAccumulation == .single else { return nil }
        let m = w.shape[0], k = w.count / Swift.max(m, 1)
        return cache.value(for: w, key: 0) {
            let storage = Tensor(uninitialized: [PackedMatrix.count(rows: m, columns: k)])
            return PackedMatrix(packing: w.floats.baseAddress!, lda: k, rows: m, columns: k, into: storage)
        }
    }
}
