/// What installing an RPM does besides writing its payload, from its main header: the
/// scriptlets and triggers rpm would run, and each file's type, mode, owner, modification time
/// and flags. The layer engine installs an RPM without rpm running inside the image only when
/// this says nothing would have to run there.
public struct RPMInstallHeader: Sendable, Equatable {
    /// One file of the package, as rpm would create it.
    public struct File: Sendable, Equatable {
        /// Absolute (`/usr/share/x`).
        public var path: String
        /// Type and permission bits (`0o100644`).
        public var mode: UInt32
        public var user: String
        public var group: String
        public var mtime: Int
        public var linkTarget: String
        public var flags: UInt32
        /// `%lang(xx)`, empty for every language.
        public var language: String
        /// File capabilities (`cap_net_raw=ep`), empty for none.
        public var capabilities: String

        public var isGhost: Bool { flags & (1 << 6) != 0 }
        public var isConfig: Bool { flags & 1 != 0 }
        public var isDirectory: Bool { mode & 0o170000 == 0o040000 }
        public var isSymlink: Bool { mode & 0o170000 == 0o120000 }
        public var isRegular: Bool { mode & 0o170000 == 0o100000 }
    }

    public var package: RPMPackage
    /// The scriptlets and triggers the package carries, as a spec names them (`%post`,
    /// `%triggerin`, `%filetriggerin`...), in tag order.
    public var scriptlets: [String]
    public var files: [File]
    /// Regular files sharing an inode (hard links), by path.
    public var hardLinked: [String]

    /// Script tags (the script's body, or its interpreter for `-p`), by the spec section that
    /// writes them.
    static let scriptTags: [(tags: [Int], name: String)] = [
        ([1151, 1153], "%pretrans"), ([1023, 1085], "%pre"), ([1024, 1086], "%post"), ([1025, 1087], "%preun"),
        ([1026, 1088], "%postun"), ([1152, 1154], "%posttrans"), ([5103, 5105], "%preuntrans"),
        ([5104, 5106], "%postuntrans"), ([1065, 1066, 1092], "%trigger"), ([5066, 5067, 5069], "%filetrigger"),
        ([5076, 5077, 5079], "%transfiletrigger"),
    ]

    public static func read(path: String) throws(RPMError) -> RPMInstallHeader {
        let (header, isSource) = try RPMPackage.readMainHeader(path: path)
        let package = try RPMPackage(header: header, isSource: isSource, path: path)
        let scriptlets = scriptTags.filter { $0.tags.contains { header.index[$0] != nil } }.map(\.name)
        let count = package.files.count
        func column<T>(_ values: [T]?, _ name: String, default fallback: T? = nil) throws(RPMError) -> [T] {
            if let values, values.count == count { return values }
            if values == nil, let fallback { return Array(repeating: fallback, count: count) }
            throw RPMError(file: path, message: "main header: \(name) does not list every file")
        }
        let modes = try column(header.integers(1030), "file modes")
        let users = try column(header.strings(1039), "file owners")
        let groups = try column(header.strings(1040), "file groups")
        let mtimes = try column(header.integers(1034), "file times", default: 0)
        let links = try column(header.strings(1036), "link targets", default: "")
        let flags = try column(header.integers(1037), "file flags", default: 0)
        let languages = try column(header.strings(1097), "file languages", default: "")
        let capabilities = try column(header.strings(5010), "file capabilities", default: "")
        let files = (0..<count).map { index in
            File(
                path: package.files[index], mode: UInt32(truncatingIfNeeded: modes[index]), user: users[index], group: groups[index],
                mtime: mtimes[index], linkTarget: links[index], flags: UInt32(truncatingIfNeeded: flags[index]),
                language: languages[index], capabilities: capabilities[index])
        }
        let inodes = try column(header.integers(1096), "file inodes", default: 0)
        var seen: [Int: Int] = [:]
        var hardLinked: [String] = []
        for (index, file) in files.enumerated() where file.isRegular && !file.isGhost && inodes[index] != 0 {
            if let first = seen[inodes[index]] {
                hardLinked.append(files[first].path)
                hardLinked.append(file.path)
            } else {
                seen[inodes[index]] = index
            }
        }
        return RPMInstallHeader(package: package, scriptlets: scriptlets, files: files, hardLinked: hardLinked)
    }
}
