import Foundation
import ImagePrepOCI
import ImagePrepRegistry
import ImagePrepTestSupport
import XCTest

/// Faults no real registry produces on demand, injected by the fault proxy in front of a
/// real `docker-registry`: stalls and resets in the middle of a body, redirects to another
/// loopback host, oversized and endless answers.
final class FaultInjectionTests: XCTestCase {
    static let user = "deployer"
    static let password = "fault-Pa55word"
    nonisolated(unsafe) static var registry: RegistryServer!
    nonisolated(unsafe) static var proxy: FaultProxy!
    /// A registry with htpasswd auth, behind its own proxy.
    nonisolated(unsafe) static var locked: RegistryServer!
    nonisolated(unsafe) static var lockedProxy: FaultProxy!
    /// Another "host" (127.0.0.2) in front of the open registry.
    nonisolated(unsafe) static var elsewhere: FaultProxy!

    override class func setUp() {
        super.setUp()
        do {
            registry = try RegistryServer()
            proxy = try FaultProxy(upstream: registry.address)
            locked = try RegistryServer(auth: .htpasswd(user: user, password: password))
            lockedProxy = try FaultProxy(upstream: locked.address)
            elsewhere = try FaultProxy(upstream: registry.address, host: "127.0.0.2")
        } catch {
            fatalError("cannot start docker-registry and the fault proxies: \(error)")
        }
    }

    override class func tearDown() {
        elsewhere?.stop()
        lockedProxy?.stop()
        locked?.stop()
        proxy?.stop()
        registry?.stop()
        super.tearDown()
    }

    var registry: RegistryServer { Self.registry }
    var proxy: FaultProxy { Self.proxy }

    func client(maxAttempts: Int = 3, stall: Duration = .seconds(2), credentials: CredentialStore? = nil)
        -> RegistryClient
    {
        RegistryClient(configuration: .init(
            credentials: credentials,
            insecureRegistries: [registry.address, proxy.address, Self.elsewhere.address, Self.locked.address,
                                 Self.lockedProxy.address],
            retry: RetryPolicy(maxAttempts: maxAttempts, initialDelay: .milliseconds(50), maxDelay: .milliseconds(200)),
            timeouts: TransferTimeouts(stall: stall, connect: .seconds(2))))
    }

    /// How the proxy answered requests matching `prefix` since `count` lines.
    func outcomes(_ prefix: String, after count: Int) -> [String] {
        proxy.requests().dropFirst(count).filter { $0.hasPrefix(prefix) }.map {
            $0.split(separator: " ").suffix(2).joined(separator: " ")
        }
    }

    func pushImage(_ repository: String, seed: String, size: Int = 512 * 1024) async throws -> TestImages.Pushed {
        try await TestImages.push(client(), to: try Reference("\(registry.address)/\(repository):1"),
                                  layers: [TestImages.layer(seed: seed, size: size)])
    }

    func testStalledBlobIsAbortedAfterStallTimeoutAndRetried() async throws {
        let pushed = try await pushImage("fault/stall", seed: "stall-once")
        let layer = pushed.manifest.layers[0].digest
        try proxy.setRules([.init(match: "^GET /v2/fault/stall/blobs/\(layer)", action: .stall, times: 1)])
        let before = proxy.requests().count

        let started = Date()
        let report = try await ImageCopier(client: client()).copy(
            from: try Reference("\(proxy.address)/fault/stall:1"),
            to: try Reference("\(registry.address)/fault/stall-copy:1"))
        let elapsed = Date().timeIntervalSince(started)

        XCTAssertEqual(report.digest, pushed.digest)
        // The second request continues the blob where the stall left it (BlobResumeTests).
        XCTAssertEqual(outcomes("GET /v2/fault/stall/blobs/\(layer)", after: before), ["200 stall", "206 forwarded"])
        XCTAssertGreaterThanOrEqual(elapsed, 2, "the stall was waited out for the stall timeout")
        XCTAssertLessThan(elapsed, 30, "then aborted and retried, not waited on")
        let copied = try await client().headManifest(try Reference("\(registry.address)/fault/stall-copy:1"))
        XCTAssertEqual(copied?.digest, pushed.digest)
    }

    func testStallThatNeverEndsFailsTheCopyClearlyWithinBoundedTime() async throws {
        let pushed = try await pushImage("fault/stuck", seed: "stall-always")
        let layer = pushed.manifest.layers[0].digest
        try proxy.setRules([.init(match: "^GET /v2/fault/stuck/blobs/\(layer)", action: .stall, times: -1)])

        let started = Date()
        do {
            _ = try await ImageCopier(client: client(maxAttempts: 2)).copy(
                from: try Reference("\(proxy.address)/fault/stuck:1"),
                to: try Reference("\(registry.address)/fault/stuck-copy:1"))
            XCTFail("a source that never finishes the blob cannot be copied")
        } catch let error as RegistryError {
            let text = error.description
            XCTAssertTrue(text.contains("the transfer stalled: no data for 2 s (--stall-timeout)"), text)
            XCTAssertTrue(text.contains("fault/stuck@\(layer)"), text)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 30)
        let copied = try await client().headManifest(try Reference("\(registry.address)/fault/stuck-copy:1"))
        XCTAssertNil(copied, "no tag names an incomplete image")
    }

    func testStallTimeoutFromTheCommandLine() async throws {
        let pushed = try await pushImage("fault/cli-stall", seed: "cli-stall")
        let layer = pushed.manifest.layers[0].digest
        try proxy.setRules([.init(match: "^GET /v2/fault/cli-stall/blobs/\(layer)", action: .stall, times: -1)])
        let started = Date()
        let result = try CLI.run([
            "image", "copy", "\(proxy.address)/fault/cli-stall:1", "\(registry.address)/fault/cli-stall-copy:1",
            "--insecure-registry", proxy.address, "--insecure-registry", registry.address, "--stall-timeout", "1",
        ])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("the transfer stalled: no data for 1 s (--stall-timeout)"), result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 60, "five attempts of one second each and their backoff")
        let bad = try CLI.run(["image", "copy", "a/b:1", "c/d:1", "--stall-timeout", "0"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("--stall-timeout must be between 1 and 3600 seconds"), bad.stderr)
    }

    func testServerThatNeverAnswersIsBoundedByTheStallTimeout() async throws {
        _ = try await pushImage("fault/silent", seed: "silent")
        // The answer's headers come only after the body would: a stall before any header.
        try proxy.setRules([.init(match: "^GET /v2/fault/silent/manifests/1", action: .stall, times: -1)])
        let started = Date()
        do {
            _ = try await client(maxAttempts: 1).fetchManifest(try Reference("\(proxy.address)/fault/silent:1"))
            XCTFail("expected the stalled manifest to fail")
        } catch let error as RegistryError {
            XCTAssertTrue(error.description.contains("no data for 2 s"), error.description)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 20)
    }

    func testConnectionResetMidBodyIsRetried() async throws {
        let pushed = try await pushImage("fault/reset", seed: "reset")
        let layer = pushed.manifest.layers[0].digest
        try proxy.setRules([.init(match: "^GET /v2/fault/reset/blobs/\(layer)", action: .reset, times: 2)])
        let before = proxy.requests().count

        let report = try await ImageCopier(client: client()).copy(
            from: try Reference("\(proxy.address)/fault/reset:1"),
            to: try Reference("\(registry.address)/fault/reset-copy:1"))

        XCTAssertEqual(report.digest, pushed.digest)
        XCTAssertEqual(outcomes("GET /v2/fault/reset/blobs/\(layer)", after: before),
                       ["200 reset", "206 reset", "206 forwarded"])
    }

    func testOversizedManifestIsAnErrorNotATruncatedDocument() async throws {
        _ = try await pushImage("fault/huge", seed: "huge")
        try proxy.setRules([.init(match: "^GET /v2/fault/huge/manifests/1", action: .oversize, times: -1,
                                  bytes: 9 * 1024 * 1024)])
        do {
            _ = try await client().fetchManifest(try Reference("\(proxy.address)/fault/huge:1"))
            XCTFail("a 9 MiB manifest is over the cap")
        } catch let error as RegistryError {
            XCTAssertTrue(error.description.contains("larger than"), error.description)
            XCTAssertTrue(error.description.contains("fault/huge:1"), error.description)
        }
    }

    func testTagPaginationThatLoopsIsAnError() async throws {
        _ = try await pushImage("fault/pages", seed: "pages")
        try proxy.setRules([.init(match: "^GET /v2/fault/pages/tags/list", action: .loop, times: -1)])
        do {
            let tags = try await client().listTags(try Reference("\(proxy.address)/fault/pages:1"))
            XCTFail("endless pagination returned \(tags.count) tags")
        } catch let error as RegistryError {
            XCTAssertTrue(error.description.contains("the pagination links lead back to"), error.description)
            XCTAssertTrue(error.description.contains("fault/pages"), error.description)
        }
    }

    /// A client holding Basic credentials for the locked registry, reached through its proxy.
    func lockedClient() throws -> RegistryClient {
        client(credentials: try CredentialStore(userPasswords: [
            Self.lockedProxy.address: (user: Self.user, password: Self.password),
            Self.locked.address: (user: Self.user, password: Self.password),
        ]))
    }

    func testRedirectToAnotherHostCarriesNoCredentials() async throws {
        // The same blob in the locked registry and in the open one behind 127.0.0.2.
        let layer = TestImages.layer(seed: "redirect")
        let pushed = try await TestImages.push(try lockedClient(), to: try Reference("\(Self.locked.address)/fault/redirect:1"),
                                               layers: [layer])
        _ = try await TestImages.push(client(), to: try Reference("\(registry.address)/fault/redirect:1"), layers: [layer])
        let digest = pushed.manifest.layers[0].digest
        try Self.lockedProxy.setRules([.init(match: "^GET /v2/fault/redirect/blobs/\(digest)", action: .redirect,
                                             times: -1, location: "http://\(Self.elsewhere.address)")])
        let beforeHere = Self.lockedProxy.authorizationLog().count
        let beforeThere = Self.elsewhere.authorizationLog().count

        let data = try await blobData(try lockedClient(), try Reference("\(Self.lockedProxy.address)/fault/redirect"),
                                      pushed.manifest.layers[0])

        XCTAssertEqual(Digest(of: data), digest)
        XCTAssertEqual(Array(Self.elsewhere.authorizationLog().dropFirst(beforeThere)),
                       ["GET /v2/fault/redirect/blobs/\(digest) anonymous"])
        XCTAssertEqual(Self.lockedProxy.authorizationLog().dropFirst(beforeHere).filter { $0.contains("/blobs/") },
                       ["GET /v2/fault/redirect/blobs/\(digest) auth"])
    }

    func testUploadLocationOnAnotherHostCarriesNoCredentials() async throws {
        try Self.lockedProxy.setRules([.init(match: "^POST /v2/fault/elsewhere/blobs/uploads/", action: .relocate,
                                             times: -1, location: "http://\(Self.elsewhere.address)")])
        let beforeThere = Self.elsewhere.authorizationLog().count
        do {
            _ = try await lockedClient().pushBlob(TestImages.layer(seed: "relocated"),
                                                   to: try Reference("\(Self.lockedProxy.address)/fault/elsewhere"))
        } catch {
            // The other host knows nothing of the session: only what was sent there matters.
        }
        let there = Array(Self.elsewhere.authorizationLog().dropFirst(beforeThere))
        XCTAssertFalse(there.isEmpty, "the upload went to the session's host")
        XCTAssertTrue(there.allSatisfy { $0.hasSuffix(" anonymous") }, "\(there)")
    }

    func blobData(_ client: RegistryClient, _ repository: Reference, _ descriptor: Descriptor) async throws -> Data {
        let collected = LockedData()
        _ = try await client.fetchBlob(repository, descriptor: descriptor) { bytes in collected.append(bytes) }
        return collected.data
    }
}

/// Bytes collected from a body writer's thread.
final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var storage = Data()

    func append(_ bytes: UnsafeRawBufferPointer) {
        lock.lock()
        storage.append(contentsOf: bytes)
        lock.unlock()
    }

    var data: Data {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }
}

/// Bearer tokens that expire every second, with more streamed copies than transport slots.
final class TokenRefreshUnderLoadTests: XCTestCase {
    static let user = "deployer"
    static let password = "refresh-Pa55word"
    nonisolated(unsafe) static var tokens: TokenServer!
    nonisolated(unsafe) static var source: RegistryServer!
    nonisolated(unsafe) static var destination: RegistryServer!

    // Servers start here, on the main thread: a process started from a task inherits the
    // worker thread's blocked signals and would not stop on SIGTERM.
    override class func setUp() {
        super.setUp()
        do {
            tokens = try TokenServer(user: user, password: password, lifetime: 1)
            source = try RegistryServer(auth: tokens.registryAuth)
            destination = try RegistryServer()
        } catch {
            fatalError("cannot start docker-registry with 1-second tokens: \(error)")
        }
    }

    override class func tearDown() {
        destination?.stop()
        source?.stop()
        tokens?.stop()
        super.tearDown()
    }

    func testSixteenConcurrentCopiesWithOneSecondTokensFinish() async throws {
        let (tokens, source, destination) = (Self.tokens!, Self.source!, Self.destination!)
        let credentials = try CredentialStore(userPasswords: [source.address: (user: Self.user, password: Self.password)])
        func client() -> RegistryClient {
            RegistryClient(configuration: .init(
                credentials: credentials, insecureRegistries: [source.address, destination.address],
                maxConcurrentRequests: 8, retry: RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(50))))
        }
        var layers: [(Reference, Descriptor)] = []
        for index in 0..<16 {
            let reference = try Reference("\(source.address)/refresh/image-\(index):1")
            let pushed = try await TestImages.push(client(), to: reference,
                                                   layers: [TestImages.layer(seed: "refresh-\(index)", size: 256 * 1024)])
            layers.append((reference, pushed.manifest.layers[0]))
        }
        // A fresh client: every copy needs a token while it holds its two slots.
        let copier = client()
        let work = Task {
            try await withThrowingTaskGroup(of: Int64.self) { group in
                for (index, (reference, layer)) in layers.enumerated() {
                    group.addTask {
                        let target = try Reference("\(destination.address)/refresh/copy-\(index):1")
                        return try await copier.copyBlob(layer, from: reference, to: target)
                    }
                }
                var total: Int64 = 0
                for try await bytes in group { total += bytes }
                return total
            }
        }
        // The watchdog: a deadlock never finishes, so wait for the result or 90 s, whichever comes first.
        let finished = expectation(description: "copies finished")
        let outcome = LockedResult()
        Task {
            outcome.set(await work.result)
            finished.fulfill()
        }
        await fulfillment(of: [finished], timeout: 90)
        guard let result = outcome.value else {
            return XCTFail("16 copies with 1-second tokens did not finish in 90 s: a token request waits behind the copies")
        }
        XCTAssertEqual(try result.get(), 16 * 256 * 1024)
        XCTAssertGreaterThan(tokens.hits().count, 16, "tokens were requested while copies held their slots")
    }
}

final class LockedResult: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Result<Int64, any Error>?

    func set(_ result: Result<Int64, any Error>) {
        lock.lock()
        stored = result
        lock.unlock()
    }

    var value: Result<Int64, any Error>? {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }
}

/// A registry nobody answers for: the run gives it up after one request's retries.
final class UnreachableRegistryTests: XCTestCase {
    func testDeadRegistryIsGivenUpAfterOneRequestsRetries() async throws {
        let dead = "127.0.0.1:\(try RegistryServer.freePort())"
        let client = RegistryClient(configuration: .init(
            insecureRegistries: [dead],
            retry: RetryPolicy(maxAttempts: 4, initialDelay: .milliseconds(400), maxDelay: .seconds(2))))

        let started = Date()
        var messages: [String] = []
        for index in 0..<30 {
            do {
                _ = try await client.fetchManifest(try Reference("\(dead)/tripleomaster/image-\(index):current-tripleo"))
                XCTFail("nothing listens on \(dead)")
            } catch let error as RegistryError {
                messages.append(error.description)
            }
        }
        let elapsed = Date().timeIntervalSince(started)

        // One request's backoff (0.4 + 0.8 + 1.6 s per scheme) instead of thirty.
        XCTAssertLessThan(elapsed, 15, "30 images on a dead registry must not each go through the retries")
        XCTAssertTrue(messages[0].contains("cannot reach registry \(dead)"), messages[0])
        XCTAssertEqual(messages.dropFirst().filter { $0.contains("registry \(dead) is unreachable (given up for this run") }.count,
                       29, messages.last ?? "")
        XCTAssertTrue(messages[29].contains("tripleomaster/image-29"), messages[29])
    }
}
