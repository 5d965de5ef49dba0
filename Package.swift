// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "imageprep",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "imageprep", targets: ["imageprep"]),
        .library(name: "ImagePrepPlan", targets: ["ImagePrepPlan"]),
        .library(name: "ImagePrep", targets: ["ImagePrep"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // Pure planning: ContainerImagePrepare model, catalogs, template
        // rendering, filters, heat parameters. No I/O.
        .target(
            name: "ImagePrepPlan",
            dependencies: [.product(name: "Yams", package: "Yams")]
        ),
        // The prepare workflow: reads files, runs plan -> resolve -> transfer
        // -> write outputs.
        .target(
            name: "ImagePrep",
            dependencies: ["ImagePrepPlan", .product(name: "Yams", package: "Yams")]
        ),
        .executableTarget(
            name: "imageprep",
            dependencies: [
                "ImagePrep",
                "ImagePrepPlan",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "ImagePrepPlanTests",
            dependencies: ["ImagePrepPlan", .product(name: "Yams", package: "Yams")],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "ImagePrepTests",
            dependencies: ["ImagePrep", "ImagePrepPlan"],
            exclude: ["Fixtures"]
        ),
    ]
)
