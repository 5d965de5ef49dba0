import Foundation

/// Image layers nobody should trust, written by a Python script (its `tarfile` module, and raw
/// bytes where tarfile refuses to write something broken): damaged and truncated tar headers
/// and data, damaged GNU and PAX sparse maps, paths leaving the root, links out of it,
/// devices, huge claims, long names, a compression bomb and many files each under a per-file cap. Paths meant to escape point at
/// `canary`, a directory the tests check stays as it was.
public enum HostileLayers {
    public struct Layer: Sendable {
        public var name: String
        public var data: Data
    }

    /// Every layer of the corpus, in a stable order; `canary` is absolute.
    public static func generate(canary: URL, in directory: URL) throws -> [Layer] {
        let out = directory.appendingPathComponent("hostile-layers")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let script = directory.appendingPathComponent("hostile-layers.py")
        try Self.script.write(to: script, atomically: true, encoding: .utf8)
        try RegistryServer.run("/usr/bin/python3", [script.path, out.path, canary.path])
        let names = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        return try names.map { Layer(name: $0, data: try Data(contentsOf: out.appendingPathComponent($0))) }
    }

    static let script = #"""
import gzip, io, os, random, sys, tarfile

def noise(seed, count):
    rng = random.Random(seed)
    return bytes(rng.getrandbits(8) for _ in range(count))

out, canary = sys.argv[1], sys.argv[2]
canary_rel = canary.lstrip("/")
DB = "var/lib/rpm/"

def save(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

def tar(entries, fmt=tarfile.PAX_FORMAT):
    """entries: (TarInfo, bytes or None)"""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for info, data in entries:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()

def entry(name, kind=tarfile.REGTYPE, data=None, link="", mode=0o644, **kw):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = link
    info.mtime = 1700000000
    if data is not None:
        info.size = len(data)
    for k, v in kw.items():
        setattr(info, k, v)
    return (info, data)

def directory(name):
    return entry(name, tarfile.DIRTYPE, mode=0o755)

def checksum(block):
    block = bytearray(block)
    block[148:156] = b" " * 8
    return bytes(block[:148]) + b"%06o\0 " % sum(block) + bytes(block[156:])

packages = noise(7, 4096)
base = tar([directory("var"), directory("var/lib"), directory("var/lib/rpm"),
            entry(DB + "Packages", data=packages), entry("etc/os-release", data=b"ID=test\n")],
           fmt=tarfile.USTAR_FORMAT)
save("00-valid-bdb-garbage.tar", base)
save("01-no-rpmdb.tar", tar([directory("etc"), entry("etc/hostname", data=b"x\n")]))

# Flipped bytes in the headers (checksum left wrong, then made right again).
rng = random.Random(12)
headers = [0, 512, 1024, 1536]
for i in range(8):
    data = bytearray(base)
    for _ in range(6):
        block = rng.choice(headers)
        data[block + rng.randrange(0, 500)] ^= 1 << rng.randrange(8)
    save("02-flipped-%d.tar" % i, bytes(data))
    for block in headers:
        data[block:block + 512] = checksum(data[block:block + 512])
    save("03-flipped-checksummed-%d.tar" % i, bytes(data))
# A size field flipped to garbage octal, checksum fixed: libarchive must not trust it.
data = bytearray(base)
data[1536 + 124:1536 + 136] = b"7777777777x\0"
data[1536:2048] = checksum(data[1536:2048])
save("04-size-garbage.tar", bytes(data))

# Truncations.
save("05-truncated-header.tar", base[:1536 + 200])
save("05-truncated-data.tar", base[:2048 + 1000])
save("05-truncated-gzip.tar.gz", gzip.compress(base)[:300])
save("05-empty", b"")
save("05-not-an-archive", noise(5, 3000))
save("05-gzip-garbage.gz", gzip.compress(b"")[:10] + noise(6, 2000))

# GNU (old) sparse: typeflag S, the map in the header at 386, isextended at 482, realsize at 483.
def gnu_sparse(name, pairs, realsize, extended=b"", isextended=0, data=b"x" * 512):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1700000000
    block = bytearray(info.tobuf(tarfile.GNU_FORMAT))[:512]
    block[156:157] = b"S"
    for i, (offset, size) in enumerate(pairs[:4]):
        at = 386 + i * 24
        block[at:at + 12] = offset
        block[at + 12:at + 24] = size
    block[482] = isextended
    block[483:495] = realsize
    body = bytes(checksum(block)) + extended + data + b"\0" * (-len(data) % 512)
    return body + b"\0" * 1024

save("06-gnu-sparse-beyond-size.tar", gnu_sparse(DB + "Packages",
     [(b"%011o\0" % 10**9, b"%011o\0" % 512)], b"%011o\0" % 100))
save("06-gnu-sparse-garbage-map.tar", gnu_sparse(DB + "Packages",
     [(b"zzzzzzzzzzz\0", b"-1-1-1-1-1-\0"), (b"\xff" * 12, b"\x80" + b"\xff" * 11)], b"\x80" + b"\xff" * 11))
save("06-gnu-sparse-extended-garbage.tar", gnu_sparse(DB + "Packages",
     [(b"%011o\0" % 0, b"%011o\0" % 512)], b"%011o\0" % 4096, isextended=1,
     extended=noise(9, 512)))
save("06-gnu-sparse-overlapping.tar", gnu_sparse(DB + "Packages",
     [(b"%011o\0" % 512, b"%011o\0" % 512), (b"%011o\0" % 0, b"%011o\0" % 4096)], b"%011o\0" % 1024))

# PAX sparse 0.1 (a map in a PAX record) and 1.0 (a map at the start of the data).
def pax_sparse(name, records, data):
    info = tarfile.TarInfo("GNUSparseFile.0/" + name.split("/")[-1])
    info.size = len(data)
    info.mtime = 1700000000
    info.pax_headers = records
    return tar([(info, data)])

save("07-pax-sparse-0.1-damaged-map.tar", pax_sparse(DB + "Packages",
     {"GNU.sparse.name": DB + "Packages", "GNU.sparse.size": "4096", "GNU.sparse.numblocks": "3",
      "GNU.sparse.map": "0,99999999999999999999,abc,-5"}, b"y" * 512))
save("07-pax-sparse-0.1-huge-count.tar", pax_sparse(DB + "Packages",
     {"GNU.sparse.name": DB + "Packages", "GNU.sparse.size": "4096", "GNU.sparse.numblocks": "999999999",
      "GNU.sparse.map": "0,10"}, b"y" * 512))
save("07-pax-sparse-1.0-damaged-map.tar", pax_sparse(DB + "Packages",
     {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": DB + "Packages",
      "GNU.sparse.realsize": "4096"}, b"999999999\n0\n512\nzz\n" + b"\0" * 490 + b"z" * 512))
save("07-pax-sparse-1.0-beyond-size.tar", pax_sparse(DB + "Packages",
     {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": DB + "Packages",
      "GNU.sparse.realsize": "10"}, b"1\n99999999999\n512\n" + b"\0" * 493 + b"z" * 512))

# Paths leaving the root.
save("08-dotdot.tar", tar([directory("var/lib/rpm"),
     entry("../../../../../../" + canary_rel + "/dotdot", data=b"escaped"),
     entry(DB + "../../../../../../../" + canary_rel + "/dotdot2", data=b"escaped"),
     entry(DB + "Packages/../../../../../../../../" + canary_rel + "/dotdot3", data=b"escaped")]))
save("08-absolute.tar", tar([entry(canary + "/absolute", data=b"inside the root"),
     entry("/" + DB + "Packages", data=packages)]))
# Whiteouts that would remove the canary's file.
save("08-whiteouts.tar", tar([entry("../../../../../../" + canary_rel + "/.wh.keep", data=b""),
     entry(canary + "/.wh.keep", data=b""), entry("../../../../../../" + canary_rel + "/.wh..wh..opq", data=b"")]))

# Symbolic links: var/lib/rpm itself, a parent, and the database file pointing outside.
save("09-symlink-rpmdir.tar", tar([directory("var"), directory("var/lib"),
     entry("var/lib/rpm", tarfile.SYMTYPE, link=canary), entry(DB + "Packages", data=packages)]))
save("09-symlink-parent.tar", tar([entry("var", tarfile.SYMTYPE, link="../../../../../../" + canary_rel),
     entry(DB + "Packages", data=packages)]))
save("09-symlink-db-file.tar", tar([directory("var/lib/rpm"),
     entry(DB + "Packages", tarfile.SYMTYPE, link=canary + "/keep"),
     entry(DB + "rpmdb.sqlite", tarfile.SYMTYPE, link="/var/lib/rpm/rpmdb.sqlite")]))
save("09-symlink-then-write.tar", tar([directory("var/lib/rpm"),
     entry(DB + "out", tarfile.SYMTYPE, link=canary), entry(DB + "out/written", data=b"escaped")]))

# Hard links: to files outside the root, and to directories.
save("10-hardlink-outside.tar", tar([directory("var/lib/rpm"),
     entry(DB + "Packages", tarfile.LNKTYPE, link=canary + "/keep"),
     entry(DB + "Packages.db", tarfile.LNKTYPE, link="../../../../../../" + canary_rel + "/keep"),
     entry(DB + "rpmdb.sqlite", tarfile.LNKTYPE, link="/etc/passwd")]))
save("10-hardlink-directory.tar", tar([directory("var/lib/rpm"), directory(DB + "sub"),
     entry(DB + "Packages", tarfile.LNKTYPE, link=DB + "sub"),
     entry(DB + "rpmdb.sqlite", tarfile.LNKTYPE, link="var/lib/rpm"),
     entry(DB + "root", tarfile.LNKTYPE, link="."), entry(DB + "up", tarfile.LNKTYPE, link="")]))
save("10-hardlink-through-symlink.tar", tar([directory("var/lib/rpm"),
     entry(DB + "out", tarfile.SYMTYPE, link=canary),
     entry(DB + "Packages", tarfile.LNKTYPE, link=DB + "out/keep")]))

# Device nodes and FIFOs named like the database.
save("11-devices.tar", tar([directory("var/lib/rpm"),
     entry(DB + "Packages", tarfile.CHRTYPE, devmajor=1, devminor=3),
     entry(DB + "rpmdb.sqlite", tarfile.BLKTYPE, devmajor=7, devminor=0),
     entry(DB + "Packages.db", tarfile.FIFOTYPE)]))

# A header claiming 8 GiB, with one block of data.
info = tarfile.TarInfo(DB + "Packages")
info.size = 8 << 30
info.mtime = 1700000000
header = info.tobuf(tarfile.GNU_FORMAT)
save("12-claims-8gib.tar", header + b"\0" * 512)
info.name = "usr/share/big"
save("12-claims-8gib-elsewhere.tar", info.tobuf(tarfile.GNU_FORMAT) + b"\0" * 512)

# Long names: one 9000-byte component, and 9000 bytes of nested directories.
save("13-name-9000.tar", tar([entry(DB + "a" * 9000, data=b"long"), entry(DB + "Packages", data=packages)]))
save("13-path-9000.tar", tar([entry(DB + "d/" * 4500 + "x", data=b"deep")]))
save("13-gnu-longname-9000.tar", tar([entry(DB + "b" * 9000, data=b"long")], fmt=tarfile.GNU_FORMAT))

# A compression bomb: 64 MiB of zeros as the database, about 64 KiB compressed.
bomb = io.BytesIO()
with gzip.GzipFile(fileobj=bomb, mode="wb", compresslevel=9, mtime=0) as gz:
    with tarfile.open(fileobj=gz, mode="w|", format=tarfile.USTAR_FORMAT) as t:
        info = tarfile.TarInfo(DB + "Packages")
        info.size = 64 << 20
        info.mtime = 1700000000
        t.addfile(info, io.BytesIO(bytes(64 << 20)))
save("14-bomb-64mib.tar.gz", bomb.getvalue())

# Many files, each under any per-file cap: 64 files of 1 MiB of zeros (64 MiB in all, about
# 64 KiB compressed), and 5000 empty files.
def stream(name, entries):
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w|", format=tarfile.USTAR_FORMAT) as t:
            for path, size in entries:
                info = tarfile.TarInfo(path)
                info.size = size
                info.mtime = 1700000000
                t.addfile(info, io.BytesIO(bytes(size)))
    save(name, out.getvalue())
stream("15-many-files-64mib.tar.gz", [(DB + "__db.%03d" % i, 1 << 20) for i in range(64)])
stream("15-many-entries-5000.tar.gz", [(DB + "f%05d" % i, 0) for i in range(5000)])
"""#
}
