// swift-tools-version:6.0
// The SwiftCAM core: tensor runtime, graph IR, autodiff, plugin host, images.
//
// It is its own package so that `CAMCore` can be a *dynamic* library product that the
// `swiftcam` executable, every plugin `.so` and the tests link by product: then exactly one
// copy of the core (one plugin registry, one set of type metadata) lives in the process.
// Library evolution keeps plugins built against an older core working across additive changes.
import PackageDescription

let package = Package(
    name: "CAMCore",
    products: [
        .library(name: "CAMCore", type: .dynamic, targets: ["CAMCore"]),
    ],
    targets: [
        .systemLibrary(name: "CImageCodecs", path: "Sources/CImageCodecs"),
        // Hot loops built per instruction set (AVX-512, AVX2, baseline), chosen at load time.
        // No FMA contraction: the AVX-512, AVX2 and baseline builds of each kernel then round
        // identically, so results do not depend on the CPU (and match the Swift reference loops).
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off"])]),
        .target(
            name: "CAMCore",
            dependencies: ["CImageCodecs", "CKernels"],
            path: "Sources/CAMCore",
            swiftSettings: [
                .unsafeFlags(["-enable-library-evolution"]),
                // Whole-module in release only: in a debug build it clashes with SwiftPM's
                // per-file objects and index units, and the build fails.
                .unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release)),
            ],
            linkerSettings: [
                .linkedLibrary("dl"),
                .linkedLibrary("png16"),
                .linkedLibrary("turbojpeg"),
            ]
        ),
    ],
    swiftLanguageModes: [.v5]
)
