import CAMCore

/// One operator application of a graph (ONNX `NodeProto`).
///
/// `inputs` keeps empty strings: ONNX writes `""` for an optional input that is left out, so
/// position `i` always means the operator's `i`-th input. `domain` is normalised: the default
/// operator set is `""` whether the file says `""` or `"ai.onnx"`.
public struct ONNXNode: Sendable {
    /// Position of the node in `GraphProto.node`.
    public let index: Int
    /// `NodeProto.name`; may be empty (Paddle exports leave Constant nodes unnamed).
    public let name: String
    public let opType: String
    /// The operator domain; `""` for the default ONNX domain.
    public let domain: String
    /// Input value names; `""` marks an omitted optional input.
    public let inputs: [String]
    /// Output value names; `""` marks an omitted optional output.
    public let outputs: [String]
    /// Attributes by name.
    public let attributes: [String: ONNXAttribute]

    public init(index: Int, name: String, opType: String, domain: String, inputs: [String],
                outputs: [String], attributes: [String: ONNXAttribute]) {
        self.index = index
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    /// How errors name this node: `node '/conv1/Conv' (Conv)`, or `node #3 (Constant)` when unnamed.
    public var label: String {
        let op = domain.isEmpty ? opType : "\(domain).\(opType)"
        return name.isEmpty ? "node #\(index) (\(op))" : "node '\(name)' (\(op))"
    }

    /// True when the node belongs to the default ONNX operator set.
    public var isDefaultDomain: Bool { domain.isEmpty }

    // MARK: Typed attribute access

    /// The `INT` attribute `name`, or `nil` if absent; throws if it has another type.
    public func int(_ name: String) throws -> Int64? {
        guard let a = attributes[name] else { return nil }
        if case .int(let v) = a { return v }
        throw mismatch(name, a, expected: "INT")
    }

    /// The `FLOAT` attribute `name`, or `nil` if absent; throws if it has another type.
    public func float(_ name: String) throws -> Float? {
        guard let a = attributes[name] else { return nil }
        if case .float(let v) = a { return v }
        throw mismatch(name, a, expected: "FLOAT")
    }

    /// The `STRING` attribute `name`, or `nil` if absent; throws if it has another type.
    public func string(_ name: String) throws -> String? {
        guard let a = attributes[name] else { return nil }
        if case .string(let v) = a { return v }
        throw mismatch(name, a, expected: "STRING")
    }

    /// The `INTS` attribute `name`, or `nil` if absent; throws if it has another type.
    public func ints(_ name: String) throws -> [Int64]? {
        guard let a = attributes[name] else { return nil }
        if case .ints(let v) = a { return v }
        throw mismatch(name, a, expected: "INTS")
    }

    /// The `FLOATS` attribute `name`, or `nil` if absent; throws if it has another type.
    public func floats(_ name: String) throws -> [Float]? {
        guard let a = attributes[name] else { return nil }
        if case .floats(let v) = a { return v }
        throw mismatch(name, a, expected: "FLOATS")
    }

    /// The `STRINGS` attribute `name`, or `nil` if absent; throws if it has another type.
    public func strings(_ name: String) throws -> [String]? {
        guard let a = attributes[name] else { return nil }
        if case .strings(let v) = a { return v }
        throw mismatch(name, a, expected: "STRINGS")
    }

    /// The `TENSOR` attribute `name`, or `nil` if absent; throws if it has another type.
    public func tensor(_ name: String) throws -> Tensor? {
        guard let a = attributes[name] else { return nil }
        if case .tensor(let v) = a { return v }
        throw mismatch(name, a, expected: "TENSOR")
    }

    /// The names of this node's subgraph attributes (If/Loop/Scan bodies), in sorted order.
    public var subgraphAttributeNames: [String] {
        attributes.filter { $0.value.isSubgraph }.map(\.key).sorted()
    }

    private func mismatch(_ name: String, _ a: ONNXAttribute, expected: String) -> CAMError {
        CAMError(.invalidModel, "\(label): attribute '\(name)' is \(a.typeName), expected \(expected)")
    }
}
