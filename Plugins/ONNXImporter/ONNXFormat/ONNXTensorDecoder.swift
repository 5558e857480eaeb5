import CAMCore
import ONNXProto

#if _endian(big)
#error("ONNXTensorDecoder copies little-endian raw_data directly; big-endian hosts are not supported")
#endif

/// Turns an unpacked `TensorProto` into a runtime `Tensor`. Shared by initializers, `TENSOR`
/// attributes (Constant values) and `.pb` tensor files.
///
/// Loaded types: `FLOAT`, `DOUBLE`, `FLOAT16`, `BFLOAT16` → `float32`; `INT64`, `INT32`,
/// `INT16`, `INT8`, `UINT8`, `UINT16`, `UINT32`, `UINT64` (values ≤ Int64.max) → `int64`;
/// `BOOL` → `bool`. Data may be in `raw_data` (little-endian), in the typed field ONNX assigns
/// to the type, or in an external file (see ``ONNXExternalData``).
///
/// Checked before any allocation: `data_type` is known and loadable; dims are non-negative,
/// their product does not overflow and stays within ``ONNXLimits/maxTensorElements``; exactly one
/// storage is used; `raw_data` holds exactly `count × element size` bytes; a typed field holds
/// exactly `count` values (a scalar, dims `[]`, has one); narrow integer types fit their range.
struct ONNXTensorDecoder {
    /// The file, prefixed to every error.
    let source: String
    let limits: ONNXLimits
    let externalData: ONNXExternalData

    /// Decodes `proto`. `label` names it in errors, e.g. `initializer 'fc.weight'`.
    func decode(_ proto: UnsafePointer<Onnx__TensorProto>, label: String) throws -> Tensor {
        let t = proto.pointee
        let what = "\(source): \(label)"

        if t.segment != nil {
            throw CAMError(.unsupported, "\(what) is stored in segments (TensorProto.segment); segmented tensors are not supported")
        }
        guard t.has_data_type != 0, t.data_type != 0 else {
            throw CAMError(.invalidModel, "\(what) has no data_type (it is missing or UNDEFINED)")
        }
        guard let type = ONNXElementType(rawValue: t.data_type) else {
            throw CAMError(.invalidModel, "\(what) has data_type \(t.data_type), which is not an ONNX data type")
        }

        // Shape: validated before anything is sized from it.
        let rawDims = cArray(t.dims, t.n_dims)
        guard rawDims.count <= limits.maxTensorRank else {
            throw CAMError(.invalidModel, "\(what) has \(rawDims.count) dimensions, over the limit of \(limits.maxTensorRank)")
        }
        var shape: [Int] = []
        shape.reserveCapacity(rawDims.count)
        var count = 1
        for (i, d) in rawDims.enumerated() {
            guard d >= 0 else {
                throw CAMError(.invalidModel, "\(what) has dims \(shapeText(rawDims)): dimension \(i) is negative (\(d)); expected ≥ 0")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: Int(d))
            guard !overflow else {
                throw CAMError(.invalidModel, "\(what) has dims \(shapeText(rawDims)), whose element count overflows a 64-bit integer")
            }
            count = product
            shape.append(Int(d))
        }
        guard count <= limits.maxTensorElements else {
            throw CAMError(.invalidModel, "\(what) has dims \(shapeText(rawDims)) = \(count) elements,"
                + " over the limit of \(limits.maxTensorElements) elements per tensor")
        }

        // Type support.
        if type == .string {
            throw CAMError(.unsupported, "\(what) is a STRING tensor; string tensors are not supported")
        }
        guard let elementSize = type.rawByteSize, let dtype = type.camDType else {
            throw CAMError(.unsupported, "\(what) has data type \(type), which SwiftCAM cannot load"
                + " (supported: FLOAT, DOUBLE, FLOAT16, BFLOAT16, INT8/16/32/64, UINT8/16/32/64, BOOL)")
        }
        let (byteCount, byteOverflow) = count.multipliedReportingOverflow(by: elementSize)
        guard !byteOverflow else {
            throw CAMError(.invalidModel, "\(what) has dims \(shapeText(rawDims)), whose byte size overflows a 64-bit integer")
        }

        // Which storage holds the data.
        var stores: [String] = []
        let raw = binaryBytes(t.raw_data)
        if t.has_raw_data != 0 && raw.count > 0 { stores.append("raw_data") }
        if t.n_float_data > 0 { stores.append("float_data") }
        if t.n_int32_data > 0 { stores.append("int32_data") }
        if t.n_int64_data > 0 { stores.append("int64_data") }
        if t.n_double_data > 0 { stores.append("double_data") }
        if t.n_uint64_data > 0 { stores.append("uint64_data") }
        if t.n_string_data > 0 { stores.append("string_data") }

        let location = t.has_data_location != 0 ? t.data_location.rawValue : 0
        guard location == 0 || location == 1 else {
            throw CAMError(.invalidModel, "\(what) has data_location \(location); expected DEFAULT (0) or EXTERNAL (1)")
        }
        if location == 1 || t.n_external_data > 0 {
            guard stores.isEmpty else {
                throw CAMError(.invalidModel, "\(what) has external data and also stores data in \(stores.joined(separator: ", ")); expected one or the other")
            }
            let entries = stringPairs(t.external_data, t.n_external_data)
            // The file must hold the bytes before the tensor is allocated.
            let region = try externalData.locate(entries, label: what, tensorName: cString(t.name), byteCount: byteCount)
            let tensor = Tensor(uninitialized: shape, dtype: dtype)
            if type.rawFormatMatches(dtype) {
                try region.read(into: tensor.buffer.raw)
            } else {
                let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: max(byteCount, 1), alignment: 16)
                defer { scratch.deallocate() }
                try region.read(into: scratch.baseAddress!)
                try Self.convertRaw(UnsafeRawBufferPointer(start: scratch.baseAddress, count: byteCount),
                                    type: type, into: tensor, what: what)
            }
            return tensor
        }

        guard stores.count <= 1 else {
            throw CAMError(.invalidModel, "\(what) stores data in both \(stores.joined(separator: " and ")); expected exactly one of them")
        }
        guard let store = stores.first else {
            if count == 0 { return Tensor(uninitialized: shape, dtype: dtype) }
            throw CAMError(.invalidModel, "\(what) (\(type), dims \(shapeText(shape))) has no data:"
                + " expected \(count) values in raw_data or \(type.typedFieldName)")
        }

        if store == "raw_data" {
            guard raw.count == byteCount else {
                throw CAMError(.invalidModel, "\(what): raw_data has \(raw.count) bytes, expected \(byteCount)"
                    + " (\(count) \(type) elements × \(elementSize) bytes for dims \(shapeText(shape)))")
            }
            let tensor = Tensor(uninitialized: shape, dtype: dtype)
            try Self.convertRaw(raw, type: type, into: tensor, what: what)
            return tensor
        }

        guard store == type.typedFieldName else {
            throw CAMError(.invalidModel, "\(what) is \(type) but stores its values in \(store); expected \(type.typedFieldName) or raw_data")
        }
        let found: Int
        switch store {
        case "float_data": found = t.n_float_data
        case "double_data": found = t.n_double_data
        case "int64_data": found = t.n_int64_data
        case "uint64_data": found = t.n_uint64_data
        default: found = t.n_int32_data
        }
        guard found == count else {
            throw CAMError(.invalidModel, "\(what): \(store) has \(found) values, expected \(count) for dims \(shapeText(shape))")
        }
        let tensor = Tensor(uninitialized: shape, dtype: dtype)
        switch type {
        case .float:
            let src = cArray(t.float_data, count)
            if count > 0 { tensor.buffer.raw.copyMemory(from: src.baseAddress!, byteCount: count * 4) }
        case .double:
            let src = cArray(t.double_data, count)
            let dst = tensor.mutableFloats
            for i in 0..<count { dst[i] = Float(src[i]) }
        case .int64:
            let src = cArray(t.int64_data, count)
            if count > 0 { tensor.buffer.raw.copyMemory(from: src.baseAddress!, byteCount: count * 8) }
        case .uint32, .uint64:
            let src = cArray(t.uint64_data, count)
            let limit: UInt64 = type == .uint32 ? UInt64(UInt32.max) : UInt64(Int64.max)
            let dst = tensor.mutableInt64s
            for i in 0..<count {
                guard src[i] <= limit else {
                    throw CAMError(type == .uint64 ? .unsupported : .invalidModel,
                                   "\(what): uint64_data[\(i)] = \(src[i]) does not fit \(type == .uint64 ? "int64, the type UINT64 tensors are loaded as" : "UINT32")")
                }
                dst[i] = Int64(src[i])
            }
        case .float16, .bfloat16:
            let src = cArray(t.int32_data, count)
            let dst = tensor.mutableFloats
            for i in 0..<count {
                let v = src[i]
                guard v >= 0, v <= 0xFFFF else {
                    throw CAMError(.invalidModel, "\(what): int32_data[\(i)] = \(v) is not a 16-bit pattern for \(type)")
                }
                dst[i] = type == .float16 ? HalfPrecision.float(fromHalfBits: UInt16(v))
                                          : HalfPrecision.float(fromBFloat16Bits: UInt16(v))
            }
        case .bool:
            let src = cArray(t.int32_data, count)
            let dst = tensor.mutableBools
            for i in 0..<count {
                guard src[i] == 0 || src[i] == 1 else {
                    throw CAMError(.invalidModel, "\(what): int32_data[\(i)] = \(src[i]) is not a BOOL value (0 or 1)")
                }
                dst[i] = UInt8(src[i])
            }
        default:  // INT32, INT16, INT8, UINT16, UINT8 in int32_data
            let range = type.int32DataRange
            let src = cArray(t.int32_data, count)
            let dst = tensor.mutableInt64s
            for i in 0..<count {
                guard range.contains(src[i]) else {
                    throw CAMError(.invalidModel, "\(what): int32_data[\(i)] = \(src[i]) is out of range for \(type) (\(range.lowerBound)...\(range.upperBound))")
                }
                dst[i] = Int64(src[i])
            }
        }
        return tensor
    }

    /// Converts exactly `tensor.count × element size` little-endian bytes into `tensor`.
    static func convertRaw(_ raw: UnsafeRawBufferPointer, type: ONNXElementType, into tensor: Tensor,
                           what: String) throws {
        let count = tensor.count
        guard count > 0, let base = raw.baseAddress else { return }
        switch type {
        case .float, .int64:
            tensor.buffer.raw.copyMemory(from: base, byteCount: raw.count)
        case .double:
            let dst = tensor.mutableFloats
            for i in 0..<count {
                dst[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))))
            }
        case .float16:
            let dst = tensor.mutableFloats
            for i in 0..<count {
                dst[i] = HalfPrecision.float(fromHalfBits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
            }
        case .bfloat16:
            let dst = tensor.mutableFloats
            for i in 0..<count {
                dst[i] = HalfPrecision.float(fromBFloat16Bits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
            }
        case .int32:
            let dst = tensor.mutableInt64s
            for i in 0..<count { dst[i] = Int64(raw.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)) }
        case .uint32:
            let dst = tensor.mutableInt64s
            for i in 0..<count { dst[i] = Int64(raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)) }
        case .int16:
            let dst = tensor.mutableInt64s
            for i in 0..<count { dst[i] = Int64(raw.loadUnaligned(fromByteOffset: i * 2, as: Int16.self)) }
        case .uint16:
            let dst = tensor.mutableInt64s
            for i in 0..<count { dst[i] = Int64(raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) }
        case .int8:
            let dst = tensor.mutableInt64s
            for i in 0..<count { dst[i] = Int64(Int8(bitPattern: raw[i])) }
        case .uint8:
            let dst = tensor.mutableInt64s
            for i in 0..<count { dst[i] = Int64(raw[i]) }
        case .uint64:
            let dst = tensor.mutableInt64s
            for i in 0..<count {
                let v = raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
                guard v <= UInt64(Int64.max) else {
                    throw CAMError(.unsupported, "\(what): element \(i) = \(v) does not fit int64, the type UINT64 tensors are loaded as")
                }
                dst[i] = Int64(v)
            }
        case .bool:
            let dst = tensor.mutableBools
            for i in 0..<count {
                guard raw[i] <= 1 else {
                    throw CAMError(.invalidModel, "\(what): byte \(i) of the BOOL data is \(raw[i]); expected 0 or 1")
                }
                dst[i] = raw[i]
            }
        default:
            throw CAMError(.unsupported, "\(what) has data type \(type), which SwiftCAM cannot load")
        }
    }
}

extension ONNXElementType {
    /// True when `raw_data` bytes are already the runtime layout of `dtype` (no conversion).
    func rawFormatMatches(_ dtype: DType) -> Bool {
        (self == .float && dtype == .float32) || (self == .int64 && dtype == .int64)
    }

    /// Values an `int32_data` entry may take for this type.
    var int32DataRange: ClosedRange<Int32> {
        switch self {
        case .int8: return Int32(Int8.min)...Int32(Int8.max)
        case .uint8: return 0...Int32(UInt8.max)
        case .int16: return Int32(Int16.min)...Int32(Int16.max)
        case .uint16: return 0...Int32(UInt16.max)
        default: return Int32.min...Int32.max
        }
    }
}
