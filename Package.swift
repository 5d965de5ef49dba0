// swift-tools-version:6.0
import PackageDescription

// imageprep runs on Linux (the undercloud): libcurl, libarchive, buildah and
// glibc symbol versioning are assumed, so no other platform is claimed.
let package = Package(
    name: "imageprep",
    products: [
        .executable(name: "imageprep", targets: ["ImagePrepCLI"]),
        .library(name: "ImagePrepPlan", targets: ["ImagePrepPlan"]),
        .library(name: "ImagePrep", targets: ["ImagePrep"]),
        .library(name: "ImagePrepArchive", targets: ["ImagePrepArchive"]),
        .library(name: "ImagePrepBuild", targets: ["ImagePrepBuild"]),
        .library(name: "ImagePrepRegistry", targets: ["ImagePrepRegistry"]),
        .library(name: "ImagePrepOCI", targets: ["ImagePrepOCI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", exact: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", exact: "1.8.1"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", exact: "0.6.0"),
    ],
    targets: [
        // Pure planning: ContainerImagePrepare model, catalogs, template
        // rendering, filters, heat parameters. No I/O.
        .target(
            name: "ImagePrepPlan",
            dependencies: ["ImagePrepOCI", .product(name: "Yams", package: "Yams")]
        ),
        // The prepare workflow: reads files, runs plan -> resolve -> transfer
        // -> write outputs.
        .target(
            name: "ImagePrep",
            dependencies: [
                "ImagePrepPlan", "ImagePrepRegistry", "ImagePrepBuild", "ImagePrepArchive", "ImagePrepOCI", "ImagePrepConcurrency",
                "ImagePrepFiles",
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The OCI image model: digests, descriptors, media types, manifests,
        // indexes, image configs, references, platforms. Pure values; no I/O.
        .target(
            name: "ImagePrepOCI",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        // Concurrency mechanisms, one of each: the slot limiter and the way blocking
        // C work leaves the cooperative pool.
        .target(name: "ImagePrepConcurrency"),
        // Files a crash or a reader never sees half-written, one of each mechanism: the
        // durable write (temporary, flush, rename, flush the directory), the lock file, and
        // the temporaries named for the run that owns them.
        .target(name: "ImagePrepFiles", dependencies: ["ImagePrepConcurrency"]),
        // libcurl, wrapped once in ImagePrepRegistry's transport.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // The registry client (OCI distribution API) over libcurl.
        .target(
            name: "ImagePrepRegistry",
            dependencies: [
                "CCurl",
                "ImagePrepConcurrency",
                "ImagePrepFiles",
                "ImagePrepOCI",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // libarchive, wrapped once in ImagePrepArchive.
        .systemLibrary(
            name: "CArchive",
            pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"])]
        ),
        // Layer and RPM inspection over libarchive.
        .target(
            name: "ImagePrepArchive",
            dependencies: ["CArchive"]
        ),
        // Image modification: build contexts, Dockerfile.modified, buildah.
        .target(
            name: "ImagePrepBuild",
            dependencies: [
                "ImagePrepPlan",
                "ImagePrepArchive",
                "ImagePrepOCI",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // Older glibc/libstdc++ symbol versions for three functions, so a binary
        // built on Debian 12 runs on RHEL 9 (Sources/CGlibcCompat/glibc_compat.c).
        .target(name: "CGlibcCompat"),
        // The command line: parses, calls the workflow, renders. The product is `imageprep`.
        .executableTarget(
            name: "ImagePrepCLI",
            dependencies: [
                "CGlibcCompat",
                "ImagePrep",
                "ImagePrepPlan",
                "ImagePrepArchive",
                "ImagePrepBuild",
                "ImagePrepConcurrency",
                "ImagePrepOCI",
                "ImagePrepRegistry",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            linkerSettings: [
                .unsafeFlags(
                    [
                        "-Xlinker", "--wrap=hypot", "-Xlinker", "--wrap=hypotf",
                        "-Xlinker", "--wrap=_ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE",
                    ], .when(platforms: [.linux]))
            ]
        ),
        // Runs the built binary and builds real RPMs for the tests.
        .target(
            name: "ImagePrepTestSupport",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            path: "Tests/TestSupport",
            exclude: ["Servers"]
        ),
        .testTarget(
            name: "ImagePrepPlanTests",
            dependencies: ["ImagePrepOCI", "ImagePrepPlan", "ImagePrepTestSupport"]
        ),
        .testTarget(
            name: "ImagePrepTests",
            dependencies: [
                "ImagePrep", "ImagePrepArchive", "ImagePrepConcurrency", "ImagePrepOCI", "ImagePrepPlan", "ImagePrepRegistry",
                "ImagePrepTestSupport",
            ]
        ),
        .testTarget(
            name: "ImagePrepRegistryTests",
            dependencies: ["ImagePrepConcurrency", "ImagePrepOCI", "ImagePrepRegistry", "ImagePrepTestSupport"]
        ),
        .testTarget(
            name: "ImagePrepBuildTests",
            dependencies: ["ImagePrepArchive", "ImagePrepBuild", "ImagePrepOCI", "ImagePrepPlan", "ImagePrepTestSupport"]
        ),
        .testTarget(
            name: "ImagePrepConcurrencyTests",
            dependencies: ["ImagePrepConcurrency"]
        ),
        .testTarget(
            name: "ImagePrepFilesTests",
            dependencies: ["ImagePrepFiles"]
        ),
        .testTarget(
            name: "ImagePrepOCITests",
            dependencies: ["ImagePrepOCI"]
        ),
        .testTarget(
            name: "ImagePrepArchiveTests",
            dependencies: ["ImagePrepArchive", "ImagePrepTestSupport"]
        ),
    ]
)

// libFuzzer targets for the parsers of untrusted bytes (Fuzz/Sources, seeds in
// Fuzz/corpus).
// Declared only when IMAGEPREP_FUZZ is set — scripts/fuzz sets it and builds
// with `-sanitize=fuzzer,address` into its own scratch path — so the normal
// build and `swift build --build-tests` never see them.
if Context.environment["IMAGEPREP_FUZZ"] != nil {
    package.targets.append(contentsOf: [
        // Declares libFuzzer's LLVMFuzzerRunDriver (linked by -sanitize=fuzzer).
        .target(name: "CFuzzDriver", path: "Fuzz/CFuzzDriver"),
        .executableTarget(
            name: "imageprep-fuzz",
            dependencies: ["CFuzzDriver", "ImagePrepArchive", "ImagePrepBuild", "ImagePrepOCI", "ImagePrepPlan", "ImagePrepRegistry"],
            path: "Fuzz/Sources"
        ),
    ])
}

// Every target names the modules whose members it uses (SE-0444), so an import that
// only works because another file imported the module is an error.
for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + [.enableUpcomingFeature("MemberImportVisibility")]
}
