import CAMCore
import Foundation

/// Typed reading of a target's options (`--target NAME:ARGS` and `--decoder`), naming the
/// target and the option in every error.
struct TargetOptions {
    let target: String
    let values: [String: String]

    init(_ target: String, _ values: [String: String]) {
        self.target = target
        self.values = values
    }

    subscript(_ key: String) -> String? { values[key] }

    func float(_ key: String, default d: Float) throws -> Float {
        guard let s = values[key] else { return d }
        guard let v = Float(s.trimmingCharacters(in: .whitespaces)), v.isFinite else {
            throw CAMError(.usage, "target \(target): option \(key) expects a number, got '\(s)'")
        }
        return v
    }

    func int(_ key: String) throws -> Int? {
        guard let s = values[key] else { return nil }
        guard let v = Int(s.trimmingCharacters(in: .whitespaces)) else {
            throw CAMError(.usage, "target \(target): option \(key) expects an integer, got '\(s)'")
        }
        return v
    }

    func ints(_ key: String) throws -> [Int]? {
        guard let s = values[key] else { return nil }
        let parts = s.split(whereSeparator: { $0 == "," || $0 == "/" }).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else {
            throw CAMError(.usage, "target \(target): option \(key) expects comma-separated integers, got '\(s)'")
        }
        return parts.map { $0! }
    }

    /// Class names from `labels` (a file with one name per line), if given.
    func labels() throws -> [String]? {
        guard let path = values["labels"] else { return nil }
        guard let text = FileContents.text(atPath: path) else {
            throw CAMError(.io, "target \(target): cannot read the labels file \(path)")
        }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .reversed().drop(while: { $0.isEmpty }).reversed()
    }

    /// The index of the graph output named by option `output` (a name or a number), or `fallback`.
    func outputIndex(_ input: TargetInput, fallback: Int = 0) throws -> Int {
        guard let o = values["output"] else {
            guard fallback < input.outputs.count else { throw CAMError(.usage, "target \(target): the model has no output \(fallback)") }
            return fallback
        }
        if let k = input.outputNames.firstIndex(of: o) { return k }
        if let k = Int(o), k >= 0, k < input.outputs.count { return k }
        throw CAMError(.usage, "target \(target): the model has no output '\(o)' (outputs: \(input.outputNames.joined(separator: ", ")))")
    }
}

/// A class index from a number or a name in `labels`.
func classIndex(_ s: String, labels: [String]?, target: String) throws -> Int {
    if let k = Int(s.trimmingCharacters(in: .whitespaces)), k >= 0 { return k }
    if let labels, let k = labels.firstIndex(where: { $0.caseInsensitiveCompare(s) == .orderedSame }) { return k }
    throw CAMError(.usage, "target \(target): '\(s)' is not a class index" + (labels == nil ? " (class names need labels)" : " or a class name"))
}
