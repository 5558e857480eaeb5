/// Conversions from the 16-bit float formats ONNX stores (IEEE `FLOAT16`, Google `BFLOAT16`) to
/// `Float`. Both are exact: every 16-bit value has a float32 equal, including subnormals,
/// infinities and NaN payloads. Written out bit by bit rather than via `Float16` so it builds on
/// every platform (`Float16` is missing on macOS x86_64).
enum HalfPrecision {
    /// IEEE 754 binary16 bits → `Float`.
    @inline(__always)
    static func float(fromHalfBits h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x03FF)
        if exponent == 0x1F {
            // Infinity (mantissa 0) or NaN (payload kept in the top mantissa bits).
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent == 0 {
            // Zero or subnormal: mantissa × 2^-24, exactly representable in float32.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        // Normal: rebias the exponent from 15 to 127.
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }

    /// bfloat16 bits (the top half of a float32) → `Float`.
    @inline(__always)
    static func float(fromBFloat16Bits b: UInt16) -> Float {
        Float(bitPattern: UInt32(b) << 16)
    }
}
