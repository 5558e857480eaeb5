import CAMCore
import Testing
import TestSupport

/// The operators detector heads add (TopK, GatherElements, ArgMax, NonMaxSuppression) and
/// Resize's ONNX form (cubic, crop-and-resize, parameters as inputs): forward on known
/// answers, VJPs against finite differences. ONNX's conformance tests check the rest.
@Suite("Selection operators and Resize's ONNX form")
struct SelectionResizeTests {
    let check = GradientCheck()

    @Test(arguments: [
        Resize(mode: .cubic, scales: [2, 1.5]),
        Resize(mode: .cubic, coordinateTransform: .alignCorners, sizes: [5, 3]),
        Resize(mode: .cubic, coordinateTransform: .asymmetric, cubicCoefficient: -0.5, excludeOutside: true, scales: [0.6, 2]),
        Resize(mode: .linear, coordinateTransform: .tfCropAndResize, extrapolationValue: 7, roi: [0.2, -0.3, 0.9, 1.2], sizes: [4, 5]),
        Resize(mode: .nearest, coordinateTransform: .tfHalfPixelForNN, scales: [1.5, 2]),
        Resize(mode: .linear, coordinateTransform: .halfPixelSymmetric, scales: [1.7, 0.8]),
    ])
    func resizeGradients(_ op: Resize) throws {
        var rng = SplitMix(seed: 31)
        let x = rng.tensor([1, 2, 3, 4])
        #expect(try check.maxError(op, inputs: [x], check: [0]) < 1e-2)
        let y = try op.forward([x])[0]
        #expect(try check.maxError(ResizeBackward(op), inputs: [rng.tensor(y.shape), x], check: [0]) < 1e-2)
    }

    /// The ONNX form reads (x, roi, scales, sizes) when it runs and agrees with the static form.
    @Test func onnxFormReadsItsParameterInputs() throws {
        var rng = SplitMix(seed: 32)
        let x = rng.tensor([2, 3, 4, 5])
        let onnx = Resize.onnx(mode: .linear, coordinateTransform: .pytorchHalfPixel)
        let scales = Tensor(shape: [4], floats: [1, 1, 1.5, 0.5])
        let a = try onnx.forward([x, nil, scales, nil])[0]
        let b = try Resize(mode: .linear, coordinateTransform: .pytorchHalfPixel, scales: [1.5, 0.5]).forward([x])[0]
        #expect(a.shape == [2, 3, 6, 2] && a.toFloats() == b.toFloats())
        let sizes = Tensor(shape: [4], int64s: [2, 3, 7, 3])
        let c = try onnx.forward([x, nil, Tensor(shape: [0], floats: []), sizes])[0]
        #expect(c.toFloats() == (try Resize(mode: .linear, coordinateTransform: .pytorchHalfPixel, sizes: [7, 3]).forward([x])[0]).toFloats())
        let axes = Resize.onnx(mode: .nearest, axes: [-1])
        #expect(try axes.forward([x, nil, Tensor(shape: [1], floats: [2]), nil])[0].shape == [2, 3, 4, 10])
        // Resizing the channel axis is refused; scales and sizes together are refused.
        #expect(throws: CAMError.self) { try onnx.forward([x, nil, Tensor(shape: [4], floats: [1, 2, 1, 1]), nil]) }
        #expect(throws: CAMError.self) { try onnx.forward([x, nil, scales, sizes]) }
        #expect(try check.maxError(onnx, inputs: [x, Tensor(shape: [0], floats: []), scales], check: [0]) < 1e-2)
    }

    @Test func nearestRoundingAndCubicKnownValues() throws {
        let x = Tensor(shape: [1, 1, 1, 4], floats: [0, 10, 20, 30])
        // Cubic at integer positions reproduces the samples; halfway uses Keys' weights.
        let y = try Resize(mode: .cubic, coordinateTransform: .asymmetric, scales: [1, 2]).forward([x])[0]
        #expect(y.toFloats()[0] == 0 && y.toFloats()[2] == 10 && y.toFloats()[4] == 20)
        // At 0.5 with a = −0.75: weights (−0.09375, 0.59375, 0.59375, −0.09375) over (0, 0, 10, 20).
        #expect(abs(y.toFloats()[1] - (0.59375 * 10 - 0.09375 * 20)) <= 1e-5)
        let floor = try Resize(mode: .nearest, coordinateTransform: .asymmetric, nearestRounding: .floor, scales: [1, 0.75]).forward([x])[0]
        #expect(floor.toFloats() == [0, 10, 20])
        let ceil = try Resize(mode: .nearest, coordinateTransform: .asymmetric, nearestRounding: .ceil, scales: [1, 0.75]).forward([x])[0]
        #expect(ceil.toFloats() == [0, 20, 30])
    }

    @Test func topKValuesIndicesAndGradient() throws {
        let x = Tensor(shape: [2, 5], floats: [3, 1, 4, 1, 5, 9, 2, 6, 5, 3])
        let k = Tensor(shape: [1], int64s: [3])
        let out = try TopK(axis: 1).forward([x, k])
        #expect(out[0].toFloats() == [5, 4, 3, 9, 6, 5])
        #expect(out[1].toInt64s() == [4, 2, 0, 0, 2, 3])
        let smallest = try TopK(axis: -1, largest: false).forward([x, Tensor(shape: [1], int64s: [2])])
        #expect(smallest[0].toFloats() == [1, 1, 2, 3])
        #expect(smallest[1].toInt64s() == [1, 3, 1, 4])  // ties: the lower index first
        var rng = SplitMix(seed: 33)
        #expect(try check.maxError(TopK(axis: 0), inputs: [rng.tensor([5, 3]), Tensor(shape: [1], int64s: [2])], check: [0], outputs: 2) < 1e-2)
    }

    @Test func gatherElementsAndItsGradient() throws {
        let x = Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
        let idx = Tensor(shape: [2, 2], int64s: [2, 0, -1, 1])
        #expect(try GatherElements(axis: 1).forward([x, idx])[0].toFloats() == [3, 1, 6, 5])
        #expect(try GatherElements(axis: 0).forward([x, Tensor(shape: [1, 3], int64s: [1, 0, 1])])[0].toFloats() == [4, 2, 6])
        var rng = SplitMix(seed: 34)
        #expect(try check.maxError(GatherElements(axis: 1), inputs: [rng.tensor([2, 3]), Tensor(shape: [2, 4], int64s: [0, 0, 2, 1, 1, 2, 2, 0])], check: [0]) < 1e-2)
        #expect(throws: CAMError.self) { try GatherElements(axis: 1).forward([x, Tensor(shape: [2, 1], int64s: [3, 0])]) }
    }

    @Test func argMaxAndArgMin() throws {
        let x = Tensor(shape: [2, 3], floats: [1, 7, 7, 4, 0, 4])
        #expect(try ArgExtremum(max: true, axis: 1).forward([x])[0].toInt64s() == [1, 0])
        #expect(try ArgExtremum(max: true, axis: 1, selectLastIndex: true).forward([x])[0].toInt64s() == [2, 2])
        let min = try ArgExtremum(max: false, axis: 0, keepDims: false).forward([x])[0]
        #expect(min.shape == [3] && min.toInt64s() == [0, 1, 1])
    }

    @Test func nonMaxSuppressionPerClass() throws {
        // [y1, x1, y2, x2]: boxes 0 and 1 overlap (IoU 0.81), box 2 is apart.
        let boxes = Tensor(shape: [1, 3, 4], floats: [0, 0, 10, 10, 1, 1, 11, 11, 20, 20, 30, 30])
        let scores = Tensor(shape: [1, 2, 3], floats: [0.9, 0.95, 0.3, 0.1, 0.2, 0.8])
        let nms = NonMaxSuppression()
        let out = try nms.forward([boxes, scores, Tensor(shape: [1], int64s: [5]), Tensor(shape: [1], floats: [0.5]), Tensor(shape: [1], floats: [0.25])])[0]
        #expect(out.shape == [3, 3])
        #expect(out.toInt64s() == [0, 0, 1, 0, 0, 2, 0, 1, 2])
        #expect(try nms.forward([boxes, scores])[0].shape == [0, 3])  // max_output_boxes_per_class defaults to 0
    }
}
