import Foundation

/// What the image-serve workflow tests (bundle, prune) share: a source docker-registry,
/// Debian's real apache2 serving an image-serve directory, and a second docker-registry.
/// Start it in a class `setUp` (the main thread): apache started from a test's async body
/// inherits that thread's blocked signals and ignores the SIGTERM that stops it.
public final class ImageServeFixture: @unchecked Sendable {
    public let source: RegistryServer
    public let imageServe: ImageServeServer
    public let registry: RegistryServer

    /// Starts the three; when one fails, those already started are stopped.
    public init() throws {
        source = try RegistryServer()
        do {
            imageServe = try ImageServeServer()
        } catch {
            source.stop()
            throw error
        }
        do {
            registry = try RegistryServer()
        } catch {
            imageServe.stop()
            source.stop()
            throw error
        }
    }

    public func stop() {
        registry.stop()
        imageServe.stop()
        source.stop()
    }

    /// `size` bytes that do not compress, the same for the same `seed`: an image layer.
    public static func layer(_ seed: String, size: Int) -> Data {
        var state = UInt64(truncatingIfNeeded: seed.utf8.reduce(5381) { ($0 &* 33) &+ Int($1) })
        return Data((0..<size).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        })
    }
}
