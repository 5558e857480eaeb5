import CAMCore
import Foundation

/// The sum of chosen entries of the graph outputs — upstream's `RawScoresOutputTarget`
/// generalised to any model whose head no decoder knows:
/// `--target "outputs:output0[0,5,1748]+output0[0,5,1768]"`.
///
/// An index has one coordinate per axis of the graph output. Its first (batch) coordinate
/// names the image the entry belongs to (`*`: every image); an index one shorter (without the
/// batch axis) applies to every image. The sum is taken in the order given, from 0.
public struct OutputEntriesTarget: GraphTarget {
    public struct Entry: Sendable, Equatable {
        /// The graph output.
        public var output: Int
        /// The flat position within the image's output.
        public var offset: Int
    }

    public let entries: [Entry]
    public let text: String

    public init(entries: [Entry], text: String) {
        self.entries = entries
        self.text = text
    }

    public var description: String { "OutputEntriesTarget(\(text))" }

    public var emptyReason: String? { entries.isEmpty ? "no entry of '\(text)' belongs to this image" : nil }

    public func evaluate(outputs: [Tensor]) throws -> TargetEvaluation {
        var sum: Float = 0
        var grads = [Tensor?](repeating: nil, count: outputs.count)
        for e in entries {
            let y = outputs[e.output]
            guard e.offset < y.count, y.dtype == .float32 else { throw CAMError(.runtime, "outputs target: entry out of range") }
            sum += y.floats[e.offset]
            if grads[e.output] == nil { grads[e.output] = Tensor(zeros: y.shape) }
            grads[e.output]!.mutableFloats[e.offset] += 1
        }
        return TargetEvaluation(value: sum, outputGradients: grads)
    }

    public func score(_ b: inout GradientBuilder, outputs: [ValueID]) throws -> ValueID {
        var total: ValueID?
        for e in entries {
            let flat = b.apply(Reshape(), outputs[e.output], b.constant(Tensor(shape: [1], int64s: [-1])))
            let v = b.apply(Gather(axis: 0), flat, b.constant(Tensor(shape: [1], int64s: [Int64(e.offset)])))
            total = b.add(total, v)
        }
        return total ?? b.constant(Tensor(shape: [1], floats: [0]))
    }

    /// Parses `NAME[i,j,…]+NAME[…]…` against the image's outputs.
    static func parse(_ text: String, input: TargetInput) throws -> OutputEntriesTarget {
        var entries: [Entry] = []
        for raw in text.split(separator: "+") {
            let item = raw.trimmingCharacters(in: .whitespaces)
            guard item.hasSuffix("]"), let open = item.lastIndex(of: "[") else {
                throw CAMError(.usage, "outputs target: '\(item)' is not NAME[i,j,…]")
            }
            let name = String(item[..<open])
            let coords = item[item.index(after: open)..<item.index(before: item.endIndex)].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let k: Int
            if let i = input.outputNames.firstIndex(of: name) { k = i } else if name.isEmpty, input.outputs.count == 1 { k = 0 } else {
                throw CAMError(.usage, "outputs target: the model has no output '\(name)' (outputs: \(input.outputNames.joined(separator: ", ")))")
            }
            let shape = input.outputs[k].shape  // without the batch axis
            var index = coords
            if coords.count == shape.count + 1 {
                let batch = coords[0]
                if batch != "*" {
                    guard let b = Int(batch), b >= 0 else { throw CAMError(.usage, "outputs target: '\(item)': batch index '\(batch)' is not a number or *") }
                    if b != input.imageIndex { continue }
                }
                index = Array(coords.dropFirst())
            } else if coords.count != shape.count {
                throw CAMError(.usage, "outputs target: '\(item)' has \(coords.count) indices; output '\(name)' has \(shape.count + 1) axes (batch first)")
            }
            var offset = 0
            for (axis, c) in index.enumerated() {
                guard var i = Int(c) else { throw CAMError(.usage, "outputs target: '\(item)': '\(c)' is not an index") }
                if i < 0 { i += shape[axis] }
                guard i >= 0, i < shape[axis] else {
                    throw CAMError(.usage, "outputs target: '\(item)': index \(c) is out of range for axis \(axis + 1) of length \(shape[axis])")
                }
                offset = offset * shape[axis] + i
            }
            entries.append(Entry(output: k, offset: offset))
        }
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { throw CAMError(.usage, "outputs target: give entries, e.g. outputs:output0[0,5,1748]") }
        return OutputEntriesTarget(entries: entries, text: text)
    }
}

/// `--target outputs:NAME[i,…]+…` (option `entries`).
final class OutputEntriesTargetFactory: TargetFactory {
    let name = "outputs"

    func makeTarget(category: Int?, options: [String: String], outputs: [Tensor]) throws -> any Target {
        try makeTarget(TargetInput(category: category, options: options, outputs: outputs, outputNames: outputs.indices.map { "output\($0)" },
                                   imageIndex: 0, inputHeight: 0, inputWidth: 0))
    }

    func makeTarget(_ input: TargetInput) throws -> any Target {
        guard let text = input.options["entries"] else {
            throw CAMError(.usage, "outputs target: give the entries to sum, e.g. --target \"outputs:\(input.outputNames.first ?? "output0")[0,5,1748]\"")
        }
        return try OutputEntriesTarget.parse(text, input: input)
    }
}
