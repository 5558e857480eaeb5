/// The model representation every loader produces and every method runs on.
///
/// Values are named tensors; nodes apply `Operator`s to them; constants (weights, folded
/// shape arithmetic) are stored tensors. A `Graph` knows nothing of ONNX or Keras: loaders
/// translate their formats into it, so CAM methods never see a file format.
public struct Graph: Sendable {
    /// What is known of a value before running: its name and, for graph inputs, its declared
    /// dtype and shape (`nil` dimensions are dynamic, e.g. the batch axis).
    public struct ValueInfo: Sendable {
        public var name: String
        public var dtype: DType?
        public var shape: [Int?]?

        public init(name: String, dtype: DType? = nil, shape: [Int?]? = nil) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
        }
    }

    /// How the first graph input lays out an image batch. Loaders of channels-last formats
    /// (Keras) set `.nhwc`; everything inside the graph is NCHW either way.
    public enum ImageLayout: String, Sendable { case nchw, nhwc }

    public var inputLayout: ImageLayout = .nchw
    public private(set) var values: [ValueInfo] = []
    public var nodes: [Node] = []
    public var inputs: [ValueID] = []
    public var outputs: [ValueID] = []
    public var constants: [ValueID: Tensor] = [:]
    private var idsByName: [String: ValueID] = [:]

    public init() {}

    /// Adds a value. Names must be unique; an empty name gets a generated one.
    @discardableResult
    public mutating func addValue(_ name: String, dtype: DType? = nil, shape: [Int?]? = nil) throws -> ValueID {
        let finalName = name.isEmpty ? "_v\(values.count)" : name
        if idsByName[finalName] != nil {
            throw CAMError(.invalidModel, "value '\(finalName)' is defined twice")
        }
        let id = ValueID(values.count)
        values.append(ValueInfo(name: finalName, dtype: dtype, shape: shape))
        idsByName[finalName] = id
        return id
    }

    /// Adds a value whose name is made unique by appending a counter if needed.
    public mutating func addFreshValue(_ hint: String) -> ValueID {
        var name = hint
        var k = 1
        while idsByName[name] != nil { name = "\(hint)_\(k)"; k += 1 }
        return try! addValue(name)
    }

    /// Adds a constant value holding `tensor`.
    public mutating func addConstant(_ hint: String, _ tensor: Tensor) -> ValueID {
        let id = addFreshValue(hint)
        constants[id] = tensor
        return id
    }

    public func id(named name: String) -> ValueID? { idsByName[name] }
    public func name(of id: ValueID) -> String { values[id.index].name }
    public var valueCount: Int { values.count }

    /// Sets the declared dtype and shape of a value (graph inputs).
    public mutating func declare(_ id: ValueID, dtype: DType?, shape: [Int?]?) {
        values[id.index].dtype = dtype
        values[id.index].shape = shape
    }

    /// Names of all values, in definition order.
    public var valueNames: [String] { values.map(\.name) }
}
