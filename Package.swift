// swift-tools-version:6.0
import PackageDescription

// Layers, each its own target so the compiler keeps dependencies pointing one way:
//   Tensors ← Autodiff ← NN ← Robustness ← Pipeline ← atalp,  with Data, Store and Analysis beside them;
//   Cluster (MPI ranks and collectives) sits under Autodiff, which synchronises batch norm through it.
// The C* targets are implementation details: system libraries with a small shim header each.
let package = Package(
    name: "atalp",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "atalp", targets: ["atalp"]),
        .library(name: "Tensors", targets: ["Tensors"]),
        .library(name: "Autodiff", targets: ["Autodiff"]),
        .library(name: "NN", targets: ["NN"]),
        .library(name: "Robustness", targets: ["Robustness"]),
        .library(name: "Store", targets: ["Store"]),
        .library(name: "Data", targets: ["Data"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
        .library(name: "Analysis", targets: ["Analysis"]),
        .library(name: "Cluster", targets: ["Cluster"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        .package(url: "https://github.com/JohnSundell/Ink", from: "0.6.0"),
    ],
    targets: [
        // Public API
        .target(name: "Tensors", dependencies: ["CBLAS", "CDNNL", "Randomness"]),
        .target(name: "Autodiff", dependencies: ["Tensors", "Cluster"]),
        .target(name: "Cluster", dependencies: ["CMPI"]),
        .target(name: "NN", dependencies: ["Autodiff", "Store"]),
        .target(name: "Robustness", dependencies: ["NN", "Store", "Cluster"]),
        .target(name: "Store", dependencies: ["CHDF5", "Randomness", .product(name: "Crypto", package: "swift-crypto"), "ZIPFoundation"]),
        .target(name: "Data", dependencies: ["CJPEG", "CPNG", "CZlibSystem", "Randomness", "Store"]),
        .target(name: "Pipeline", dependencies: ["Robustness", "Data", "Store", "Analysis", "Cluster", .product(name: "Yams", package: "Yams")]),
        .target(name: "Analysis", dependencies: ["Tensors", "Autodiff", "NN", "Robustness", "Store", "CPNG", .product(name: "Ink", package: "Ink")]),
        .executableTarget(name: "atalp", dependencies: [
            "Tensors", "Autodiff", "NN", "Robustness", "Store", "Data", "Pipeline", "Analysis", "Cluster",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Benchmark of the Data module against Pillow (see benchmarks/data/)
        .executableTarget(name: "DataBench", dependencies: ["Data"], path: "benchmarks/data/DataBench"),

        // Implementation details: the one seeded generator (shared by Tensors, Data and Store); system libraries
        .target(name: "Randomness"),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),   // oneDNN 2.6 ships no .pc file
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .systemLibrary(name: "CZlibSystem", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // Tests
        .testTarget(name: "TensorsTests", dependencies: ["Tensors"]),
        .testTarget(name: "AutodiffTests", dependencies: ["Autodiff", "NN"]),
        .testTarget(name: "NNTests", dependencies: ["NN"]),
        .testTarget(name: "RobustnessTests", dependencies: ["Robustness", "Data", "Store"]),
        .testTarget(name: "StoreTests", dependencies: ["Store"]),
        .testTarget(name: "DataTests", dependencies: ["Data"], exclude: ["DecoderCorpus"]),   // read from the source tree
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "NN", "Robustness", "Store"]),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster", "Autodiff", "NN", "Robustness", "Store"]),
        .testTarget(name: "AnalysisTests", dependencies: ["Analysis", "Tensors", "Autodiff", "NN", "Robustness", "Store"]),
    ],
    swiftLanguageModes: [.v6]
)
