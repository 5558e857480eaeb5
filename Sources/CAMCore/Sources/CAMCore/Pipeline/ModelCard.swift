import Foundation

/// `model.swiftcam.json` beside a model: its preprocessing, class names and default target
/// layer (schema: `Schemas/model-card.schema.json`). Flags given on the command line win.
public struct ModelCard: Decodable, Sendable {
    public struct Preprocessing: Decodable, Sendable {
        public var size: [Int]?
        public var resize: String?
        public var crop: [Int]?
        public var mean: [Float]?
        public var std: [Float]?
        public var scale: String?
        public var channels: String?
    }

    public var description: String?
    public var preprocessing: Preprocessing?
    public var labels: String?
    public var targetLayer: String?
    /// The folder the card is in (relative paths resolve against it).
    public var folder = ""

    enum CodingKeys: String, CodingKey, CaseIterable { case schema = "$schema", description, preprocessing, labels, targetLayer }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        description = try c.decodeIfPresent(String.self, forKey: .description)
        preprocessing = try c.decodeIfPresent(Preprocessing.self, forKey: .preprocessing)
        labels = try c.decodeIfPresent(String.self, forKey: .labels)
        targetLayer = try c.decodeIfPresent(String.self, forKey: .targetLayer)
    }

    /// The card beside `modelPath`, if there is one.
    public static func find(modelPath: String) throws -> ModelCard? {
        let url = URL(fileURLWithPath: modelPath)
        let path = url.deletingPathExtension().path + ".swiftcam.json"
        guard let data = FileContents.data(atPath: path) else { return nil }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CAMError(.invalidInput, "\(path): not a JSON object")
        }
        try check(object, allowed: CodingKeys.allCases.map(\.rawValue), at: "$", file: path)
        if let p = object["preprocessing"] as? [String: Any] {
            try check(p, allowed: ["size", "resize", "crop", "mean", "std", "scale", "channels"], at: "$.preprocessing", file: path)
        }
        do {
            var card = try JSONDecoder().decode(ModelCard.self, from: data)
            card.folder = url.deletingLastPathComponent().path
            try card.validate(file: path)
            return card
        } catch let e as DecodingError {
            throw CAMError(.invalidInput, "\(path): \(Self.describe(e))")
        }
    }

    static func check(_ object: [String: Any], allowed: [String], at path: String, file: String) throws {
        for key in object.keys.sorted() where !allowed.contains(key) {
            throw CAMError(.invalidInput, "\(file): \(path).\(key): unknown key (allowed: \(allowed.joined(separator: ", ")))")
        }
    }

    func validate(file: String) throws {
        guard let p = preprocessing else { return }
        func fail(_ field: String, _ what: String) -> CAMError { CAMError(.invalidInput, "\(file): $.preprocessing.\(field): \(what)") }
        if let s = p.size, s.count != 2 || s.contains(where: { $0 < 1 }) { throw fail("size", "expected [height, width] with positive numbers") }
        if let s = p.crop, s.count != 2 || s.contains(where: { $0 < 1 }) { throw fail("crop", "expected [height, width] with positive numbers") }
        if let r = p.resize, !(r == "plain" || r == "none" || (r.hasPrefix("shorter:") && Int(r.dropFirst(8)).map { $0 > 0 } == true)) {
            throw fail("resize", "expected plain, none or shorter:N, got \"\(r)\"")
        }
        if let m = p.mean, m.count != 1 && m.count != 3 { throw fail("mean", "expected 1 or 3 numbers") }
        if let s = p.std, (s.count != 1 && s.count != 3) || s.contains(where: { $0 <= 0 }) { throw fail("std", "expected 1 or 3 positive numbers") }
        if let s = p.scale, s != "unit" && s != "raw" { throw fail("scale", "expected \"unit\" or \"raw\", got \"\(s)\"") }
        if let c = p.channels, c != "rgb" && c != "bgr" { throw fail("channels", "expected \"rgb\" or \"bgr\", got \"\(c)\"") }
    }

    /// The labels file path, resolved against the card's folder.
    public var labelsPath: String? {
        labels.map { $0.hasPrefix("/") ? $0 : URL(fileURLWithPath: folder).appendingPathComponent($0).path }
    }

    static func describe(_ e: DecodingError) -> String {
        switch e {
        case .typeMismatch(let type, let c), .valueNotFound(let type, let c):
            return "$\(c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()): expected \(type)"
        case .keyNotFound(let key, _): return "missing key \(key.stringValue)"
        case .dataCorrupted(let c): return c.debugDescription
        @unknown default: return "\(e)"
        }
    }
}
