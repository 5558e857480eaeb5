import CAMCore
import Testing
import TestSupport

/// ConvTranspose and Resize: forward against direct definitions, VJPs against finite differences.
@Suite("ConvTranspose and Resize")
struct ConvTransposeResizeTests {
    let check = GradientCheck()

    /// The transposed convolution by its definition: every input element scatters its kernel.
    static func naiveConvTranspose(_ x: Tensor, _ w: Tensor, strides s: [Int], dilations d: [Int], pads p: [Int], outputPadding o: [Int], group: Int) -> Tensor {
        let (n, cin, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (coutg, kh, kw) = (w.shape[1], w.shape[2], w.shape[3])
        let cout = coutg * group
        let oh = (h - 1) * s[0] + (kh - 1) * d[0] + 1 + o[0] - p[0] - p[2]
        let ow = (wd - 1) * s[1] + (kw - 1) * d[1] + 1 + o[1] - p[1] - p[3]
        var out = [Float](repeating: 0, count: n * cout * oh * ow)
        let cing = cin / group
        for b in 0..<n {
            for i in 0..<cin {
                let g = i / cing
                for y in 0..<h {
                    for xx in 0..<wd {
                        let v = x.floats[((b * cin + i) * h + y) * wd + xx]
                        for oc in 0..<coutg {
                            for ky in 0..<kh {
                                for kx in 0..<kw {
                                    let oy = y * s[0] - p[0] + ky * d[0], ox = xx * s[1] - p[1] + kx * d[1]
                                    guard oy >= 0, oy < oh, ox >= 0, ox < ow else { continue }
                                    let c = g * coutg + oc
                                    out[((b * cout + c) * oh + oy) * ow + ox] += v * w.floats[((i * coutg + oc) * kh + ky) * kw + kx]
                                }
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: [n, cout, oh, ow], floats: out)
    }

    struct TransposeCase: CustomStringConvertible, Sendable {
        var x: [Int], w: [Int], strides: [Int], dilations: [Int], pads: [Int], outputPadding: [Int], group: Int
        var description: String { "x\(x) w\(w) s\(strides) d\(dilations) p\(pads) o\(outputPadding) g\(group)" }
    }

    static let transposeCases = [
        TransposeCase(x: [2, 3, 4, 5], w: [3, 2, 3, 3], strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], outputPadding: [0, 0], group: 1),
        TransposeCase(x: [1, 2, 4, 3], w: [2, 3, 3, 3], strides: [2, 2], dilations: [1, 1], pads: [0, 0, 1, 1], outputPadding: [0, 0], group: 1),
        TransposeCase(x: [1, 2, 3, 4], w: [2, 2, 4, 4], strides: [2, 2], dilations: [1, 1], pads: [1, 1, 1, 1], outputPadding: [0, 0], group: 1),
        TransposeCase(x: [1, 2, 3, 3], w: [2, 2, 3, 2], strides: [2, 3], dilations: [1, 1], pads: [0, 0, 0, 0], outputPadding: [1, 2], group: 1),
        TransposeCase(x: [1, 2, 4, 4], w: [2, 1, 3, 3], strides: [1, 1], dilations: [2, 2], pads: [1, 0, 0, 1], outputPadding: [0, 0], group: 1),
        TransposeCase(x: [1, 4, 3, 3], w: [4, 3, 2, 2], strides: [2, 2], dilations: [1, 1], pads: [0, 0, 0, 0], outputPadding: [0, 0], group: 2),
    ]

    @Test(arguments: transposeCases)
    func convTransposeMatchesItsDefinition(_ c: TransposeCase) throws {
        var rng = SplitMix(seed: 21)
        let x = rng.tensor(c.x), w = rng.tensor(c.w), b = rng.tensor([c.w[1] * c.group])
        let op = ConvTranspose(strides: c.strides, dilations: c.dilations, pads: c.pads, outputPadding: c.outputPadding, group: c.group)
        let y = try op.forward([x, w, b])[0]
        let reference = Self.naiveConvTranspose(x, w, strides: c.strides, dilations: c.dilations, pads: c.pads, outputPadding: c.outputPadding, group: c.group)
        #expect(y.shape == reference.shape)
        let plane = reference.shape[2] * reference.shape[3]
        let withBias = Tensor(shape: reference.shape, floats: reference.toFloats().enumerated().map { $0.element + b.floats[($0.offset / plane) % reference.shape[1]] })
        #expect(Compare.maxAbs(y, withBias) <= 1e-5)
        #expect(try check.maxError(op, inputs: [x, w, b], check: [0]) < 1e-2)
    }

    @Test func convTransposeIn1D() throws {
        var rng = SplitMix(seed: 22)
        let x = rng.tensor([2, 3, 5]), w = rng.tensor([3, 2, 3])
        let op = ConvTranspose(strides: [2], pads: [1, 0], outputPadding: [1])
        let y = try op.forward([x, w])[0]
        #expect(y.shape == [2, 2, (5 - 1) * 2 + 3 + 1 - 1])
        // The same as the 2-D operator on a height-1 image.
        let y2 = try ConvTranspose(strides: [1, 2], pads: [0, 1, 0, 0], outputPadding: [0, 1])
            .forward([x.reshaped(to: [2, 3, 1, 5]), w.reshaped(to: [3, 2, 1, 3])])[0]
        #expect(Compare.maxAbs(y, y2.reshaped(to: y.shape)) <= 1e-6)
        #expect(try check.maxError(op, inputs: [x, w], check: [0]) < 1e-2)
    }

    @Test func convTransposeRefusesBadGeometry() {
        let x = Tensor(zeros: [1, 2, 3, 3]), w = Tensor(zeros: [2, 1, 3, 3])
        #expect(throws: CAMError.self) { try ConvTranspose(strides: [2, 2], outputPadding: [2, 0]).forward([x, w]) }
        #expect(throws: CAMError.self) { try ConvTranspose().forward([Tensor(zeros: [1, 3, 3, 3]), w]) }
        #expect(throws: CAMError.self) { try ConvTranspose(pads: [3, 3, 3, 3]).forward([x, w]) }
    }

    @Test func nearestAsymmetricFloorRepeats() throws {
        let x = Tensor(shape: [1, 1, 2, 3], floats: [1, 2, 3, 4, 5, 6])
        let y = try Resize(mode: .nearest, coordinateTransform: .asymmetric, nearestRounding: .floor, scales: [2, 3]).forward([x])[0]
        #expect(y.shape == [1, 1, 4, 9])
        #expect(Array(y.floats[0..<9]) == [1, 1, 1, 2, 2, 2, 3, 3, 3])
        #expect(Array(y.floats[18..<27]) == [4, 4, 4, 5, 5, 5, 6, 6, 6])
    }

    @Test func linearHalfPixelAndAlignCorners() throws {
        let x = Tensor(shape: [1, 1, 1, 3], floats: [0, 4, 8])
        // Half-pixel: output o samples (o + ½)/2 − ½, clamped: 0, 0.25, 0.75, 1.25, 1.75, 2(.25).
        let y = try Resize(mode: .linear, scales: [1, 2]).forward([x])[0]
        #expect(y.toFloats() == [0, 1, 3, 5, 7, 8])
        let a = try Resize(mode: .linear, coordinateTransform: .alignCorners, sizes: [1, 5]).forward([x])[0]
        #expect(a.toFloats() == [0, 2, 4, 6, 8])
        let s = try Resize(mode: .linear, coordinateTransform: .asymmetric, scales: [2]).forward([Tensor(shape: [1, 1, 3], floats: [0, 4, 8])])[0]
        #expect(s.toFloats() == [0, 2, 4, 6, 8, 8])
    }

    @Test(arguments: [
        Resize(mode: .linear, scales: [2, 3]),
        Resize(mode: .linear, coordinateTransform: .alignCorners, sizes: [5, 4]),
        Resize(mode: .linear, coordinateTransform: .asymmetric, scales: [1.5, 0.5]),
        Resize(mode: .nearest, coordinateTransform: .asymmetric, nearestRounding: .floor, scales: [2, 2]),
        Resize(mode: .nearest, scales: [3]),
    ])
    func resizeGradients(_ op: Resize) throws {
        var rng = SplitMix(seed: 23)
        let x = rng.tensor([2, 2, 3, 4])
        #expect(try check.maxError(op, inputs: [x], check: [0]) < 1e-2)
        let y = try op.forward([x])[0]
        #expect(try check.maxError(ResizeBackward(op), inputs: [rng.tensor(y.shape), x], check: [0]) < 1e-2)
    }
}
