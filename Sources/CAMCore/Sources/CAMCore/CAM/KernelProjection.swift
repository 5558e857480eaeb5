import Foundation

/// upstream's `get_2d_projection_kernel` (KPCA-CAM): per image, the centred (h·w) × C
/// activations projected on the first kernel principal component, as scikit-learn's
/// `KernelPCA(n_components=1, kernel='sigmoid')` computes it: K = tanh(γ·XXᵀ + c₀) with
/// γ = 1/C (unless given) and c₀ = 1, centred in feature space, its top eigenvector (LAPACK
/// `dsyev`) with the largest-magnitude entry made positive (sklearn's `svd_flip`), times √λ.
public enum KernelProjection {
    public enum Kernel: String, Sendable { case sigmoid, rbf, linear, poly, cosine }

    public static func firstComponent(_ t: Tensor, kernel: Kernel = .sigmoid, gamma: Double? = nil) throws -> Tensor {
        guard t.rank == 4 else { throw CAMError(.runtime, "a kernel projection needs (N, C, h, w), got \(t.shape)") }
        let (n, c, h, w) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
        let m = h * w
        let g = gamma ?? 1 / Double(c)
        let out = Tensor(uninitialized: [n, h, w])
        let values = t.toFloats()
        for i in 0..<n {
            // X[r][j] = activation of channel j at pixel r, centred per channel, in float32 as upstream.
            var x = [Float](repeating: 0, count: m * c)
            for j in 0..<c {
                var mean: Float = 0
                for r in 0..<m { let v = values[(i * c + j) * m + r]; x[r * c + j] = v.isNaN ? 0 : v; mean += x[r * c + j] }
                mean /= Float(m)
                for r in 0..<m { x[r * c + j] -= mean }
            }
            var k = [Double](repeating: 0, count: m * m)
            for a in 0..<m {
                for b in a..<m {
                    var dot = 0.0, da = 0.0, db = 0.0
                    for j in 0..<c {
                        let xa = Double(x[a * c + j]), xb = Double(x[b * c + j])
                        dot += xa * xb; da += xa * xa; db += xb * xb
                    }
                    let value: Double
                    switch kernel {
                    case .sigmoid: value = tanh(g * dot + 1)
                    case .linear: value = dot
                    case .poly: value = pow(g * dot + 1, 3)
                    case .rbf: value = exp(-g * (da + db - 2 * dot))
                    case .cosine: value = dot / Swift.max((da * db).squareRoot(), 1e-300)
                    }
                    k[a * m + b] = value
                    k[b * m + a] = value
                }
            }
            // Centre in feature space: K − 1K − K1 + 1K1.
            let rowMeans = (0..<m).map { a in (0..<m).reduce(0.0) { $0 + k[a * m + $1] } / Double(m) }
            let total = rowMeans.reduce(0, +) / Double(m)
            for a in 0..<m { for b in 0..<m { k[a * m + b] += total - rowMeans[a] - rowMeans[b] } }
            let (lambda, v) = try topEigenpair(&k, size: m)
            let flip: Double = (v.max { abs($0) < abs($1) } ?? 0) < 0 ? -1 : 1
            let scale = lambda > 0 ? lambda.squareRoot() : 0
            for r in 0..<m { out.mutableFloats[i * m + r] = Float(flip * v[r] * scale) }
        }
        return out
    }

    /// The largest eigenvalue of the symmetric `size × size` matrix `a` and its eigenvector.
    static func topEigenpair(_ a: inout [Double], size n: Int) throws -> (Double, [Double]) {
        guard let dsyev = OpenBLAS.functions.dsyev else {
            throw CAMError(.unsupported, "this OpenBLAS has no LAPACK (dsyev); install Debian's libopenblas0 (scripts/setup.sh does)")
        }
        var jobz = CChar(UInt8(ascii: "V")), uplo = CChar(UInt8(ascii: "U"))
        var nn = Int32(n), lda = Int32(n), info: Int32 = 0, lwork: Int32 = -1
        var eigenvalues = [Double](repeating: 0, count: n)
        var query = 0.0
        dsyev(&jobz, &uplo, &nn, &a, &lda, &eigenvalues, &query, &lwork, &info)
        lwork = Int32(query)
        var work = [Double](repeating: 0, count: Swift.max(Int(lwork), 1))
        dsyev(&jobz, &uplo, &nn, &a, &lda, &eigenvalues, &work, &lwork, &info)
        guard info == 0 else { throw CAMError(.runtime, "LAPACK dsyev failed (info \(info)) on a \(n)×\(n) kernel matrix") }
        // Ascending eigenvalues; eigenvectors are the columns (column-major).
        return (eigenvalues[n - 1], (0..<n).map { a[(n - 1) * n + $0] })
    }
}
