/// How a convolution over large planes is cut into bands of whole output rows, the tasks its
/// threads share: bands of about `rowsWanted` rows (what keeps a band's working set in cache),
/// except that for a batch too small to keep every thread busy there are as many bands as make
/// the threads' shares equal (ResNet-18's 28 × 28 layers at batch 1: 4 bands of 7 rows, not
/// 13, 13 and 2).
struct RowBands {
    /// Output rows per band (the last band of an image may have fewer).
    let rows: Int
    /// Bands per image.
    let perImage: Int

    init(outHeight: Int, batch: Int, rowsWanted: Int) {
        var rows = Swift.max(1, Swift.min(outHeight, rowsWanted))
        let threads = Runtime.threadCount
        if threads > 1 && batch < threads {
            let bands = (outHeight + rows - 1) / rows
            let balanced = (batch * bands + threads - 1) / threads * threads / batch
            rows = Swift.max(1, (outHeight + balanced - 1) / balanced)
        }
        (self.rows, perImage) = (rows, (outHeight + rows - 1) / rows)
    }

    /// The output rows of band `band` of an image of `outHeight` rows.
    func outputRows(_ band: Int, outHeight: Int) -> Range<Int> {
        band * rows ..< Swift.min(outHeight, (band + 1) * rows)
    }
}
