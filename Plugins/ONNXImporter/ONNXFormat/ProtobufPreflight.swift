import CAMCore
import ONNXProto

/// A scan of the protobuf wire format that runs before protobuf-c unpacks anything.
///
/// protobuf-c trusts the file in two ways that matter for hostile or corrupt input: it parses
/// nested messages by recursion (a few kilobytes of nesting can overflow the stack), and it
/// allocates a C struct for every message it meets (a file of empty sub-messages can make it
/// allocate ~50× its size). This scan walks the same messages with the generated descriptors,
/// without allocating, and checks:
///
/// - every field's framing is intact (varints end, lengths stay inside their message),
/// - message nesting stays within ``ONNXLimits/maxNestingDepth``,
/// - the number of `NodeProto`s stays within ``ONNXLimits/maxNodes``,
/// - an upper estimate of what protobuf-c will allocate stays within
///   ``ONNXLimits/maxUnpackedBytes``.
///
/// It does not judge field contents; protobuf-c and the converters do that.
struct ProtobufPreflight {
    /// What the scan learnt about the file.
    struct Summary {
        var estimatedUnpackedBytes = 0
        var nodeCount = 0
        var deepestNesting = 0
    }

    let limits: ONNXLimits
    /// How errors start, e.g. "model.onnx is not a valid ONNX model".
    let failureHeadline: String
    /// The file, for limit errors.
    let source: String
    private(set) var summary = Summary()
    private let nodeDescriptor = onnx_support_node_descriptor()

    init(limits: ONNXLimits, source: String, failureHeadline: String) {
        self.limits = limits
        self.source = source
        self.failureHeadline = failureHeadline
    }

    /// Scans `bytes` as one message of type `descriptor`.
    mutating func scan(_ bytes: UnsafeRawBufferPointer,
                       as descriptor: UnsafePointer<ProtobufCMessageDescriptor>) throws {
        try scanMessage(bytes, from: 0, to: bytes.count, descriptor: descriptor, depth: 1)
        guard summary.estimatedUnpackedBytes <= limits.maxUnpackedBytes else {
            throw CAMError(.invalidModel, "\(source): unpacking it would take about \(summary.estimatedUnpackedBytes) bytes"
                + " of memory, over the limit of \(limits.maxUnpackedBytes) bytes")
        }
    }

    // Per-allocation overhead assumed for malloc bookkeeping.
    private static let allocationOverhead = 16
    // protobuf-c's record of one unknown field (tag, wire type, length, pointer).
    private static let unknownFieldRecord = 32

    private mutating func scanMessage(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int,
                                      descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
                                      depth: Int) throws {
        guard depth <= limits.maxNestingDepth else {
            throw CAMError(.invalidModel, "\(source): protobuf messages are nested more than \(limits.maxNestingDepth) deep"
                + " (at byte \(start)); refusing to parse it")
        }
        summary.deepestNesting = max(summary.deepestNesting, depth)
        summary.estimatedUnpackedBytes &+= descriptor.pointee.sizeof_message + Self.allocationOverhead
        if descriptor == nodeDescriptor {
            summary.nodeCount += 1
            if summary.nodeCount > limits.maxNodes {
                throw CAMError(.invalidModel, "\(source) has more than \(limits.maxNodes) nodes, over the node limit")
            }
        }
        if summary.estimatedUnpackedBytes > limits.maxUnpackedBytes {
            throw CAMError(.invalidModel, "\(source): unpacking it would take more than \(limits.maxUnpackedBytes) bytes"
                + " of memory, over the limit")
        }

        var pos = start
        while pos < end {
            let fieldStart = pos
            guard let key = Self.varint(bytes, &pos, end: end), key <= UInt64(UInt32.max) else {
                throw malformed("a field key at byte \(fieldStart) is cut off or too long")
            }
            let fieldNumber = UInt32(key >> 3)
            let wireType = Int(key & 7)
            guard fieldNumber != 0 else {
                throw malformed("field number 0 at byte \(fieldStart)")
            }
            let field = protobuf_c_message_descriptor_get_field(descriptor, fieldNumber)
            let repeated = field.map { $0.pointee.label == PROTOBUF_C_LABEL_REPEATED } ?? false
            switch wireType {
            case 0:
                guard Self.varint(bytes, &pos, end: end) != nil else {
                    throw malformed("the varint of field \(fieldNumber) at byte \(fieldStart) is cut off")
                }
                summary.estimatedUnpackedBytes &+= field == nil ? Self.unknownFieldRecord + 10 : (repeated ? 8 : 0)
            case 1, 5:
                let width = wireType == 1 ? 8 : 4
                guard end - pos >= width else {
                    throw malformed("field \(fieldNumber) at byte \(fieldStart) is cut off")
                }
                pos += width
                summary.estimatedUnpackedBytes &+= field == nil ? Self.unknownFieldRecord + width : (repeated ? width : 0)
            case 2:
                guard let length = Self.varint(bytes, &pos, end: end), length <= UInt64(end - pos) else {
                    throw malformed("field \(fieldNumber) at byte \(fieldStart) says it is longer than what is left of its message")
                }
                let n = Int(length)
                let payloadStart = pos
                pos += n
                guard let field else {
                    summary.estimatedUnpackedBytes &+= Self.unknownFieldRecord + n
                    continue
                }
                switch field.pointee.type {
                case PROTOBUF_C_TYPE_MESSAGE:
                    guard let sub = field.pointee.descriptor else { continue }
                    if repeated { summary.estimatedUnpackedBytes &+= 8 }
                    try scanMessage(bytes, from: payloadStart, to: payloadStart + n,
                                    descriptor: sub.assumingMemoryBound(to: ProtobufCMessageDescriptor.self),
                                    depth: depth + 1)
                case PROTOBUF_C_TYPE_STRING, PROTOBUF_C_TYPE_BYTES:
                    summary.estimatedUnpackedBytes &+= n + 1 + Self.allocationOverhead + (repeated ? 16 : 0)
                default:
                    // A packed repeated scalar: at most one element per byte, 8 bytes each.
                    if repeated { summary.estimatedUnpackedBytes &+= n &* 8 }
                }
            default:
                // Groups (3, 4) are not used by ONNX; 6 and 7 do not exist.
                throw malformed("field \(fieldNumber) at byte \(fieldStart) has wire type \(wireType), which ONNX files never use")
            }
        }
    }

    private func malformed(_ detail: String) -> CAMError {
        CAMError(.invalidModel, "\(failureHeadline) (protobuf parse failed: \(detail))")
    }

    /// Reads a base-128 varint at `pos`, or `nil` if it runs past `end` or over 10 bytes.
    @inline(__always)
    static func varint(_ bytes: UnsafeRawBufferPointer, _ pos: inout Int, end: Int) -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while pos < end, shift < 70 {
            let b = bytes[pos]
            pos += 1
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
        }
        return nil
    }

    /// One top-level field as seen on the wire.
    struct WireField {
        let number: UInt64
        let wireType: Int
        /// The payload of a length-delimited field.
        let payload: Range<Int>?
    }

    /// The top-level fields of a message whose framing ``scan(_:as:)`` has already checked.
    static func topLevelFields(_ bytes: UnsafeRawBufferPointer) -> [WireField] {
        var fields: [WireField] = []
        var pos = 0
        let end = bytes.count
        while pos < end {
            guard let key = varint(bytes, &pos, end: end) else { break }
            let wireType = Int(key & 7)
            switch wireType {
            case 0:
                guard varint(bytes, &pos, end: end) != nil else { return fields }
                fields.append(WireField(number: key >> 3, wireType: 0, payload: nil))
            case 1, 5:
                pos += wireType == 1 ? 8 : 4
                fields.append(WireField(number: key >> 3, wireType: wireType, payload: nil))
            case 2:
                guard let n = varint(bytes, &pos, end: end), n <= UInt64(end - pos) else { return fields }
                fields.append(WireField(number: key >> 3, wireType: 2, payload: pos..<(pos + Int(n))))
                pos += Int(n)
            default:
                return fields
            }
        }
        return fields
    }
}
