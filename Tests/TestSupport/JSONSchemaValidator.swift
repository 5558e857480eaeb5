import Foundation

/// A small JSON Schema (2020-12) validator for the keywords SwiftCAM's schemas use: type,
/// properties, required, additionalProperties, items, min/maxItems, minimum/maximum, enum,
/// const, pattern, oneOf and local `$ref`s. Returns the problems found, with their paths.
public struct JSONSchemaValidator {
    let root: [String: Any]

    public init(schema: Any) { root = schema as? [String: Any] ?? [:] }

    public func validate(_ value: Any) -> [String] { check(value, root, "$") }

    func resolve(_ schema: [String: Any]) -> [String: Any] {
        guard let ref = schema["$ref"] as? String, ref.hasPrefix("#/") else { return schema }
        var node: Any = root
        for part in ref.dropFirst(2).split(separator: "/") { node = (node as? [String: Any])?[String(part)] ?? [:] }
        var merged = node as? [String: Any] ?? [:]
        for (k, v) in schema where k != "$ref" { merged[k] = v }
        return merged
    }

    static func isBool(_ v: Any) -> Bool { (v as? NSNumber).map { String(cString: $0.objCType) == "c" } ?? false }

    func matches(type: String, _ v: Any) -> Bool {
        switch type {
        case "object": return v is [String: Any]
        case "array": return v is [Any]
        case "string": return v is String
        case "boolean": return Self.isBool(v)
        case "number": return v is NSNumber && !Self.isBool(v)
        case "integer": return (v as? NSNumber).map { !Self.isBool(v) && $0.doubleValue == $0.doubleValue.rounded() } ?? false
        case "null": return v is NSNull
        default: return false
        }
    }

    func check(_ v: Any, _ raw: [String: Any], _ path: String) -> [String] {
        let s = resolve(raw)
        var problems: [String] = []
        if let t = s["type"] {
            let types = (t as? [String]) ?? [(t as? String) ?? ""]
            if !types.contains(where: { matches(type: $0, v) }) { return ["\(path): expected \(types.joined(separator: " or "))"] }
        }
        if let options = s["enum"] as? [Any], !options.contains(where: { "\($0)" == "\(v)" }) { problems.append("\(path): not one of \(options)") }
        if let c = s["const"], "\(c)" != "\(v)" { problems.append("\(path): expected \(c)") }
        if let pattern = s["pattern"] as? String, let str = v as? String,
           (try? NSRegularExpression(pattern: pattern))?.firstMatch(in: str, range: NSRange(str.startIndex..., in: str)) == nil {
            problems.append("\(path): '\(str)' does not match \(pattern)")
        }
        if let n = v as? NSNumber, !Self.isBool(v) {
            if let lo = (s["minimum"] as? NSNumber)?.doubleValue, n.doubleValue < lo { problems.append("\(path): below \(lo)") }
            if let hi = (s["maximum"] as? NSNumber)?.doubleValue, n.doubleValue > hi { problems.append("\(path): above \(hi)") }
        }
        if let a = v as? [Any] {
            if let lo = s["minItems"] as? Int, a.count < lo { problems.append("\(path): fewer than \(lo) items") }
            if let hi = s["maxItems"] as? Int, a.count > hi { problems.append("\(path): more than \(hi) items") }
            if let items = s["items"] as? [String: Any] {
                for (i, e) in a.enumerated() { problems += check(e, items, "\(path)[\(i)]") }
            }
        }
        if let o = v as? [String: Any] {
            let properties = s["properties"] as? [String: Any] ?? [:]
            for key in s["required"] as? [String] ?? [] where o[key] == nil { problems.append("\(path).\(key): required") }
            for (k, e) in o {
                if let p = properties[k] as? [String: Any] { problems += check(e, p, "\(path).\(k)") }
                else if let extra = s["additionalProperties"] {
                    if let allowed = extra as? NSNumber, Self.isBool(allowed), !allowed.boolValue { problems.append("\(path).\(k): not allowed") }
                    else if let schema = extra as? [String: Any] { problems += check(e, schema, "\(path).\(k)") }
                }
            }
        }
        if let options = s["oneOf"] as? [[String: Any]] {
            let passing = options.filter { check(v, $0, path).isEmpty }.count
            if passing != 1 { problems.append("\(path): matches \(passing) of the oneOf alternatives, expected exactly 1") }
        }
        return problems
    }
}
