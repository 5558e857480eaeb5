// Compiled only where the importer module is importable: in the final package the plugin is
// loaded with dlopen, so the test target must depend on it (or a library of it) to run these.
#if canImport(ONNXFormat)
import Foundation

/// A minimal protobuf encoder for building small ONNX messages by hand in tests — valid ones,
/// and ones with exactly the defect a test needs.
struct ProtoWriter {
    var bytes: [UInt8] = []

    var data: Data { Data(bytes) }

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func key(_ field: Int, _ wireType: Int) { varint(UInt64(field << 3 | wireType)) }

    /// An `int32`/`int64`/enum field (negative values as 10-byte two's complement, as protobuf does).
    mutating func int(_ field: Int, _ value: Int64) {
        key(field, 0)
        varint(UInt64(bitPattern: value))
    }

    mutating func float(_ field: Int, _ value: Float) {
        key(field, 5)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func bytes(_ field: Int, _ payload: [UInt8]) {
        key(field, 2)
        varint(UInt64(payload.count))
        bytes.append(contentsOf: payload)
    }

    mutating func string(_ field: Int, _ s: String) { bytes(field, Array(s.utf8)) }

    mutating func message(_ field: Int, _ m: ProtoWriter) { bytes(field, m.bytes) }

    mutating func message(_ field: Int, _ build: (inout ProtoWriter) -> Void) {
        var m = ProtoWriter()
        build(&m)
        message(field, m)
    }

    mutating func packedVarints(_ field: Int, _ values: [Int64]) {
        var p = ProtoWriter()
        for v in values { p.varint(UInt64(bitPattern: v)) }
        bytes(field, p.bytes)
    }

    mutating func packedUVarints(_ field: Int, _ values: [UInt64]) {
        var p = ProtoWriter()
        for v in values { p.varint(v) }
        bytes(field, p.bytes)
    }

    mutating func packedFloats(_ field: Int, _ values: [Float]) {
        bytes(field, values.flatMap { littleEndianBytes($0.bitPattern) })
    }

    mutating func packedDoubles(_ field: Int, _ values: [Double]) {
        bytes(field, values.flatMap { littleEndianBytes($0.bitPattern) })
    }
}

func littleEndianBytes<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
    withUnsafeBytes(of: v.littleEndian) { Array($0) }
}

/// ONNX message builders on top of ``ProtoWriter``; field numbers from onnx.proto.
enum ONNXProtoBuilder {
    enum TensorData {
        case none
        case raw([UInt8])
        case floats([Float])
        case doubles([Double])
        case int32s([Int64])
        case int64s([Int64])
        case uint64s([UInt64])
        case external([(String, String)])
    }

    static func tensor(name: String, dims: [Int64], dataType: Int64, data: TensorData,
                       dataLocation: Int64? = nil) -> ProtoWriter {
        var t = ProtoWriter()
        for d in dims { t.int(1, d) }
        t.int(2, dataType)
        t.string(8, name)
        switch data {
        case .none: break
        case .raw(let b): t.bytes(9, b)
        case .floats(let v): t.packedFloats(4, v)
        case .doubles(let v): t.packedDoubles(10, v)
        case .int32s(let v): t.packedVarints(5, v)
        case .int64s(let v): t.packedVarints(7, v)
        case .uint64s(let v): t.packedUVarints(11, v)
        case .external(let entries):
            for (k, v) in entries {
                t.message(13) { e in
                    e.string(1, k)
                    e.string(2, v)
                }
            }
        }
        if let dataLocation { t.int(14, dataLocation) }
        return t
    }

    static func valueInfo(_ name: String, elemType: Int64, dims: [Any]) -> ProtoWriter {
        var v = ProtoWriter()
        v.string(1, name)
        v.message(2) { tp in
            tp.message(1) { tt in
                tt.int(1, elemType)
                tt.message(2) { shape in
                    for d in dims {
                        shape.message(1) { dim in
                            if let n = d as? Int { dim.int(1, Int64(n)) } else if let s = d as? String { dim.string(2, s) }
                        }
                    }
                }
            }
        }
        return v
    }

    static func node(_ opType: String, name: String = "", inputs: [String], outputs: [String],
                     attributes: [ProtoWriter] = [], domain: String? = nil) -> ProtoWriter {
        var n = ProtoWriter()
        for i in inputs { n.string(1, i) }
        for o in outputs { n.string(2, o) }
        if !name.isEmpty { n.string(3, name) }
        n.string(4, opType)
        for a in attributes { n.message(5, a) }
        if let domain { n.string(7, domain) }
        return n
    }

    static func attribute(_ name: String, type: Int64?, _ fill: (inout ProtoWriter) -> Void) -> ProtoWriter {
        var a = ProtoWriter()
        a.string(1, name)
        fill(&a)
        if let type { a.int(20, type) }
        return a
    }

    static func graph(name: String = "g", nodes: [ProtoWriter], initializers: [ProtoWriter] = [],
                      inputs: [ProtoWriter], outputs: [ProtoWriter], valueInfo: [ProtoWriter] = []) -> ProtoWriter {
        var g = ProtoWriter()
        for n in nodes { g.message(1, n) }
        g.string(2, name)
        for t in initializers { g.message(5, t) }
        for i in inputs { g.message(11, i) }
        for o in outputs { g.message(12, o) }
        for v in valueInfo { g.message(13, v) }
        return g
    }

    static func model(graph: ProtoWriter, irVersion: Int64? = 8, opsets: [(String, Int64)] = [("", 17)]) -> ProtoWriter {
        var m = ProtoWriter()
        if let irVersion { m.int(1, irVersion) }
        m.string(2, "tests")
        m.string(3, "1.0")
        m.message(7, graph)
        for (domain, version) in opsets {
            m.message(8) { o in
                o.string(1, domain)
                o.int(2, version)
            }
        }
        return m
    }

    /// A one-node model: `y = Identity(w)` with initializer `w` built from `tensor`.
    static func identityModel(initializer tensor: ProtoWriter) -> ProtoWriter {
        model(graph: graph(nodes: [node("Identity", name: "id", inputs: ["w"], outputs: ["y"])],
                           initializers: [tensor],
                           inputs: [],
                           outputs: [valueInfo("y", elemType: 1, dims: [])]))
    }
}

#endif
