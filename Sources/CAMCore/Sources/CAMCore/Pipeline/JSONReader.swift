import Foundation

/// Reads a decoded JSON value with its JSON path, so that every error names where it is and
/// what was expected: `$.methods[1].batchSize: expected a positive integer, got "8"`.
public struct JSONReader {
    public let value: Any
    /// The JSON path of `value` (`$`, `$.model.path`, `$.methods[1]`).
    public let path: String
    /// The file, for messages.
    public let file: String

    public init(value: Any, path: String = "$", file: String) {
        self.value = value
        self.path = path
        self.file = file
    }

    /// Parses `data` as JSON.
    public static func parse(_ data: Data, file: String) throws -> JSONReader {
        do {
            return JSONReader(value: try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]), file: file)
        } catch {
            throw CAMError(.usage, "\(file): not valid JSON (\((error as NSError).localizedDescription))")
        }
    }

    public func fail(_ expected: String) -> CAMError {
        CAMError(.usage, "\(file): \(path): expected \(expected), got \(Self.describe(value))")
    }

    /// How a value is shown in errors.
    static func describe(_ v: Any) -> String {
        switch v {
        case is NSNull: return "null"
        case let s as String: return "\"\(s)\""
        case let n as NSNumber where isBool(n): return n.boolValue ? "true" : "false"
        case let n as NSNumber: return n.stringValue
        case is [Any]: return "an array"
        case is [String: Any]: return "an object"
        default: return "\(v)"
        }
    }

    static func isBool(_ v: Any) -> Bool {
        guard let n = v as? NSNumber else { return false }
        // JSONSerialization gives booleans as char-typed numbers.
        return String(cString: n.objCType) == "c"
    }

    /// An object whose keys must all be in `allowed`.
    public func object(allowed: [String]) throws -> [String: JSONReader] {
        guard let d = value as? [String: Any] else { throw fail("an object") }
        var out: [String: JSONReader] = [:]
        for (k, v) in d {
            guard allowed.contains(k) else {
                throw CAMError(.usage, "\(file): \(path).\(k): unknown key (allowed here: \(allowed.sorted().joined(separator: ", ")))")
            }
            out[k] = JSONReader(value: v, path: "\(path).\(k)", file: file)
        }
        return out
    }

    public func array() throws -> [JSONReader] {
        guard let a = value as? [Any] else { throw fail("an array") }
        return a.enumerated().map { JSONReader(value: $0.element, path: "\(path)[\($0.offset)]", file: file) }
    }

    public func string() throws -> String {
        guard let s = value as? String else { throw fail("a string") }
        return s
    }

    public func bool() throws -> Bool {
        guard Self.isBool(value), let n = value as? NSNumber else { throw fail("true or false") }
        return n.boolValue
    }

    public func number() throws -> Double {
        guard !Self.isBool(value), let n = value as? NSNumber, n.doubleValue.isFinite else { throw fail("a number") }
        return n.doubleValue
    }

    public func integer(minimum: Int = Int.min) throws -> Int {
        let what = minimum == 1 ? "a positive integer" : (minimum == 0 ? "a non-negative integer" : "an integer")
        guard !Self.isBool(value), let n = value as? NSNumber, n.doubleValue == n.doubleValue.rounded(), abs(n.doubleValue) < 1e15 else { throw fail(what) }
        guard n.intValue >= minimum else { throw fail(what) }
        return n.intValue
    }

    /// A string, or an array of strings.
    public func strings() throws -> [String] {
        if value is String { return [try string()] }
        guard value is [Any] else { throw fail("a string or an array of strings") }
        return try array().map { try $0.string() }
    }

    /// An object of string (or number/bool, stringified) values.
    public func stringMap() throws -> [String: String] {
        guard let d = value as? [String: Any] else { throw fail("an object") }
        var out: [String: String] = [:]
        for (k, v) in d {
            let r = JSONReader(value: v, path: "\(path).\(k)", file: file)
            switch v {
            case let s as String: out[k] = s
            case _ where Self.isBool(v): out[k] = try r.bool() ? "1" : "0"
            case let n as NSNumber: out[k] = n.stringValue
            case let a as [Any] where a.allSatisfy({ $0 is NSNumber || $0 is String }): out[k] = a.map { "\($0)" }.joined(separator: ",")
            default: throw r.fail("a string, number, boolean or list")
            }
        }
        return out
    }
}
