import CAMCore

/// An ONNX element type: the values of `TensorProto.DataType`, used by tensors, graph inputs,
/// outputs and `value_info`.
///
/// The runtime stores three dtypes; ``camDType`` says which one a type is loaded as
/// (floating types → `float32`, integer types → `int64`, `BOOL` → `bool`), or `nil` when
/// SwiftCAM cannot load tensors of that type.
public enum ONNXElementType: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case undefined = 0
    case float = 1
    case uint8 = 2
    case int8 = 3
    case uint16 = 4
    case int16 = 5
    case int32 = 6
    case int64 = 7
    case string = 8
    case bool = 9
    case float16 = 10
    case double = 11
    case uint32 = 12
    case uint64 = 13
    case complex64 = 14
    case complex128 = 15
    case bfloat16 = 16
    case float8e4m3fn = 17
    case float8e4m3fnuz = 18
    case float8e5m2 = 19
    case float8e5m2fnuz = 20
    case uint4 = 21
    case int4 = 22
    case float4e2m1 = 23
    case float8e8m0 = 24
    case uint2 = 25
    case int2 = 26
    case float6e2m3 = 27
    case float6e3m2 = 28

    /// The name ONNX uses for the type (`FLOAT`, `INT64`, …), as in onnx.proto.
    public var description: String {
        switch self {
        case .undefined: return "UNDEFINED"
        case .float: return "FLOAT"
        case .uint8: return "UINT8"
        case .int8: return "INT8"
        case .uint16: return "UINT16"
        case .int16: return "INT16"
        case .int32: return "INT32"
        case .int64: return "INT64"
        case .string: return "STRING"
        case .bool: return "BOOL"
        case .float16: return "FLOAT16"
        case .double: return "DOUBLE"
        case .uint32: return "UINT32"
        case .uint64: return "UINT64"
        case .complex64: return "COMPLEX64"
        case .complex128: return "COMPLEX128"
        case .bfloat16: return "BFLOAT16"
        case .float8e4m3fn: return "FLOAT8E4M3FN"
        case .float8e4m3fnuz: return "FLOAT8E4M3FNUZ"
        case .float8e5m2: return "FLOAT8E5M2"
        case .float8e5m2fnuz: return "FLOAT8E5M2FNUZ"
        case .uint4: return "UINT4"
        case .int4: return "INT4"
        case .float4e2m1: return "FLOAT4E2M1"
        case .float8e8m0: return "FLOAT8E8M0"
        case .uint2: return "UINT2"
        case .int2: return "INT2"
        case .float6e2m3: return "FLOAT6E2M3"
        case .float6e3m2: return "FLOAT6E3M2"
        }
    }

    /// The runtime dtype tensors of this type are loaded as, or `nil` if they cannot be loaded.
    /// `UINT64` loads as `int64` when every value fits.
    public var camDType: DType? {
        switch self {
        case .float, .double, .float16, .bfloat16: return .float32
        case .int64, .int32, .int16, .int8, .uint8, .uint16, .uint32, .uint64: return .int64
        case .bool: return .bool
        default: return nil
        }
    }

    /// Bytes per element in `raw_data` (little-endian), or `nil` for types SwiftCAM cannot load.
    public var rawByteSize: Int? {
        switch self {
        case .bool, .int8, .uint8: return 1
        case .int16, .uint16, .float16, .bfloat16: return 2
        case .float, .int32, .uint32: return 4
        case .double, .int64, .uint64: return 8
        default: return nil
        }
    }

    /// The typed `TensorProto` field that holds values of this type when `raw_data` is not used.
    var typedFieldName: String {
        switch self {
        case .float: return "float_data"
        case .double: return "double_data"
        case .int64: return "int64_data"
        case .uint32, .uint64: return "uint64_data"
        case .string: return "string_data"
        default: return "int32_data"
        }
    }

    /// Describes a raw `data_type` code: the type's name, or "unknown data type N".
    static func describe(code: Int32) -> String {
        if let t = ONNXElementType(rawValue: code) { return "\(t) (\(code))" }
        return "unknown data type \(code)"
    }
}
