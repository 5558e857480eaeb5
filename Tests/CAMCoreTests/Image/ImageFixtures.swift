import CAMCore
import Foundation

/// Where the image tests find their data: the small fixtures next to this file (made by
/// `Fixtures/make_fixtures.py`), and the shared reference fixtures at
/// `<package root>/../shared/fixtures` (tests that need them are skipped when absent).
enum ImageFixtures {
    /// `Tests/CAMCoreTests/Image/Fixtures`.
    static let local: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    /// `$SWIFTCAM_FIXTURES` if set, else `../shared/fixtures` beside the package root (the
    /// nearest folder above this file that holds a Package.swift).
    static let shared: String = {
        if let env = ProcessInfo.processInfo.environment["SWIFTCAM_FIXTURES"] { return env }
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" && !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url.deleteLastPathComponent()
        }
        return url.deletingLastPathComponent().appendingPathComponent("shared/fixtures").standardizedFileURL.path
    }()

    static func sharedExists(_ relative: String) -> Bool {
        FileManager.default.fileExists(atPath: shared + "/" + relative)
    }

    static func localPath(_ name: String) -> String { local + "/" + name }
    static func sharedPath(_ name: String) -> String { shared + "/" + name }

    /// A `.npy` of uint8 values (NPY.read widens them to float32; this narrows them back).
    static func bytes(_ path: String) throws -> (values: [UInt8], shape: [Int]) {
        let t = try NPY.read(path)
        return (t.toFloats().map { UInt8($0) }, t.shape)
    }

    static func floats(_ path: String) throws -> (values: [Float], shape: [Int]) {
        let t = try NPY.read(path)
        return (t.toFloats(), t.shape)
    }

    /// An RGB image from an (H, W, 3) uint8 `.npy`.
    static func image(_ path: String) throws -> RGBImage {
        let (values, shape) = try bytes(path)
        return try RGBImage(width: shape[1], height: shape[0], pixels: values)
    }

    /// Image `index` of an (N, H, W, 3) uint8 `.npy`.
    static func image(_ path: String, index: Int) throws -> RGBImage {
        let (values, shape) = try bytes(path)
        let n = shape[1] * shape[2] * 3
        return try RGBImage(width: shape[2], height: shape[1], pixels: Array(values[index * n..<(index + 1) * n]))
    }

    /// Largest absolute difference and number of differing bytes.
    static func compare(_ a: [UInt8], _ b: [UInt8]) -> (maxAbs: Int, differing: Int) {
        precondition(a.count == b.count)
        var maxAbs = 0, differing = 0
        for i in 0..<a.count where a[i] != b[i] {
            differing += 1
            maxAbs = max(maxAbs, abs(Int(a[i]) - Int(b[i])))
        }
        return (maxAbs, differing)
    }

    static func maxAbs(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        var m: Float = 0
        for i in 0..<a.count { m = max(m, abs(a[i] - b[i])) }
        return m
    }

    static func temporaryFolder() throws -> String {
        let path = NSTemporaryDirectory() + "camcore-image-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
