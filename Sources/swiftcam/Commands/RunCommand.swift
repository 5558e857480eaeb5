import ArgumentParser
import CAMCore
import Foundation

/// `swiftcam run PIPELINE.json`: a run described in JSON, over files, folders and globs.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a JSON pipeline manifest (Schemas/pipeline.schema.json): models, methods, inputs, outputs."
    )

    @Argument(help: "The pipeline manifest.")
    var manifest: String

    @Flag(name: .long, help: "Redo outputs that are already up to date.")
    var force = false

    @Option(name: .long, help: "Take the i-th of N deterministic shares of the inputs (0 ≤ i < N), e.g. a Kubernetes completion index or Slurm array task.")
    var shard: String?

    @Flag(name: .long, help: "No progress output on stderr.")
    var quiet = false

    func validate() throws {
        if let shard { _ = try PipelineManifest.parseShard(shard) }
    }

    func run() throws {
        let m = try PipelineManifest.load(path: manifest)
        let progress = quiet ? nil : TerminalProgress(unit: "images")
        let runner = PipelineRunner(manifest: m, progress: progress) { Diagnostics.warning($0) }
        let report = try runner.run(force: force, shard: try shard.map { try PipelineManifest.parseShard($0) })
        progress?.finish()
        print("\(report.processed) explained, \(report.skipped) up to date, \(report.failed.count) failed → \(m.outputs.directory)")
        if let g = report.gallery { print("gallery: \(g)") }
        for f in report.failed { Diagnostics.error("\(f.input): \(f.reason)") }
        if !report.failed.isEmpty { throw ExitCode(1) }
    }
}
