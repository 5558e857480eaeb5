/// `Shape(q)` (or of k, or of v) when attention reads q, k and v in place (`PackedQKV`), so
/// that q itself is never made: timm's attention reads q's shape for its scale (its last
/// dimension, the head size). Inputs `(x, split sizes?)`, the packed tensor's.
public struct PieceShape: Operator {
    public let packed: PackedQKV
    /// 0 for q, 1 for k, 2 for v.
    public let piece: Int
    /// The `Shape` node it replaces, for its start and end.
    public let shape: ShapeOf

    public init(packed: PackedQKV, piece: Int, shape: ShapeOf) {
        self.packed = packed
        self.piece = piece
        self.shape = shape
    }
    public var name: String { "Shape" }
    public func isDifferentiable(input index: Int) -> Bool { false }

    public func forward(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard let x = inputs.first ?? nil else { throw CAMError(.invalidModel, "Shape needs the packed q, k and v") }
        return [shape.selected(from: try packed.shape(ofPiece: piece, in: x, sizes: inputs.count > 1 ? inputs[1] : nil))]
    }
}
