/// The tensors of one evaluation of a graph, indexed by `ValueID`. Constants are read from
/// the graph; everything else is fed or computed.
public struct ValueStore: Sendable {
    var tensors: [Tensor?]

    public init(valueCount: Int) { tensors = [Tensor?](repeating: nil, count: valueCount) }

    public subscript(id: ValueID) -> Tensor? {
        get { id.index < tensors.count ? tensors[id.index] : nil }
        set {
            if id.index >= tensors.count { tensors += [Tensor?](repeating: nil, count: id.index + 1 - tensors.count) }
            tensors[id.index] = newValue
        }
    }
}
