import Testing
import CAMCore
import TestSupport

/// Every operator's VJP against central finite differences (float32; tolerance 1e-2 of the
/// gradient's scale with ε = 1e-2, inputs kept away from kinks).
@Suite("VJPs match finite differences")
struct GradientTests {
    let check = GradientCheck()

    @Test("unary functions", arguments: [
        UnaryFunction.relu, .leakyRelu(alpha: 0.1), .sigmoid, .hardSigmoid(alpha: 0.2, beta: 0.5), .hardSwish,
        .tanh, .exp, .neg, .abs, .erf, .gelu, .geluTanh, .softplus, .softsign, .elu(alpha: 1.0),
        .selu(alpha: 1.67326, gamma: 1.0507), .swish,
    ])
    func unary(_ f: UnaryFunction) throws {
        var rng = SplitMix(seed: 1)
        let x = rng.tensor([2, 3, 4], -2.5, 2.5, avoiding: [0, -3, 3, -2.5, 2.5])
        #expect(try check.maxError(Unary(f), inputs: [x], check: [0]) < 1e-2)
    }

    @Test("positive-domain unary functions", arguments: [UnaryFunction.log, .sqrt, .reciprocal])
    func positiveUnary(_ f: UnaryFunction) throws {
        var rng = SplitMix(seed: 2)
        let x = rng.tensor([3, 4], 0.5, 2)
        #expect(try check.maxError(Unary(f), inputs: [x], check: [0]) < 1e-2)
    }

    @Test("second derivatives of unary functions", arguments: [UnaryFunction.sigmoid, .tanh, .gelu, .geluTanh, .softplus, .swish, .exp, .erf, .hardSwish])
    func secondDerivative(_ f: UnaryFunction) throws {
        var rng = SplitMix(seed: 3)
        let g = rng.tensor([2, 5])
        let x = rng.tensor([2, 5], -2.5, 2.5, avoiding: [-3, 3])
        #expect(try check.maxError(UnaryDerivative(f, order: 1), inputs: [g, x], check: [0, 1]) < 1e-2)
    }

    @Test("broadcasting binary ops", arguments: [Binary.Kind.add, .sub, .mul, .div, .max, .min])
    func binary(_ kind: Binary.Kind) throws {
        var rng = SplitMix(seed: 4)
        let a = rng.tensor([2, 3, 4], 0.5, 2)
        let b = rng.tensor([3, 1], 0.6, 1.9, avoiding: Array(a.floats), gap: 0.03)
        #expect(try check.maxError(Binary(kind), inputs: [a, b], check: [0, 1]) < 1e-2)
    }

    @Test func pow() throws {
        var rng = SplitMix(seed: 5)
        #expect(try check.maxError(Binary(.pow), inputs: [rng.tensor([3, 4], 0.5, 2), rng.tensor([4], 0.5, 2.5)], check: [0, 1]) < 1e-2)
    }

    @Test func clip() throws {
        var rng = SplitMix(seed: 6)
        let x = rng.tensor([2, 3, 5], -1, 7, avoiding: [0, 6])
        #expect(try check.maxError(Clip(), inputs: [x, Tensor(scalar: 0), Tensor(scalar: 6)], check: [0]) < 1e-2)
    }

    @Test("convolution", arguments: [
        (Convolution(), [2, 3, 5, 5], [4, 3, 3, 3]),
        (Convolution(strides: [2, 2], padding: .explicit([1, 1, 1, 1])), [1, 2, 6, 7], [3, 2, 3, 3]),
        (Convolution(dilations: [2, 2], padding: .sameUpper), [1, 2, 7, 6], [2, 2, 3, 3]),
        (Convolution(strides: [2, 2], padding: .sameUpper, group: 4), [1, 4, 6, 6], [4, 1, 3, 3]),
        (Convolution(group: 2), [2, 4, 4, 4], [6, 2, 1, 1]),
        (Convolution(), [2, 3, 4, 4], [5, 3, 1, 1]),
        (Convolution(padding: .explicit([1, 2])), [2, 3, 7], [2, 3, 3]),
    ])
    func convolution(_ conv: Convolution, _ xShape: [Int], _ wShape: [Int]) throws {
        var rng = SplitMix(seed: 7)
        let x = rng.tensor(xShape), w = rng.tensor(wShape), b = rng.tensor([wShape[0]])
        #expect(try check.maxError(conv, inputs: [x, w, b], check: [0]) < 1e-2)
        // The backward's own VJP (transposed convolution) against finite differences too.
        let y = try conv.forward([x, w])[0]
        let g = rng.tensor(y.shape)
        #expect(try check.maxError(ConvBackwardData(conv), inputs: [g, w, x], check: [0]) < 1e-2)
    }

    @Test func maxPool() throws {
        var rng = SplitMix(seed: 8)
        // Distinct values so every window has a unique maximum.
        let n = 2 * 2 * 7 * 7
        let values = (0..<n).map { Float($0) * 0.37 }.shuffled(using: &rng)
        let x = Tensor(shape: [2, 2, 7, 7], floats: values)
        let pool = MaxPool(PoolWindow(kernel: [3, 3], strides: [2, 2], padding: .explicit([1, 1, 1, 1]), ceilMode: true))
        #expect(try check.maxError(pool, inputs: [x], check: [0]) < 1e-2)
        let y = try pool.forward([x])[0]
        #expect(try check.maxError(MaxPoolBackward(window: pool.window, transposed: false), inputs: [rng.tensor(y.shape), x], check: [0]) < 1e-2)
    }

    @Test func averagePool() throws {
        var rng = SplitMix(seed: 9)
        let x = rng.tensor([1, 2, 6, 5])
        for include in [false, true] {
            let pool = AveragePool(PoolWindow(kernel: [3, 2], strides: [2, 2], padding: .explicit([1, 0, 1, 1]), ceilMode: true), countIncludePad: include)
            #expect(try check.maxError(pool, inputs: [x], check: [0]) < 1e-2)
        }
    }

    @Test func globalPools() throws {
        var rng = SplitMix(seed: 10)
        // Well-separated values, so ±ε never changes which element is the maximum.
        let x = Tensor(shape: [2, 3, 4, 4], floats: (0..<96).map { Float($0) * 0.05 }.shuffled(using: &rng))
        #expect(try check.maxError(GlobalPool(.average), inputs: [x], check: [0]) < 1e-2)
        #expect(try check.maxError(GlobalPool(.max), inputs: [x], check: [0]) < 1e-2)
    }

    @Test func batchNormalization() throws {
        var rng = SplitMix(seed: 11)
        let x = rng.tensor([2, 3, 2, 2])
        let inputs = [x, rng.tensor([3]), rng.tensor([3]), rng.tensor([3]), rng.tensor([3], 0.5, 2)]
        #expect(try check.maxError(BatchNormalization(epsilon: 1e-3), inputs: inputs, check: [0]) < 1e-2)
    }

    @Test("gemm", arguments: [(false, false), (true, false), (false, true), (true, true)])
    func gemm(_ ta: Bool, _ tb: Bool) throws {
        var rng = SplitMix(seed: 12)
        let a = rng.tensor(ta ? [4, 3] : [3, 4]), b = rng.tensor(tb ? [5, 4] : [4, 5]), c = rng.tensor([5])
        #expect(try check.maxError(Gemm(alpha: 0.7, beta: 1.3, transA: ta, transB: tb), inputs: [a, b, c], check: [0, 1, 2]) < 1e-2)
    }

    @Test func matMul() throws {
        var rng = SplitMix(seed: 13)
        #expect(try check.maxError(MatMul(), inputs: [rng.tensor([2, 1, 3, 4]), rng.tensor([3, 4, 5])], check: [0, 1]) < 1e-2)
        #expect(try check.maxError(MatMul(), inputs: [rng.tensor([4]), rng.tensor([2, 4, 3])], check: [0, 1]) < 1e-2)
        let g = rng.tensor([2, 3, 3, 5]), a = rng.tensor([2, 1, 3, 4]), b = rng.tensor([3, 4, 5])
        #expect(try check.maxError(MatMulGradient(side: .left), inputs: [g, a, b], check: [0, 2]) < 1e-2)
        #expect(try check.maxError(MatMulGradient(side: .right), inputs: [g, a, b], check: [0, 1]) < 1e-2)
    }

    @Test func softmax() throws {
        var rng = SplitMix(seed: 14)
        let x = rng.tensor([2, 3, 4], -2, 2)
        for axis in [-1, 1] {
            #expect(try check.maxError(Softmax(axis: axis), inputs: [x], check: [0]) < 1e-2)
            #expect(try check.maxError(Softmax(axis: axis, log: true), inputs: [x], check: [0]) < 1e-2)
        }
    }

    @Test func reductions() throws {
        var rng = SplitMix(seed: 15)
        let x = rng.tensor([2, 3, 4])
        for keep in [true, false] {
            #expect(try check.maxError(Reduce(.sum, keepDims: keep), inputs: [x, int64s([1])], check: [0]) < 1e-2)
            #expect(try check.maxError(Reduce(.mean, keepDims: keep), inputs: [x, int64s([0, 2])], check: [0]) < 1e-2)
            #expect(try check.maxError(Reduce(.max, keepDims: keep), inputs: [x, int64s([-1])], check: [0]) < 1e-2)
        }
    }

    @Test func layoutOps() throws {
        var rng = SplitMix(seed: 16)
        let x = rng.tensor([2, 3, 4])
        #expect(try check.maxError(Transpose(perm: [2, 0, 1]), inputs: [x], check: [0]) < 1e-2)
        #expect(try check.maxError(Reshape(), inputs: [x, int64s([4, -1])], check: [0]) < 1e-2)
        #expect(try check.maxError(Flatten(axis: 2), inputs: [x], check: [0]) < 1e-2)
        #expect(try check.maxError(Unsqueeze(), inputs: [x, int64s([0, 3])], check: [0]) < 1e-2)
        #expect(try check.maxError(Squeeze(), inputs: [rng.tensor([2, 1, 3]), int64s([1])], check: [0]) < 1e-2)
        #expect(try check.maxError(Expand(), inputs: [rng.tensor([3, 1]), int64s([2, 3, 4])], check: [0]) < 1e-2)
        #expect(try check.maxError(Concat(axis: 1), inputs: [x, rng.tensor([2, 2, 4])], check: [0, 1]) < 1e-2)
        #expect(try check.maxError(Split(axis: 2, numOutputs: 2), inputs: [x, int64s([1, 3])], check: [0], outputIndex: 1, outputs: 2) < 1e-2)
        #expect(try check.maxError(Slice(), inputs: [x, int64s([3, 0]), int64s([0, 2]), int64s([2, 1]), int64s([-2, 1])], check: [0]) < 1e-2)
        #expect(try check.maxError(Gather(axis: 1), inputs: [x, int64s([2, 0, 2])], check: [0]) < 1e-2)
        #expect(try check.maxError(Where(), inputs: [Tensor(shape: [4], bools: [true, false, false, true]), x, rng.tensor([4])], check: [1, 2]) < 1e-2)
        #expect(try check.maxError(Cast(to: .float32), inputs: [x], check: [0]) < 1e-2)
        #expect(try check.maxError(Identity(), inputs: [x], check: [0]) < 1e-2)
    }

    @Test("pad", arguments: [Pad.Mode.constant, .reflect, .edge, .wrap])
    func pad(_ mode: Pad.Mode) throws {
        var rng = SplitMix(seed: 17)
        let x = rng.tensor([1, 2, 4, 5])
        #expect(try check.maxError(Pad(mode: mode), inputs: [x, int64s([0, 0, 2, 1, 0, 0, 1, -1]), Tensor(scalar: 0.5)], check: [0]) < 1e-2)
    }
}
