import CAMCore
import Foundation
import Testing
import TestSupport

/// `swiftcam run` with JSON manifests: the examples, folders with broken pictures, resuming,
/// sharding, and errors that name their JSON path.
@Suite("Pipelines")
struct PipelineTests {
    static let examples = Fixtures.repositoryRoot.appendingPathComponent("Schemas/examples")

    static func schema(_ name: String) throws -> JSONSchemaValidator {
        let data = try Data(contentsOf: Fixtures.repositoryRoot.appendingPathComponent("Schemas/\(name)"))
        return JSONSchemaValidator(schema: try JSONSerialization.jsonObject(with: data))
    }

    static var exampleNames: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: examples.path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
    }

    @Test("every example manifest is valid and runs", arguments: exampleNames)
    func example(_ name: String) throws {
        let path = Self.examples.appendingPathComponent(name).path
        let manifest = try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(try Self.schema("pipeline.schema.json").validate(manifest) == [])
        let m = try PipelineManifest.load(path: path)
        // Examples that read the shared fixtures are skipped without them.
        guard FileManager.default.fileExists(atPath: m.modelPath) else { return }
        defer { try? FileManager.default.removeItem(atPath: m.outputs.directory) }
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["run", path, "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let again = try CommandRunner.run(CommandRunner.swiftcam, ["run", path, "--quiet"])
        #expect(again.stdout.hasPrefix("0 explained"), "\(again.stdout)")
    }

    @Test func theDemoModelCardIsValid() throws {
        let data = try Data(contentsOf: Fixtures.repositoryRoot.appendingPathComponent("demo/efficientnet-lite0.swiftcam.json"))
        #expect(try Self.schema("model-card.schema.json").validate(try JSONSerialization.jsonObject(with: data)) == [])
    }

    /// 50 pictures in nested folders, 5 of them broken: the broken ones are reported, the run
    /// exits non-zero, the rest are written; a second run does nothing; the shards partition.
    @Test func aFolderWithBrokenPictures() throws {
        let dir = try CommandRunner.temporaryFolder("folder")
        defer { try? FileManager.default.removeItem(at: dir) }
        let cat = try Data(contentsOf: Fixtures.repositoryRoot.appendingPathComponent("demo/cat.png"))
        for i in 0..<50 {
            let sub = dir.appendingPathComponent("pictures/\(i % 2 == 0 ? "a" : "b")")
            try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
            let broken = i % 10 == 3
            try (broken ? Data(cat.prefix(300)) : cat).write(to: sub.appendingPathComponent(String(format: "img%02d.png", i / 2)))
        }
        let manifest = dir.appendingPathComponent("run.json")
        try """
        { "model": { "path": "\(Fixtures.repositoryRoot.appendingPathComponent("demo/efficientnet-lite0.onnx").path)" },
          "methods": ["gradcam"], "inputs": ["pictures"], "batchSize": 16,
          "outputs": { "dir": "out", "gallery": true } }
        """.write(to: manifest, atomically: true, encoding: .utf8)
        let first = try CommandRunner.run(CommandRunner.swiftcam, ["run", manifest.path, "--quiet"])
        #expect(first.status == 1, "\(first.stderr)")
        #expect(first.stdout.hasPrefix("45 explained, 0 up to date, 5 failed"), "\(first.stdout)")
        #expect(first.stderr.components(separatedBy: "\n").filter { $0.contains("pictures/") && $0.hasPrefix("swiftcam: error:") }.count == 5)
        // Same file names in a/ and b/ do not collide.
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("out/a/img00_gradcam.png").path))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("out/b/img00_gradcam.png").path))
        let gallery = try String(contentsOf: dir.appendingPathComponent("out/index.html"), encoding: .utf8)
        #expect(gallery.components(separatedBy: "<img ").count - 1 == 45)
        let second = try CommandRunner.run(CommandRunner.swiftcam, ["run", manifest.path, "--quiet"])
        #expect(second.stdout.hasPrefix("0 explained, 45 up to date, 5 failed"), "\(second.stdout)")
        // Shards: deterministic, disjoint, covering.
        let items = try InputCollection.expand(["pictures"], base: dir.path)
        let shards = (0..<3).map { InputCollection.shard(items, index: $0, count: 3) }
        #expect(Set(shards.flatMap { $0 }) == Set(items) && shards.map(\.count).reduce(0, +) == items.count)
    }

    @Test("malformed manifests name the JSON path", arguments: [
        ("{\"model\": {\"path\": \"m.onnx\"}, \"methods\": [\"gradcam\"], \"inputs\": [\"x\"], \"outputs\": {\"dir\": \"o\"}, \"batchsize\": 8}",
         "$.batchsize: unknown key"),
        ("{\"model\": {\"path\": \"m.onnx\"}, \"methods\": [{\"name\": \"scorecam\", \"batchSize\": \"8\"}], \"inputs\": [\"x\"], \"outputs\": {\"dir\": \"o\"}}",
         "$.methods[0].batchSize: expected a positive integer, got \"8\""),
        ("{\"methods\": [\"gradcam\"], \"inputs\": [\"x\"], \"outputs\": {\"dir\": \"o\"}}", "$.model: missing"),
        ("{\"model\": {\"path\": \"m.onnx\", \"mean\": [1, 2]}, \"methods\": [\"gradcam\"], \"inputs\": [\"x\"], \"outputs\": {\"dir\": \"o\"}}",
         "$.model.mean: expected one or three numbers"),
        ("{\"model\": {\"path\": \"m.onnx\"}, \"methods\": [], \"inputs\": [\"x\"], \"outputs\": {\"dir\": \"o\"}}", "$.methods: expected at least one method"),
        ("{\"model\": {\"path\": \"m.onnx\"}, \"methods\": [\"gradcam\"], \"inputs\": [\"x\"], \"outputs\": {\"dir\": \"o\", \"imageWeight\": 2}}",
         "$.outputs.imageWeight: expected a number in [0, 1], got 2"),
        ("{\"model\": {\"path\": \"m.onnx\"}, \"methods\": [\"gradcam\"], \"inputs\": [\"x\"], \"outputs\": {\"dir\": \"o\"}, \"shard\": \"3/3\"}",
         "$.shard: expected \"i/N\" with 0 ≤ i < N"),
        ("[1, 2]", "$: expected an object, got an array"),
        ("{\"model\": ", "not valid JSON"),
    ])
    func malformed(_ text: String, _ message: String) throws {
        let dir = try CommandRunner.temporaryFolder("manifest")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("bad.json")
        try text.write(to: path, atomically: true, encoding: .utf8)
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["run", path.path])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains(message), "\(r.stderr)")
    }

    @Test func aGlobThatMatchesNothingIsNamed() throws {
        let dir = try CommandRunner.temporaryFolder("glob")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("run.json")
        try """
        { "model": { "path": "\(Fixtures.repositoryRoot.appendingPathComponent("demo/efficientnet-lite0.onnx").path)" },
          "methods": ["gradcam"], "inputs": ["nothing/*.jpg"], "outputs": { "dir": "out" } }
        """.write(to: path, atomically: true, encoding: .utf8)
        let r = try CommandRunner.run(CommandRunner.swiftcam, ["run", path.path])
        #expect(r.status == 2 && r.stderr.contains("input 'nothing/*.jpg': no files match"), "\(r.stderr)")
    }
}
