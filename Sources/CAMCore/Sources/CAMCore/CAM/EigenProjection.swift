/// upstream's `get_2d_projection`: per image, the (h·w) × C matrix of activations, centred per
/// channel, projected on its first right-singular vector — computed with LAPACK's `sgesdd`
/// (OpenBLAS) on the column-major matrix, exactly as NumPy's `linalg.svd` calls it, so the
/// arbitrary sign of the singular vector is the same as upstream's.
public enum EigenProjection {
    /// (N, C, h, w) → (N, h, w). NaNs are treated as 0.
    public static func firstComponent(_ t: Tensor) throws -> Tensor {
        try project(t, signCorrected: false)
    }

    /// As `firstComponent`, with Seg-Eigen-CAM's sign correction: a map whose most negative
    /// value is larger in magnitude than its most positive one is negated.
    public static func firstComponentSignCorrected(_ t: Tensor) throws -> Tensor {
        try project(t, signCorrected: true)
    }

    static func project(_ t: Tensor, signCorrected: Bool) throws -> Tensor {
        guard t.rank == 4 else { throw CAMError(.runtime, "an eigen projection needs (N, C, h, w), got \(t.shape)") }
        let (n, c, h, w) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
        let m = h * w
        let out = Tensor(uninitialized: [n, h, w])
        for i in 0..<n {
            // Column-major m × c: column j is channel j's plane.
            var a = (0..<(m * c)).map { k -> Float in let v = t.floats[i * m * c + k]; return v.isNaN ? 0 : v }
            for j in 0..<c {
                var mean: Float = 0
                for r in 0..<m { mean += a[j * m + r] }
                mean /= Float(m)
                for r in 0..<m { a[j * m + r] -= mean }
            }
            let centred = a
            let v = try firstRightSingularVector(&a, rows: m, columns: c)
            var projection = [Float](repeating: 0, count: m)
            for j in 0..<c where v[j] != 0 {
                let vj = v[j]
                for r in 0..<m { projection[r] += centred[j * m + r] * vj }
            }
            if signCorrected, let lo = projection.min(), let hi = projection.max(), abs(lo) > abs(hi) {
                projection = projection.map { -$0 }
            }
            (out.mutableFloats.baseAddress! + i * m).update(from: projection, count: m)
        }
        return out
    }

    /// VT[0, :] of the SVD of the column-major `rows × columns` matrix `a` (destroyed).
    static func firstRightSingularVector(_ a: inout [Float], rows m: Int, columns n: Int) throws -> [Float] {
        guard let sgesdd = OpenBLAS.functions.sgesdd else {
            throw CAMError(.unsupported, "this OpenBLAS has no LAPACK (sgesdd); install Debian's libopenblas0 (scripts/setup.sh does)")
        }
        let k = Swift.min(m, n)
        var jobz = CChar(UInt8(ascii: "S"))
        var mm = Int32(m), nn = Int32(n), lda = Int32(Swift.max(m, 1)), ldu = Int32(Swift.max(m, 1)), ldvt = Int32(Swift.max(k, 1))
        var s = [Float](repeating: 0, count: Swift.max(k, 1))
        var u = [Float](repeating: 0, count: Swift.max(m * k, 1))
        var vt = [Float](repeating: 0, count: Swift.max(k * n, 1))
        var iwork = [Int32](repeating: 0, count: 8 * Swift.max(k, 1))
        var info: Int32 = 0
        var query: Float = 0
        var lwork: Int32 = -1
        sgesdd(&jobz, &mm, &nn, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &query, &lwork, &iwork, &info)
        lwork = Int32(query)
        var work = [Float](repeating: 0, count: Swift.max(Int(lwork), 1))
        sgesdd(&jobz, &mm, &nn, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &work, &lwork, &iwork, &info)
        guard info == 0 else { throw CAMError(.runtime, "LAPACK sgesdd failed (info \(info)) on a \(m)×\(n) matrix") }
        return (0..<n).map { vt[$0 * Int(ldvt)] }
    }
}
