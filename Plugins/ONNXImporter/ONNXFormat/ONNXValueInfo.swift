/// A named, typed value of a graph: an entry of `GraphProto.input`, `.output` or `.value_info`.
///
/// ```swift
/// let input = model.graph.realInputs[0]           // "input": tensor(FLOAT)[batch, 3, 224, 224]
/// let dims = input.type.tensorShape?.map(\.value) // [nil, 3, 224, 224]
/// ```
public struct ONNXValueInfo: Sendable, Equatable, CustomStringConvertible {
    public let name: String
    public let type: ONNXValueType

    public init(name: String, type: ONNXValueType) {
        self.name = name
        self.type = type
    }

    public var description: String { "'\(name)': \(type)" }
}
