import CAMCore
import KerasFormat

/// Reading a layer's config values with Keras's conventions (an int or a tuple, `null` for
/// defaults), with errors that say which key held what.
extension LayerCall {
    func value(_ key: String) -> JSONValue? {
        guard let v = config[key], !v.isNull else { return nil }
        return v
    }

    func int(_ key: String, _ dflt: Int) throws -> Int {
        guard let v = value(key) else { return dflt }
        guard let i = v.int else { throw CAMError(.invalidModel, "config '\(key)' is \(v.brief); expected an integer") }
        return i
    }

    func double(_ key: String, _ dflt: Double) throws -> Double {
        guard let v = value(key) else { return dflt }
        guard let d = v.double else { throw CAMError(.invalidModel, "config '\(key)' is \(v.brief); expected a number") }
        return d
    }

    func optionalDouble(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        guard let d = v.double else { throw CAMError(.invalidModel, "config '\(key)' is \(v.brief); expected a number or null") }
        return d
    }

    func bool(_ key: String, _ dflt: Bool) throws -> Bool {
        guard let v = value(key) else { return dflt }
        guard let b = v.bool else { throw CAMError(.invalidModel, "config '\(key)' is \(v.brief); expected true or false") }
        return b
    }

    func string(_ key: String, _ dflt: String) throws -> String {
        guard let v = value(key) else { return dflt }
        guard let s = v.string else { throw CAMError(.invalidModel, "config '\(key)' is \(v.brief); expected a string") }
        return s
    }

    /// An int or a list of `count` ints (kernel_size, strides, …).
    func ints(_ key: String, count: Int, _ dflt: [Int]? = nil) throws -> [Int] {
        guard let v = value(key) else {
            if let dflt { return dflt }
            throw CAMError(.invalidModel, "config has no '\(key)'")
        }
        if let i = v.int { return [Int](repeating: i, count: count) }
        if let a = v.array, a.count == count, let list = Optional(a.compactMap(\.int)), list.count == count { return list }
        throw CAMError(.invalidModel, "config '\(key)' is \(v.brief); expected an integer or \(count) integers")
    }

    /// Per-axis (before, after) amounts: an int (all sides), `count` ints (symmetric per axis),
    /// or `count` pairs (ZeroPadding2D / Cropping2D's padding and cropping).
    func pairs(_ key: String, count: Int) throws -> [(Int, Int)] {
        guard let v = value(key) else { throw CAMError(.invalidModel, "config has no '\(key)'") }
        if let i = v.int { return [(Int, Int)](repeating: (i, i), count: count) }
        if let a = v.array {
            if count == 1, a.count == 2, let x = a[0].int, let y = a[1].int { return [(x, y)] }
            if a.count == count, a.allSatisfy({ $0.int != nil }) { return a.map { ($0.int!, $0.int!) } }
            if a.count == count {
                let p = a.compactMap { e -> (Int, Int)? in
                    guard let q = e.array, q.count == 2, let x = q[0].int, let y = q[1].int else { return nil }
                    return (x, y)
                }
                if p.count == count { return p }
            }
        }
        throw CAMError(.invalidModel, "config '\(key)' is \(v.brief); expected an integer, \(count) integers or \(count) pairs")
    }

    /// Checks `data_format` is channels_last (Keras's default).
    func requireChannelsLast() throws {
        let format = try string("data_format", "channels_last")
        guard format == "channels_last" else {
            throw CAMError(.unsupported, "data_format '\(format)' is not supported (only channels_last, Keras's default)")
        }
    }

    /// `padding` as a runtime `Padding` ("valid" or "same"; "same" pads the extra pixel at the
    /// bottom/right, as TensorFlow does).
    func padding() throws -> Padding {
        switch try string("padding", "valid").lowercased() {
        case "valid": return .valid
        case "same": return .sameUpper
        case let other: throw CAMError(.unsupported, "padding '\(other)' is not supported (valid or same)")
        }
    }

    /// Output size of a window along one axis (nil when unknown).
    static func windowOutput(_ n: Int?, kernel: Int, stride: Int, dilation: Int, same: Bool) -> Int? {
        guard let n else { return nil }
        if same { return (n + stride - 1) / stride }
        let span = n - (kernel - 1) * dilation - 1
        return span < 0 ? 0 : span / stride + 1
    }
}
