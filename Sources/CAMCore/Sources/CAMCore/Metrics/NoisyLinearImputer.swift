/// ROAD's noisy linear imputer (Rong et al., "A Consistent and Efficient Evaluation Strategy
/// for Attribution Methods", 2022; upstream's `NoisyLinearImputer`).
///
/// Every removed pixel takes the weighted mean of its 8 neighbours (weight 1/6 for the four
/// direct ones, 1/12 for the diagonals; neighbours outside the image drop out), kept pixels
/// being fixed. That is one sparse linear system per image — a 9-point Laplacian on the removed
/// pixels, the same for every channel — which upstream solves with scipy's `spsolve`, in float64.
///
/// Here the system is solved with LAPACK's banded Cholesky (`dpbsv`, float64) on OpenBLAS:
/// negated, it is symmetric positive definite as soon as one pixel is kept, and numbering the
/// unknowns row by row (or column by column, whichever is narrower) gives a band no wider than
/// the image. Then Gaussian noise of standard deviation `noise` is added to every imputed value.
/// When nothing is kept the system is singular with a zero right-hand side; scipy returns 0
/// there, and so does this.
public struct NoisyLinearImputer: Sendable {
    /// (row offset, column offset, weight), in upstream's order.
    public static let neighbours: [(dy: Int, dx: Int, weight: Double)] = [
        (1, 1, 1.0 / 12), (0, 1, 1.0 / 6), (-1, 1, 1.0 / 12), (1, -1, 1.0 / 12),
        (0, -1, 1.0 / 6), (-1, -1, 1.0 / 12), (1, 0, 1.0 / 6), (-1, 0, 1.0 / 6),
    ]

    /// Standard deviation of the noise added to imputed values (upstream's default 0.01).
    public var noise: Float

    public init(noise: Float = 0.01) { self.noise = noise }

    /// One (C, H, W) image with its removed pixels (`keep == 0`) imputed, without noise.
    /// Pixels with `keep > 0.5` are kept (upstream's 0/1 and 0/255 masks).
    public static func fill(_ image: [Float], channels: Int, height: Int, width: Int, keep: [Float]) throws -> [Float] {
        let hw = height * width
        guard image.count == channels * hw, keep.count == hw else {
            throw CAMError(.runtime, "imputer: image of \(image.count) values and mask of \(keep.count) for \(channels)×\(height)×\(width)")
        }
        var out = image
        let unknown = (0..<hw).filter { keep[$0] == 0 }
        if unknown.isEmpty { return out }
        let known = keep.map { $0 > 0.5 }
        guard known.contains(true) else {
            for c in 0..<channels { for p in unknown { out[c * hw + p] = 0 } }
            return out
        }

        // Number the unknowns row by row or column by column, whichever gives the narrower band.
        let byColumns = unknown.sorted { ($0 % width, $0 / width) < ($1 % width, $1 / width) }
        let (rowIndex, rowBand) = numbering(unknown, hw: hw, height: height, width: width, keep: keep)
        let (colIndex, colBand) = numbering(byColumns, hw: hw, height: height, width: width, keep: keep)
        let (order, index, kd) = colBand < rowBand ? (byColumns, colIndex, colBand) : (unknown, rowIndex, rowBand)

        let n = order.count, ld = kd + 1
        var ab = [Double](repeating: 0, count: ld * n) // upper band, column-major: A(i, j) at j·ld + kd + i − j
        var rhs = [Double](repeating: 0, count: n * channels) // column-major n × C
        for (i, p) in order.enumerated() {
            let y = p / width, x = p % width
            var diagonal = 1.0
            for nb in neighbours {
                let yy = y + nb.dy, xx = x + nb.dx
                guard yy >= 0, yy < height, xx >= 0, xx < width else {
                    diagonal -= nb.weight
                    continue
                }
                let q = yy * width + xx
                if known[q] {
                    for c in 0..<channels { rhs[c * n + i] += nb.weight * Double(image[c * hw + q]) }
                } else if keep[q] == 0 {
                    let j = Int(index[q])
                    if j > i { ab[j * ld + kd + i - j] = -nb.weight }
                }
            }
            ab[i * ld + kd] = diagonal
        }
        try solveSymmetricBanded(&ab, n: n, kd: kd, rhs: &rhs, nrhs: channels)
        for c in 0..<channels {
            for (i, p) in order.enumerated() { out[c * hw + p] = Float(rhs[c * n + i]) }
        }
        return out
    }

    /// `fill` plus `noise · N(0, 1)` on every imputed value (channel by channel, pixels in order).
    public func impute(_ image: [Float], channels: Int, height: Int, width: Int, keep: [Float], generator: inout GaussianNoise) throws -> [Float] {
        var out = try Self.fill(image, channels: channels, height: height, width: width, keep: keep)
        addNoise(to: &out, channels: channels, keep: keep, generator: &generator)
        return out
    }

    /// Adds the imputer's noise to the imputed pixels of an already filled image.
    public func addNoise(to image: inout [Float], channels: Int, keep: [Float], generator: inout GaussianNoise) {
        guard noise != 0 else { return }
        let hw = keep.count
        for c in 0..<channels {
            for p in 0..<hw where keep[p] == 0 {
                image[c * hw + p] += noise * Float(generator.next())
            }
        }
    }

    /// Variable numbers for `order` (−1 elsewhere) and the half-bandwidth they give.
    private static func numbering(_ order: [Int], hw: Int, height: Int, width: Int, keep: [Float]) -> ([Int32], Int) {
        var index = [Int32](repeating: -1, count: hw)
        for (i, p) in order.enumerated() { index[p] = Int32(i) }
        var band = 0
        for (i, p) in order.enumerated() {
            let y = p / width, x = p % width
            for nb in neighbours {
                let yy = y + nb.dy, xx = x + nb.dx
                guard yy >= 0, yy < height, xx >= 0, xx < width else { continue }
                let j = Int(index[yy * width + xx])
                if j >= 0 { band = Swift.max(band, abs(j - i)) }
            }
        }
        return (index, band)
    }

    /// LAPACK `dpbsv` (upper band storage): solves A X = B in place for symmetric positive definite A.
    private static func solveSymmetricBanded(_ ab: inout [Double], n: Int, kd: Int, rhs: inout [Double], nrhs: Int) throws {
        _ = Runtime.threadCount // opens OpenBLAS and makes it single-threaded
        guard let dpbsv = OpenBLAS.functions.dpbsv else {
            throw CAMError(.unsupported, "this OpenBLAS has no LAPACK (dpbsv); install Debian's libopenblas0 (scripts/setup.sh does)")
        }
        var uplo = CChar(UInt8(ascii: "U"))
        var nn = Int32(n), kk = Int32(kd), nr = Int32(nrhs), ldab = Int32(kd + 1), ldb = Int32(n), info: Int32 = 0
        ab.withUnsafeMutableBufferPointer { a in
            rhs.withUnsafeMutableBufferPointer { b in
                dpbsv(&uplo, &nn, &kk, &nr, a.baseAddress!, &ldab, b.baseAddress!, &ldb, &info)
            }
        }
        guard info == 0 else {
            throw CAMError(.runtime, "ROAD imputer: LAPACK dpbsv failed (info \(info)) on a system of \(n) pixels")
        }
    }
}
