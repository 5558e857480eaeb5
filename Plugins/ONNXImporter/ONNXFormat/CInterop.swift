import ONNXProto

// Small, total helpers for reading protobuf-c structs: a NULL pointer reads as empty, never as a
// crash. protobuf-c always allocates what its counts say, so these only guard against NULL.

/// A C string as Swift `String` (invalid UTF-8 repaired with U+FFFD); `NULL` → `""`.
@inline(__always)
func cString(_ p: UnsafePointer<CChar>?) -> String {
    guard let p else { return "" }
    return String(cString: p)
}

/// `n` elements at `p` as a buffer; `NULL` → empty.
@inline(__always)
func cArray<T>(_ p: UnsafePointer<T>?, _ n: Int) -> UnsafeBufferPointer<T> {
    guard let p, n > 0 else { return UnsafeBufferPointer(start: nil, count: 0) }
    return UnsafeBufferPointer(start: p, count: n)
}

/// `n` elements at `p` as a buffer; `NULL` → empty.
@inline(__always)
func cArray<T>(_ p: UnsafeMutablePointer<T>?, _ n: Int) -> UnsafeBufferPointer<T> {
    cArray(UnsafePointer(p), n)
}

/// The bytes of a protobuf `bytes` field.
@inline(__always)
func binaryBytes(_ b: ProtobufCBinaryData) -> UnsafeRawBufferPointer {
    guard let p = b.data, b.len > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
    return UnsafeRawBufferPointer(start: p, count: b.len)
}

/// A protobuf `bytes` field decoded as UTF-8 (invalid bytes become U+FFFD).
@inline(__always)
func binaryString(_ b: ProtobufCBinaryData) -> String {
    String(decoding: binaryBytes(b), as: UTF8.self)
}

/// Key/value pairs of a repeated `StringStringEntryProto`, in file order.
func stringPairs(_ p: UnsafeMutablePointer<UnsafeMutablePointer<Onnx__StringStringEntryProto>?>?,
                 _ n: Int) -> [(key: String, value: String)] {
    cArray(p, n).compactMap { e in
        guard let e else { return nil }
        return (cString(e.pointee.key), cString(e.pointee.value))
    }
}

/// `[1, 3, 224]` → `"[1, 3, 224]"`, for messages.
func shapeText<S: Sequence>(_ dims: S) -> String where S.Element: BinaryInteger {
    "[" + dims.map { String($0) }.joined(separator: ", ") + "]"
}
