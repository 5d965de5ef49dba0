import Foundation

/// The undercloud's registry for `push_destination: true`: the canonical
/// name the hosts database gives `<short hostname>.ctlplane` (the undercloud
/// install writes it to /etc/hosts), else `localhost`, on port 8787.
public enum UndercloudRegistry {
    public static func address(hostsFile: String = "/etc/hosts", hostname: String = ProcessInfo.processInfo.hostName) -> String {
        let short = hostname.split(separator: ".").first.map(String.init) ?? hostname
        let text = (try? FileSystem.readText(hostsFile)) ?? ""
        return (canonicalName(of: "\(short).ctlplane", hosts: text) ?? "localhost") + ":8787"
    }

    /// Whether a push destination's `host:port` is on the undercloud registry's port, 8787:
    /// the undercloud serves it over plain HTTP, so it is reached insecurely without being
    /// marked (as the env files tripleoclient writes expect).
    public static func isUndercloudPort(_ registry: String) -> Bool {
        registry.hasSuffix(":8787")
    }

    /// The first name on the first hosts line that lists `name`, as
    /// `getent hosts` prints it.
    static func canonicalName(of name: String, hosts: String) -> String? {
        for line in hosts.split(separator: "\n") {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = content.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard fields.count >= 2 else { continue }
            if fields.dropFirst().contains(where: { $0.caseInsensitiveCompare(name) == .orderedSame }) {
                return fields[1]
            }
        }
        return nil
    }
}
