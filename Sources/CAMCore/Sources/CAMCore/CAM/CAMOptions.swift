/// Method options from the command line (`--method-option key=value`) or a manifest, with
/// typed accessors that name the option in their errors.
public struct CAMOptions: Sendable {
    public var values: [String: String]

    public init(_ values: [String: String] = [:]) { self.values = values }

    public subscript(key: String) -> String? { values[key] }

    public func int(_ key: String, default dflt: Int) throws -> Int {
        guard let s = values[key] else { return dflt }
        guard let v = Int(s) else { throw CAMError(.usage, "option \(key): expected an integer, got '\(s)'") }
        return v
    }

    public func float(_ key: String, default dflt: Float) throws -> Float {
        guard let s = values[key] else { return dflt }
        guard let v = Float(s), v.isFinite else { throw CAMError(.usage, "option \(key): expected a number, got '\(s)'") }
        return v
    }

    /// A comma-separated list of integers.
    public func ints(_ key: String) throws -> [Int]? {
        guard let s = values[key] else { return nil }
        let parts = s.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.allSatisfy({ $0 != nil }) else { throw CAMError(.usage, "option \(key): expected comma-separated integers, got '\(s)'") }
        return parts.map { $0! }
    }
}
