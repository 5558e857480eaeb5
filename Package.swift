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
    plugin("HiResCAMPlugin", product: "swiftcam-hirescam", path: "Plugins/HiResCAM"),
    plugin("GradCAMElementWisePlugin", product: "swiftcam-gradcamelementwise", path: "Plugins/GradCAMElementWise"),
    plugin("GradCAMPlusPlusPlugin", product: "swiftcam-gradcamplusplus", path: "Plugins/GradCAMPlusPlus"),
    plugin("XGradCAMPlugin", product: "swiftcam-xgradcam", path: "Plugins/XGradCAM"),
    plugin("LayerCAMPlugin", product: "swiftcam-layercam", path: "Plugins/LayerCAM"),
    plugin("EigenCAMPlugin", product: "swiftcam-eigencam", path: "Plugins/EigenCAM"),
    plugin("EigenGradCAMPlugin", product: "swiftcam-eigengradcam", path: "Plugins/EigenGradCAM"),
    plugin("SegEigenCAMPlugin", product: "swiftcam-segeigencam", path: "Plugins/SegEigenCAM"),
    plugin("FEMPlugin", product: "swiftcam-fem", path: "Plugins/FEM"),
    plugin("RandomCAMPlugin", product: "swiftcam-randomcam", path: "Plugins/RandomCAM"),
    plugin("FullGradPlugin", product: "swiftcam-fullgrad", path: "Plugins/FullGrad"),
    plugin("FinerCAMPlugin", product: "swiftcam-finercam", path: "Plugins/FinerCAM"),
    plugin("RefineCAMPlugin", product: "swiftcam-refinecam", path: "Plugins/RefineCAM"),
    plugin("GuidedBackpropPlugin", product: "swiftcam-guidedbackprop", path: "Plugins/GuidedBackprop"),
    plugin("ShapleyCAMPlugin", product: "swiftcam-shapleycam", path: "Plugins/ShapleyCAM"),
    plugin("ScoreCAMPlugin", product: "swiftcam-scorecam", path: "Plugins/ScoreCAM"),
    plugin("AblationCAMPlugin", product: "swiftcam-ablationcam", path: "Plugins/AblationCAM"),
    plugin("KPCACAMPlugin", product: "swiftcam-kpcacam", path: "Plugins/KPCACAM"),
    plugin("SobelCAMPlugin", product: "swiftcam-sobelcam", path: "Plugins/SobelCAM"),
    plugin("SESSPlugin", product: "swiftcam-sess", path: "Plugins/SESS"),
    plugin("KerasImporterPlugin", product: "swiftcam-keras", path: "Plugins/KerasImporter/Importer", dependencies: ["KerasFormat"]),
    // CAM quality metrics (issue 9): grouped as upstream's modules are; each metric registered by name.
    plugin("ConfidenceMetricsPlugin", product: "swiftcam-confidence-metrics", path: "Plugins/ConfidenceMetrics"),
    plugin("PerturbationMetricsPlugin", product: "swiftcam-perturbation-metrics", path: "Plugins/PerturbationMetrics"),
    plugin("ROADMetricsPlugin", product: "swiftcam-road-metrics", path: "Plugins/ROADMetrics"),
    plugin("ARCCMetricsPlugin", product: "swiftcam-arcc-metrics", path: "Plugins/ARCCMetrics"),
    // Deep feature factorization: NMF of a layer's activations (sklearn's coordinate descent).
    plugin("DFFPlugin", product: "swiftcam-dff", path: "Plugins/DFF"),
    plugin("TransformerReshapesPlugin", product: "swiftcam-transformers", path: "Plugins/TransformerReshapes"),
    plugin("DetectionTargetsPlugin", product: "swiftcam-detection", path: "Plugins/DetectionTargets"),
]

let package = Package(
    name: "SwiftCAM",
    products: [
        .executable(name: "swiftcam", targets: ["swiftcam"]),
    ] + plugins.map(\.0),
    dependencies: [
        .package(path: "Sources/CAMCore"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "swiftcam",
            dependencies: [core, .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")],
            path: "Sources/swiftcam"
        ),
        // protoc-c output for Schemas/onnx.proto (regenerate with scripts/generate-onnx-proto.sh).
        .target(name: "ONNXProto", path: "Plugins/ONNXImporter/ONNXProto", linkerSettings: [.linkedLibrary("protobuf-c")]),
        // ONNX files as plain Swift values, validated. Linked statically into the plugin (and into
        // the tests that check it directly); it holds no state, so two copies in one process are harmless.
        .target(name: "ONNXFormat", dependencies: [core, "ONNXProto"], path: "Plugins/ONNXImporter/ONNXFormat"),
        // libhdf5 (Debian's serial build), called only in a forked reader process: a damaged file
        // that crashes libhdf5 ends that process, not SwiftCAM.
        .target(name: "CHDF5", path: "Plugins/KerasImporter/CHDF5", linkerSettings: [.linkedLibrary("hdf5_serial")]),
        // Keras .h5 files as plain Swift values (config, weights). Linked statically into the Keras
        // plugin and into the tests that check it directly.
        .target(name: "KerasFormat", dependencies: [core, "CHDF5"], path: "Plugins/KerasImporter/KerasFormat"),
        .target(name: "TestSupport", dependencies: [core], path: "Tests/TestSupport"),
        .testTarget(name: "CAMCoreTests", dependencies: [core, "TestSupport"], path: "Tests/CAMCoreTests", exclude: ["Image/Fixtures"]),
        .testTarget(name: "ONNXImporterTests", dependencies: [core, "TestSupport", "ONNXFormat"], path: "Tests/ONNXImporterTests", exclude: ["conformance-allowlist.txt"]),
        .testTarget(name: "KerasImporterTests", dependencies: [core, "TestSupport", "KerasFormat"], path: "Tests/KerasImporterTests",
                    exclude: ["Fixtures"]),
        .testTarget(name: "CAMMethodTests", dependencies: [core, "TestSupport"], path: "Tests/CAMMethodTests"),
        .testTarget(name: "MetricTests", dependencies: [core, "TestSupport"], path: "Tests/MetricTests"),
        .testTarget(name: "DFFTests", dependencies: [core, "TestSupport"], path: "Tests/DFFTests", exclude: ["Fixtures"]),
        .testTarget(name: "CLITests", dependencies: [core, "TestSupport"], path: "Tests/CLITests"),
    ] + plugins.map(\.1)
)
