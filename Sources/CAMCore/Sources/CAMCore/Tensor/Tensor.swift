/// A dense, contiguous, row-major tensor (NCHW for images) of `float32`, `int64` or `bool`.
///
/// Tensors are values: a kernel writes its output once, then it is shared read-only, so
/// `reshaped(to:)` costs no copy.
///
/// ```swift
/// let x = Tensor(shape: [1, 3, 2, 2], floats: Array(repeating: 0.5, count: 12))
/// let flat = x.reshaped(to: [1, 12])
/// ```
public struct Tensor: @unchecked Sendable {
    public let shape: [Int]
    public let dtype: DType
    public let buffer: TensorBuffer

    /// Number of elements (1 for a scalar of shape `[]`).
    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }

    /// Wraps an existing buffer; `buffer` must hold at least `count * dtype.size` bytes.
    public init(shape: [Int], dtype: DType, buffer: TensorBuffer) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(buffer.byteCount >= shape.reduce(1, *) * dtype.size, "buffer too small for \(shape)")
        self.shape = shape
        self.dtype = dtype
        self.buffer = buffer
    }

    /// A new, uninitialised tensor. Kernels fill it before anyone else sees it.
    public init(uninitialized shape: [Int], dtype: DType = .float32) {
        self.init(shape: shape, dtype: dtype, buffer: TensorBuffer(byteCount: shape.reduce(1, *) * dtype.size))
    }

    /// A new tensor of zeros.
    public init(zeros shape: [Int], dtype: DType = .float32) {
        self.init(shape: shape, dtype: dtype, buffer: TensorBuffer(byteCount: shape.reduce(1, *) * dtype.size, zeroed: true))
    }

    public init(shape: [Int], floats: [Float]) {
        precondition(shape.reduce(1, *) == floats.count, "shape \(shape) does not hold \(floats.count) values")
        self.init(uninitialized: shape, dtype: .float32)
        floats.withUnsafeBufferPointer { src in
            buffer.raw.copyMemory(from: src.baseAddress!, byteCount: floats.count * 4)
        }
    }

    public init(shape: [Int], int64s: [Int64]) {
        precondition(shape.reduce(1, *) == int64s.count, "shape \(shape) does not hold \(int64s.count) values")
        self.init(uninitialized: shape, dtype: .int64)
        int64s.withUnsafeBufferPointer { src in
            buffer.raw.copyMemory(from: src.baseAddress!, byteCount: int64s.count * 8)
        }
    }

    public init(shape: [Int], bools: [Bool]) {
        precondition(shape.reduce(1, *) == bools.count, "shape \(shape) does not hold \(bools.count) values")
        self.init(uninitialized: shape, dtype: .bool)
        let p = buffer.raw.assumingMemoryBound(to: UInt8.self)
        for (i, b) in bools.enumerated() { p[i] = b ? 1 : 0 }
    }

    /// A float32 scalar of shape `[]`.
    public init(scalar: Float) { self.init(shape: [], floats: [scalar]) }

    /// A tensor of `shape` filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(uninitialized: shape, dtype: .float32)
        mutableFloats.update(repeating: value)
    }

    // MARK: Element access

    /// The elements as float32, in place. Only valid for `dtype == .float32`, and only while
    /// this tensor (or another sharing its buffer) is alive: keep a reference while reading
    /// (`withExtendedLifetime`), or copy with `toFloats()` — never read through the pointer of
    /// a temporary such as `t.batchItem(0).floats`.
    public var floats: UnsafeBufferPointer<Float> {
        precondition(dtype == .float32, "tensor is \(dtype), not float32")
        return UnsafeBufferPointer(start: buffer.raw.assumingMemoryBound(to: Float.self), count: count)
    }

    /// Writable float32 elements, for the kernel that creates this tensor.
    public var mutableFloats: UnsafeMutableBufferPointer<Float> {
        precondition(dtype == .float32, "tensor is \(dtype), not float32")
        return UnsafeMutableBufferPointer(start: buffer.raw.assumingMemoryBound(to: Float.self), count: count)
    }

    public var int64s: UnsafeBufferPointer<Int64> {
        precondition(dtype == .int64, "tensor is \(dtype), not int64")
        return UnsafeBufferPointer(start: buffer.raw.assumingMemoryBound(to: Int64.self), count: count)
    }

    public var mutableInt64s: UnsafeMutableBufferPointer<Int64> {
        precondition(dtype == .int64, "tensor is \(dtype), not int64")
        return UnsafeMutableBufferPointer(start: buffer.raw.assumingMemoryBound(to: Int64.self), count: count)
    }

    public var bools: UnsafeBufferPointer<UInt8> {
        precondition(dtype == .bool, "tensor is \(dtype), not bool")
        return UnsafeBufferPointer(start: buffer.raw.assumingMemoryBound(to: UInt8.self), count: count)
    }

    public var mutableBools: UnsafeMutableBufferPointer<UInt8> {
        precondition(dtype == .bool, "tensor is \(dtype), not bool")
        return UnsafeMutableBufferPointer(start: buffer.raw.assumingMemoryBound(to: UInt8.self), count: count)
    }

    /// Copies the elements out as `[Float]` (int64 and bool are converted).
    public func toFloats() -> [Float] {
        switch dtype {
        case .float32: return Array(floats)
        case .int64: return int64s.map { Float($0) }
        case .bool: return bools.map { $0 != 0 ? 1 : 0 }
        }
    }

    /// Copies the elements out as `[Int64]` (floats are truncated toward zero).
    public func toInt64s() -> [Int64] {
        switch dtype {
        case .float32: return floats.map { Int64($0) }
        case .int64: return Array(int64s)
        case .bool: return bools.map { Int64($0) }
        }
    }

    /// The same elements under another shape with the same element count; shares the buffer.
    public func reshaped(to newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        return Tensor(shape: newShape, dtype: dtype, buffer: buffer)
    }

    /// A deep copy with its own buffer.
    public func copy() -> Tensor {
        let out = Tensor(uninitialized: shape, dtype: dtype)
        out.buffer.raw.copyMemory(from: buffer.raw, byteCount: count * dtype.size)
        return out
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String { "Tensor<\(dtype)>\(shape)" }
}
