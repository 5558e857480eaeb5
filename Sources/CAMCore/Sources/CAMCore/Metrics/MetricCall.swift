/// An argument of a metric, as written in upstream's Python: `80`, `'auto'`, `[20,40,60,80]`,
/// or a bare name (`auto`, `RemoveMostRelevantFirst`, `gradcam`).
public enum MetricValue: Sendable, Hashable, CustomStringConvertible {
    case number(Double)
    case string(String)
    case identifier(String)
    case list([MetricValue])

    /// Python's spelling: integral numbers without a decimal point, strings in single quotes,
    /// lists without spaces (`[20,40,60,80]`, as in the reference's keys).
    public var description: String {
        switch self {
        case .number(let d):
            if d.rounded() == d && abs(d) < 1e15 { return String(Int64(d)) }
            return "\(d)"
        case .string(let s): return "'\(s)'"
        case .identifier(let s): return s
        case .list(let items): return "[" + items.map(\.description).joined(separator: ",") + "]"
        }
    }

    /// The text of a string or a bare name.
    public var text: String? {
        switch self {
        case .string(let s), .identifier(let s): return s
        default: return nil
        }
    }
}

/// A metric as the user names it: upstream's class and its arguments, e.g.
/// `ROADMostRelevantFirst(80)`, `RemoveLeastRelevantFirst('auto')`,
/// `ROADCombined(percentiles=[20,40,60,80])`, `ARCC`. Names are matched case-insensitively.
public struct MetricCall: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var positional: [MetricValue]
    public var named: [String: MetricValue]

    public init(_ name: String, _ positional: [MetricValue] = [], named: [String: MetricValue] = [:]) {
        self.name = name
        self.positional = positional
        self.named = named
    }

    public var description: String {
        let args = positional.map(\.description) + named.keys.sorted().map { "\($0)=\(named[$0]!)" }
        return args.isEmpty ? name : "\(name)(\(args.joined(separator: ", ")))"
    }

    /// Parses one metric: `Name`, `Name()` or `Name(arg, key=value, …)`.
    public static func parse(_ text: String) throws -> MetricCall {
        var p = Parser(text)
        let call = try p.call()
        try p.end()
        return call
    }

    /// Parses a comma-separated list of metrics (commas inside parentheses and brackets belong
    /// to the arguments): `ROADMostRelevantFirst(80),ROADCombined(percentiles=[20,40]),ARCC`.
    public static func parseList(_ text: String) throws -> [MetricCall] {
        var p = Parser(text)
        var calls: [MetricCall] = []
        repeat {
            calls.append(try p.call())
        } while p.consume(",")
        try p.end()
        return calls
    }

    // MARK: Arguments

    /// The value of parameter `name`, given at `position` or by keyword (nil: not given).
    public func argument(_ position: Int?, _ name: String) throws -> MetricValue? {
        let byPosition = position.flatMap { $0 < positional.count ? positional[$0] : nil }
        if byPosition != nil, named[name] != nil {
            throw CAMError(.usage, "metric \(self): '\(name)' is given twice")
        }
        return byPosition ?? named[name]
    }

    /// Rejects arguments the metric does not take; `parameters` in positional order.
    public func check(parameters: [String]) throws {
        if positional.count > parameters.count {
            throw CAMError(.usage, "metric \(self): takes at most \(parameters.count) argument\(parameters.count == 1 ? "" : "s")"
                + (parameters.isEmpty ? "" : " (\(parameters.joined(separator: ", ")))"))
        }
        for key in named.keys where !parameters.contains(key) {
            throw CAMError(.usage, "metric \(self): no parameter '\(key)'" + (parameters.isEmpty ? " (it takes none)" : " (parameters: \(parameters.joined(separator: ", ")))"))
        }
    }

    /// A percentile in [0, 100] or 'auto' (Otsu).
    public func threshold(_ position: Int?, _ name: String, default dflt: RemovalThreshold?) throws -> RemovalThreshold {
        guard let v = try argument(position, name) else {
            guard let dflt else { throw CAMError(.usage, "metric \(self): needs \(name), a percentile (e.g. \(self.name)(50)) or 'auto'") }
            return dflt
        }
        if let s = v.text, s.lowercased() == "auto" { return .auto }
        guard case .number(let p) = v, (0...100).contains(p) else {
            throw CAMError(.usage, "metric \(self): \(name) must be a percentile in [0, 100] or 'auto', got \(v)")
        }
        return .percentile(p)
    }

    /// A non-empty list of percentiles in [0, 100].
    public func percentiles(_ position: Int?, _ name: String, default dflt: [Double]) throws -> [Double] {
        guard let v = try argument(position, name) else { return dflt }
        let items: [MetricValue]
        if case .list(let l) = v { items = l } else { items = [v] }
        let values = items.compactMap { item -> Double? in
            if case .number(let d) = item, (0...100).contains(d) { return d }
            return nil
        }
        guard !values.isEmpty, values.count == items.count else {
            throw CAMError(.usage, "metric \(self): \(name) must be a list of percentiles in [0, 100], e.g. [20,40,60,80]; got \(v)")
        }
        return values
    }

    /// A name (a plugin's method or metric name).
    public func name(_ position: Int?, _ parameter: String) throws -> String? {
        guard let v = try argument(position, parameter) else { return nil }
        guard let s = v.text else { throw CAMError(.usage, "metric \(self): \(parameter) must be a name, got \(v)") }
        return s
    }
}

/// A small recursive-descent parser for metric calls.
private struct Parser {
    let chars: [Character]
    var at = 0
    let text: String

    init(_ text: String) {
        self.text = text
        chars = Array(text)
    }

    func error(_ what: String) -> CAMError {
        CAMError(.usage, "cannot read the metric list '\(text)': \(what) at character \(at + 1)")
    }

    mutating func skipSpace() { while at < chars.count && chars[at].isWhitespace { at += 1 } }

    mutating func consume(_ c: Character) -> Bool {
        skipSpace()
        if at < chars.count && chars[at] == c { at += 1; return true }
        return false
    }

    mutating func expect(_ c: Character) throws {
        guard consume(c) else { throw error("expected '\(c)'") }
    }

    mutating func end() throws {
        skipSpace()
        guard at == chars.count else { throw error("unexpected '\(chars[at])'") }
    }

    mutating func identifier() throws -> String {
        skipSpace()
        let start = at
        while at < chars.count && (chars[at].isLetter || chars[at].isNumber || chars[at] == "_" || chars[at] == "-" || chars[at] == "+" || chars[at] == ".") {
            if at == start && (chars[at].isNumber || chars[at] == "-" || chars[at] == "+" || chars[at] == ".") { break }
            at += 1
        }
        guard at > start else { throw error(at < chars.count ? "expected a name, found '\(chars[at])'" : "expected a name") }
        return String(chars[start..<at])
    }

    mutating func call() throws -> MetricCall {
        let name = try identifier()
        var call = MetricCall(name)
        guard consume("(") else { return call }
        if consume(")") { return call }
        repeat {
            skipSpace()
            let save = at
            if let key = try? identifier(), consume("=") {
                guard call.named[key] == nil else { throw error("'\(key)' given twice") }
                call.named[key] = try value()
            } else {
                at = save
                guard call.named.isEmpty else { throw error("a positional argument after a keyword argument") }
                call.positional.append(try value())
            }
        } while consume(",")
        try expect(")")
        return call
    }

    mutating func value() throws -> MetricValue {
        skipSpace()
        guard at < chars.count else { throw error("expected a value") }
        let c = chars[at]
        if c == "[" {
            at += 1
            var items: [MetricValue] = []
            if consume("]") { return .list(items) }
            repeat { items.append(try value()) } while consume(",")
            try expect("]")
            return .list(items)
        }
        if c == "'" || c == "\"" {
            at += 1
            let start = at
            while at < chars.count && chars[at] != c { at += 1 }
            guard at < chars.count else { throw error("unterminated string") }
            defer { at += 1 }
            return .string(String(chars[start..<at]))
        }
        if c.isNumber || c == "-" || c == "+" || c == "." {
            let start = at
            at += 1
            while at < chars.count && (chars[at].isNumber || chars[at] == "." || chars[at] == "e" || chars[at] == "E"
                                       || ((chars[at] == "-" || chars[at] == "+") && (chars[at - 1] == "e" || chars[at - 1] == "E"))) { at += 1 }
            guard let d = Double(String(chars[start..<at])), d.isFinite else { throw error("'\(String(chars[start..<at]))' is not a number") }
            return .number(d)
        }
        return .identifier(try identifier())
    }
}
