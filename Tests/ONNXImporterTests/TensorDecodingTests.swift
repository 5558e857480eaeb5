// Compiled only where the importer module is importable: in the final package the plugin is
// loaded with dlopen, so the test target must depend on it (or a library of it) to run these.
#if canImport(ONNXFormat)
import CAMCore
import Foundation
import ONNXFormat
import Testing

/// Tensor decoding through hand-built `TensorProto`s: every supported data type in `raw_data`
/// and in its typed field, exact 16-bit float conversion, and every validation rule.
@Suite("Tensor decoding")
struct TensorDecodingTests {
    typealias B = ONNXProtoBuilder

    func decode(_ t: ProtoWriter) throws -> Tensor {
        try ONNXTensorFile.decode(data: t.data, source: "t.pb").tensor
    }

    func decode(dims: [Int64], type: Int64, _ data: B.TensorData) throws -> Tensor {
        try decode(B.tensor(name: "t", dims: dims, dataType: type, data: data))
    }

    func raw<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] { values.flatMap { littleEndianBytes($0) } }

    @Test("FLOAT from raw_data and float_data")
    func float() throws {
        let values: [Float] = [1.5, -2.25, .infinity, 0]
        let a = try decode(dims: [2, 2], type: 1, .raw(raw(values.map(\.bitPattern))))
        #expect(a.shape == [2, 2] && a.dtype == .float32 && a.toFloats() == values)
        let b = try decode(dims: [4], type: 1, .floats(values))
        #expect(b.toFloats() == values)
        let (name, _) = try ONNXTensorFile.decode(data: B.tensor(name: "weights", dims: [4], dataType: 1, data: .floats(values)).data, source: "x")
        #expect(name == "weights")
    }

    @Test("DOUBLE narrows to float32")
    func double() throws {
        let values: [Double] = [0.1, -1e300, 1e-50, 3]
        let expected = values.map { Float($0) }
        #expect(try decode(dims: [4], type: 11, .raw(raw(values.map(\.bitPattern)))).toFloats() == expected)
        #expect(try decode(dims: [4], type: 11, .doubles(values)).toFloats() == expected)
    }

    @Test("Integer types widen to int64", arguments: [
        (Int64(6), 4, [Int64(-2_147_483_648), 2_147_483_647, -1]),  // INT32
        (5, 2, [-32768, 32767, -1]),                                   // INT16
        (3, 1, [-128, 127, -1]),                                       // INT8
        (2, 1, [0, 255, 7]),                                           // UINT8
        (4, 2, [0, 65535, 7]),                                         // UINT16
    ])
    func integers(type: Int64, width: Int, values: [Int64]) throws {
        let bytes = values.flatMap { v -> [UInt8] in Array(littleEndianBytes(v).prefix(width)) }
        let a = try decode(dims: [3], type: type, .raw(bytes))
        #expect(a.dtype == .int64 && a.toInt64s() == values)
        let b = try decode(dims: [3], type: type, .int32s(values))
        #expect(b.toInt64s() == values)
    }

    @Test("INT64, UINT32 and UINT64")
    func wideIntegers() throws {
        let v: [Int64] = [Int64.min, Int64.max, -1]
        #expect(try decode(dims: [3], type: 7, .raw(raw(v))).toInt64s() == v)
        #expect(try decode(dims: [3], type: 7, .int64s(v)).toInt64s() == v)
        let u: [UInt32] = [0, UInt32.max, 5]
        #expect(try decode(dims: [3], type: 12, .raw(raw(u))).toInt64s() == u.map { Int64($0) })
        #expect(try decode(dims: [3], type: 12, .uint64s(u.map { UInt64($0) })).toInt64s() == u.map { Int64($0) })
        #expect(try decode(dims: [2], type: 13, .raw(raw([UInt64(Int64.max), 0]))).toInt64s() == [Int64.max, 0])
        let tooBig = expectCAMError { try decode(dims: [1], type: 13, .raw(raw([UInt64.max]))) }
        #expect(tooBig?.message.contains("does not fit int64") == true)
        let notUInt32 = expectCAMError { try decode(dims: [1], type: 12, .uint64s([UInt64(UInt32.max) + 1])) }
        #expect(notUInt32?.message.contains("uint64_data[0]") == true)
    }

    @Test("BOOL from raw_data and int32_data")
    func bool() throws {
        #expect(try decode(dims: [3], type: 9, .raw([1, 0, 1])).toInt64s() == [1, 0, 1])
        #expect(try decode(dims: [3], type: 9, .int32s([0, 1, 1])).toInt64s() == [0, 1, 1])
        let e = expectCAMError { try decode(dims: [2], type: 9, .raw([1, 2])) }
        #expect(e?.message.contains("expected 0 or 1") == true)
    }

    @Test("Scalars (dims []) hold one element; empty tensors hold none")
    func scalarsAndEmpty() throws {
        let s = try decode(dims: [], type: 1, .floats([7]))
        #expect(s.shape == [] && s.count == 1 && s.toFloats()[0] == 7)
        let r = try decode(dims: [], type: 7, .raw(raw([Int64(42)])))
        #expect(r.shape == [] && r.toInt64s()[0] == 42)
        let none = expectCAMError { try decode(dims: [], type: 1, .none) }
        #expect(none?.message.contains("has no data") == true)
        let empty = try decode(dims: [0, 3], type: 1, .none)
        #expect(empty.shape == [0, 3] && empty.count == 0)
    }

    #if !(os(macOS) && arch(x86_64))
    @Test("FLOAT16: all 65536 bit patterns match Swift's Float16 exactly")
    func float16Exhaustive() throws {
        let patterns = (0...UInt16.max).map { $0 }
        let fromRaw = try decode(dims: [65536], type: 10, .raw(raw(patterns)))
        let fromInt32 = try decode(dims: [65536], type: 10, .int32s(patterns.map { Int64($0) }))
        let rawValues = fromRaw.toFloats(), int32Values = fromInt32.toFloats()
        for (i, p) in patterns.enumerated() {
            let expected = Float(Float16(bitPattern: p))
            let a = rawValues[i], b = int32Values[i]
            if expected.isNaN {
                #expect(a.isNaN && b.isNaN && a.sign == expected.sign, "pattern \(p)")
            } else {
                #expect(a.bitPattern == expected.bitPattern && b.bitPattern == expected.bitPattern, "pattern \(p)")
            }
        }
    }
    #endif

    @Test("FLOAT16 and BFLOAT16 special values")
    func halfSpecials() throws {
        let h = try decode(dims: [8], type: 10, .raw(raw([UInt16(0x0001), 0x03FF, 0x0400, 0x3C00, 0x7C00, 0xFC00, 0x7E00, 0x8000])))
        #expect(h.toFloats()[0] == 0x1p-24)                     // smallest subnormal
        #expect(h.toFloats()[1] == Float(0x3FF) * 0x1p-24)      // largest subnormal
        #expect(h.toFloats()[2] == 0x1p-14)                     // smallest normal
        #expect(h.toFloats()[3] == 1)
        #expect(h.toFloats()[4] == .infinity && h.toFloats()[5] == -.infinity)
        #expect(h.toFloats()[6].isNaN)
        #expect(h.toFloats()[7] == 0 && h.toFloats()[7].sign == .minus)

        let b = try decode(dims: [6], type: 16, .raw(raw([UInt16(0x3F80), 0xC040, 0x7F80, 0x7FC0, 0x0001, 0x8000])))
        #expect(b.toFloats()[0] == 1 && b.toFloats()[1] == -3)
        #expect(b.toFloats()[2] == .infinity && b.toFloats()[3].isNaN)
        #expect(b.toFloats()[4] == Float(bitPattern: 0x0001_0000))  // subnormal
        #expect(b.toFloats()[5].sign == .minus)
        let typed = try decode(dims: [2], type: 16, .int32s([0x3F80, 0x4000]))
        #expect(typed.toFloats() == [1, 2])
        let e = expectCAMError { try decode(dims: [1], type: 10, .int32s([70000])) }
        #expect(e?.message.contains("not a 16-bit pattern") == true)
    }

    // MARK: Validation

    @Test("raw_data must have exactly count × element size bytes")
    func rawLength() throws {
        let short = expectCAMError { try decode(dims: [2, 3], type: 1, .raw([UInt8](repeating: 0, count: 20))) }
        #expect(short?.kind == .invalidModel)
        #expect(short?.message == "t.pb: tensor 't': raw_data has 20 bytes, expected 24 (6 FLOAT elements × 4 bytes for dims [2, 3])")
        let long = expectCAMError { try decode(dims: [2], type: 7, .raw([UInt8](repeating: 0, count: 17))) }
        #expect(long?.message.contains("raw_data has 17 bytes, expected 16") == true)
    }

    @Test("Typed fields must hold exactly count values, in the field for the type")
    func typedCount() throws {
        let e = expectCAMError { try decode(dims: [3], type: 1, .floats([1, 2])) }
        #expect(e?.message.contains("float_data has 2 values, expected 3") == true)
        let wrongField = expectCAMError { try decode(dims: [2], type: 1, .int64s([1, 2])) }
        #expect(wrongField?.message.contains("FLOAT but stores its values in int64_data; expected float_data or raw_data") == true)
        var both = B.tensor(name: "t", dims: [1], dataType: 1, data: .floats([1]))
        both.bytes(9, [0, 0, 128, 63])
        let twice = expectCAMError { try decode(both) }
        #expect(twice?.message.contains("both raw_data and float_data") == true)
        let range = expectCAMError { try decode(dims: [2], type: 3, .int32s([5, 200])) }
        #expect(range?.message.contains("int32_data[1] = 200 is out of range for INT8") == true)
    }

    @Test("Dimensions: negative, overflowing or over the element limit")
    func badDims() throws {
        let negative = expectCAMError { try decode(dims: [2, -3], type: 1, .raw([])) }
        #expect(negative?.message.contains("dimension 1 is negative (-3)") == true)
        let overflow = expectCAMError { try decode(dims: [1 << 40, 1 << 40], type: 1, .raw([0, 0, 0, 0])) }
        #expect(overflow?.message.contains("overflows") == true)
        let huge = expectCAMError { try decode(dims: [1 << 20, 1 << 20], type: 1, .raw([0, 0, 0, 0])) }
        #expect(huge?.message.contains("over the limit of 2147483648 elements") == true)
        var limits = ONNXLimits.default
        limits.maxTensorElements = 10
        let t = B.tensor(name: "t", dims: [11], dataType: 1, data: .floats(Array(repeating: 0, count: 11)))
        #expect(throws: CAMError.self) { try ONNXTensorFile.decode(data: t.data, source: "t.pb", limits: limits) }
        let rank = expectCAMError { try decode(dims: Array(repeating: 1, count: 65), type: 1, .floats([1])) }
        #expect(rank?.message.contains("65 dimensions") == true)
    }

    @Test("Unsupported and unknown data types")
    func badTypes() throws {
        let s = expectCAMError { try decode(dims: [1], type: 8, .none) }
        #expect(s?.kind == .unsupported)
        #expect(s?.message == "t.pb: tensor 't' is a STRING tensor; string tensors are not supported")
        let c = expectCAMError { try decode(dims: [1], type: 14, .raw([UInt8](repeating: 0, count: 8))) }
        #expect(c?.message.contains("COMPLEX64, which SwiftCAM cannot load") == true)
        let unknown = expectCAMError { try decode(dims: [1], type: 99, .raw([0])) }
        #expect(unknown?.message.contains("data_type 99, which is not an ONNX data type") == true)
        let missing = expectCAMError { try decode(dims: [1], type: 0, .raw([0])) }
        #expect(missing?.message.contains("has no data_type") == true)
    }

    @Test("Segments and odd data_location values are refused")
    func segmentsAndLocations() throws {
        var seg = B.tensor(name: "t", dims: [1], dataType: 1, data: .floats([1]))
        seg.message(3) { s in s.int(1, 0); s.int(2, 1) }
        // Field 8 (name) is present, so this is read as a (segmented) TensorProto.
        let e = expectCAMError { try decode(seg) }
        #expect(e?.message.contains("segments") == true)
        let loc = expectCAMError { try decode(B.tensor(name: "t", dims: [1], dataType: 1, data: .floats([1]), dataLocation: 5)) }
        #expect(loc?.message.contains("data_location 5") == true)
    }
}

#endif
