import Foundation

/// Reads and writes NumPy `.npy` files (format 1.0–3.0, C order, little-endian
/// float32 / float64 / int64 / int32 / uint8 / bool). Float64 and integer arrays are
/// converted to the runtime's dtypes on reading.
public enum NPY {
    /// Reads `path` into a tensor. Every header field is validated before anything is allocated.
    public static func read(_ path: String) throws -> Tensor {
        guard let data = FileContents.data(atPath: path) else {
            throw CAMError(.io, "\(path): cannot read file")
        }
        return try decode(data, source: path)
    }

    /// Decodes an in-memory `.npy` image; `source` names it in errors.
    public static func decode(_ data: Data, source: String) throws -> Tensor {
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1...5]) == Array("NUMPY".utf8) else {
            throw CAMError(.invalidInput, "\(source): not a .npy file (missing \\x93NUMPY magic)")
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw CAMError(.invalidInput, "\(source): truncated .npy header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw CAMError(.invalidInput, "\(source): unsupported .npy format version \(major)")
        }
        guard headerStart + headerLength <= bytes.count,
              let header = String(bytes: bytes[headerStart..<headerStart + headerLength], encoding: .utf8) else {
            throw CAMError(.invalidInput, "\(source): truncated or non-text .npy header")
        }
        let descr = try field("descr", in: header, source: source)
        let fortran = try field("fortran_order", in: header, source: source)
        let shapeText = try field("shape", in: header, source: source)
        guard fortran == "False" else {
            throw CAMError(.unsupported, "\(source): Fortran-ordered arrays are not supported; save with np.ascontiguousarray")
        }
        let shape = try parseShape(shapeText, source: source)
        var count = 1
        for d in shape {
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw CAMError(.invalidInput, "\(source): shape \(shape) overflows") }
            count = p
        }
        let kind = descr.trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
        let elementSize: Int
        switch kind {
        case "<f4", "<i4": elementSize = 4
        case "<f8", "<i8": elementSize = 8
        case "|u1", "|b1", "<u1", "|i1": elementSize = 1
        default:
            throw CAMError(.unsupported, "\(source): dtype \(kind) is not supported (expected float32, float64, int64, int32, uint8 or bool, little-endian)")
        }
        let payload = headerStart + headerLength
        let (needed, overflow) = count.multipliedReportingOverflow(by: elementSize)
        guard !overflow, bytes.count - payload >= needed else {
            throw CAMError(.invalidInput, "\(source): holds \(bytes.count - payload) data bytes, shape \(shape) of \(kind) needs \(needed)")
        }
        return bytes.withUnsafeBytes { raw -> Tensor in
            let base = raw.baseAddress! + payload
            switch kind {
            case "<f4":
                let t = Tensor(uninitialized: shape, dtype: .float32)
                t.buffer.raw.copyMemory(from: base, byteCount: count * 4)
                return t
            case "<f8":
                let t = Tensor(uninitialized: shape, dtype: .float32)
                let out = t.mutableFloats
                for i in 0..<count { out[i] = Float(base.loadUnaligned(fromByteOffset: i * 8, as: Double.self)) }
                return t
            case "<i8":
                let t = Tensor(uninitialized: shape, dtype: .int64)
                t.buffer.raw.copyMemory(from: base, byteCount: count * 8)
                return t
            case "<i4":
                let t = Tensor(uninitialized: shape, dtype: .int64)
                let out = t.mutableInt64s
                for i in 0..<count { out[i] = Int64(base.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)) }
                return t
            case "|b1":
                let t = Tensor(uninitialized: shape, dtype: .bool)
                t.buffer.raw.copyMemory(from: base, byteCount: count)
                return t
            case "|i1":
                let t = Tensor(uninitialized: shape, dtype: .float32)
                let out = t.mutableFloats
                for i in 0..<count { out[i] = Float(base.load(fromByteOffset: i, as: Int8.self)) }
                return t
            default: // uint8 → float32 holding 0…255
                let t = Tensor(uninitialized: shape, dtype: .float32)
                let out = t.mutableFloats
                for i in 0..<count { out[i] = Float(base.load(fromByteOffset: i, as: UInt8.self)) }
                return t
            }
        }
    }

    /// Encodes a tensor as `.npy` bytes (float32 → `<f4`, int64 → `<i8`, bool → `|b1`).
    public static func encode(_ tensor: Tensor) -> Data {
        let descr: String
        switch tensor.dtype {
        case .float32: descr = "<f4"
        case .int64: descr = "<i8"
        case .bool: descr = "|b1"
        }
        return encode(raw: UnsafeRawBufferPointer(start: tensor.buffer.raw, count: tensor.count * tensor.dtype.size),
                      descr: descr, shape: tensor.shape)
    }

    /// Encodes uint8 data (images) as a `|u1` array.
    public static func encode(uint8 values: [UInt8], shape: [Int]) -> Data {
        values.withUnsafeBytes { encode(raw: $0, descr: "|u1", shape: shape) }
    }

    private static func encode(raw: UnsafeRawBufferPointer, descr: String, shape: [Int]) -> Data {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let n = header.utf8.count
        data.append(contentsOf: [UInt8(n & 0xff), UInt8(n >> 8)])
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: raw)
        return data
    }

    /// Writes `tensor` to `path` atomically (a temporary file renamed into place).
    public static func write(_ tensor: Tensor, to path: String) throws {
        try AtomicFile.write(encode(tensor), to: path)
    }

    private static func field(_ key: String, in header: String, source: String) throws -> String {
        guard let keyRange = header.range(of: "'\(key)'") ?? header.range(of: "\"\(key)\"") else {
            throw CAMError(.invalidInput, "\(source): .npy header has no '\(key)'")
        }
        var rest = header[keyRange.upperBound...].drop { $0 == " " || $0 == ":" }
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else {
                throw CAMError(.invalidInput, "\(source): unterminated shape in .npy header")
            }
            return String(rest[...close])
        }
        let end = rest.firstIndex(of: ",") ?? rest.firstIndex(of: "}") ?? rest.endIndex
        rest = rest[..<end]
        return rest.trimmingCharacters(in: .whitespaces)
    }

    private static func parseShape(_ text: String, source: String) throws -> [Int] {
        let inner = text.dropFirst().dropLast()
        var shape: [Int] = []
        for part in inner.split(separator: ",") {
            let s = part.trimmingCharacters(in: .whitespaces)
            if s.isEmpty { continue }
            guard let v = Int(s.hasSuffix("L") ? String(s.dropLast()) : s), v >= 0 else {
                throw CAMError(.invalidInput, "\(source): bad dimension '\(s)' in .npy shape \(text)")
            }
            shape.append(v)
        }
        return shape
    }
}
