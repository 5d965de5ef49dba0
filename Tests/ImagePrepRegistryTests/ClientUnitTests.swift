import Foundation
import ImagePrepOCI
@testable import ImagePrepRegistry
import XCTest

final class ClientUnitTests: XCTestCase {
    func testRetryAfterAndBackoff() {
        let policy = RetryPolicy(initialDelay: .milliseconds(100), maxDelay: .milliseconds(1000), maxRetryAfter: .seconds(5))
        XCTAssertEqual(policy.retryAfter("2"), .seconds(2))
        XCTAssertEqual(policy.retryAfter("600"), .seconds(5))
        XCTAssertNil(policy.retryAfter(nil))
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        XCTAssertEqual(policy.retryAfter("Tue, 14 Nov 2023 22:13:23 GMT", now: now), .seconds(3))
        XCTAssertEqual(policy.backoff(afterAttempt: 1), .milliseconds(100))
        XCTAssertEqual(policy.backoff(afterAttempt: 3), .milliseconds(400))
        XCTAssertEqual(policy.backoff(afterAttempt: 10), .milliseconds(1000))
    }

    func testSchema1AndMediaTypes() throws {
        let context = RegistryErrorContext(registry: "r", repository: "a", reference: "1", operation: "fetching manifest")
        let schema1 = Data(#"{"schemaVersion":1,"name":"a","tag":"1","fsLayers":[]}"#.utf8)
        XCTAssertThrowsError(try RegistryClient.manifestMediaType(schema1, contentType: "application/json", context: context)) {
            guard case RegistryError.schema1Manifest = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue("\($0)".contains("schema 1"))
        }
        let oci = Data(#"{"schemaVersion":2,"manifests":[]}"#.utf8)
        XCTAssertEqual(try RegistryClient.manifestMediaType(oci, contentType: nil, context: context), .ociIndex)
        XCTAssertEqual(try RegistryClient.manifestMediaType(Data(), contentType: "application/vnd.docker.distribution.manifest.v2+json; charset=utf-8", context: context), .dockerManifest)
    }

    func testServerMessageAndLinkHeader() {
        let body = Data(#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#.utf8)
        XCTAssertEqual(RegistryError.serverMessage(from: body), "MANIFEST_UNKNOWN: manifest unknown")
        let headers = HTTPHeaders([("Link", #"</v2/_catalog?last=b&n=2>; rel="next""#)])
        XCTAssertEqual(RegistryClient.nextPage(headers), "/v2/_catalog?last=b&n=2")
    }

    func testDigest() throws {
        XCTAssertEqual(Digest(of: Data("abc".utf8)).description,
                       "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertThrowsError(try Digest("sha256:ABC"))
        XCTAssertThrowsError(try Digest("md5:0123"))
    }
}
