import Foundation
import ImagePrepBuild
import ImagePrepConcurrency
import ImagePrepOCI
import ImagePrepPlan
import ImagePrepRegistry

/// What `imageprep image inspect` prints.
public struct ImageInspection: Sendable, Encodable {
    public struct Layer: Sendable, Encodable {
        public var digest: String
        public var size: Int64
        public var mediaType: String
    }

    public var name: String
    public var digest: String
    public var mediaType: String
    /// Every tag of the image's repository, as the registry lists them.
    public var repositoryTags: [String]
    public var created: String?
    public var dockerVersion: String?
    public var env: [String]
    /// The manifest list the image was picked from, if any.
    public var indexDigest: String?
    public var architecture: String?
    public var os: String?
    public var user: String?
    public var labels: [String: String]
    public var layers: [Layer]
    public var size: Int64
}
