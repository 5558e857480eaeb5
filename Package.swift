// swift-tools-version:6.0
// SwiftCAM: class activation maps for ONNX and Keras models, on its own tensor runtime.
//
// Layout (see README.md, "Architecture"):
//   Sources/CAMCore   — a local package whose dynamic library `CAMCore` is the host core:
//                       tensors, graph IR, autodiff, executor, plugin host, CAM pipeline, images.
//   Sources/swiftcam  — the command-line tool.
//   Plugins/<Name>    — each a shared library (`libswiftcam-<name>.so`) loaded with dlopen.
//   Tests/            — tests; they load the plugins from the build folder like the tool does.
import PackageDescription

let core: Target.Dependency = .product(name: "CAMCore", package: "CAMCore")

/// A plugin: its own dynamic library product, linked against the one shared CAMCore.
func plugin(_ name: String, product: String, path: String, dependencies: [Target.Dependency] = []) -> (Product, Target) {
    (.library(name: product, type: .dynamic, targets: [name]),
     .target(name: name, dependencies: [core] + dependencies, path: path))
}

let plugins = [
    plugin("ONNXImporterPlugin", product: "swiftcam-onnx", path: "Plugins/ONNXImporter/Importer", dependencies: ["ONNXFormat"]),
    plugin("GradCAMPlugin", product: "swiftcam-gradcam", path: "Plugins/GradCAM"),
    plugin("TransformerReshapesPlugin", product: "swiftcam-transformers", path: "Plugins/TransformerReshapes"),
]

let package = Package(
    name: "SwiftCAM",
    products: [
        .executable(name: "swiftcam", targets: ["swiftcam"]),
    ] + plugins.map(\.0),
    dependencies: [
        .package(path: "Sources/CAMCore"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .executableTarget(
            name: "swiftcam",
            dependencies: [core, .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/swiftcam"
        ),
        // protoc-c output for Schemas/onnx.proto (regenerate with scripts/generate-onnx-proto.sh).
        .target(name: "ONNXProto", path: "Plugins/ONNXImporter/ONNXProto", linkerSettings: [.linkedLibrary("protobuf-c")]),
        // ONNX files as plain Swift values, validated. Linked statically into the plugin (and into
        // the tests that check it directly); it holds no state, so two copies in one process are harmless.
        .target(name: "ONNXFormat", dependencies: [core, "ONNXProto"], path: "Plugins/ONNXImporter/ONNXFormat"),
        .target(name: "TestSupport", dependencies: [core], path: "Tests/TestSupport"),
        .testTarget(name: "CAMCoreTests", dependencies: [core, "TestSupport"], path: "Tests/CAMCoreTests", exclude: ["Image/Fixtures"]),
        .testTarget(name: "ONNXImporterTests", dependencies: [core, "TestSupport", "ONNXFormat"], path: "Tests/ONNXImporterTests", exclude: ["conformance-allowlist.txt"]),
        .testTarget(name: "CAMMethodTests", dependencies: [core, "TestSupport"], path: "Tests/CAMMethodTests"),
        .testTarget(name: "CLITests", dependencies: [core, "TestSupport"], path: "Tests/CLITests"),
    ] + plugins.map(\.1)
)
