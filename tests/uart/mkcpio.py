#!/usr/bin/env python3
"""tests/uart/mkcpio.py — write a gzip'd newc cpio archive (an initramfs)
from a list of entries, without root: device nodes are just headers.

    mkcpio.py OUT.img  dir:/bin  file:/init=SRC:0755  chr:/dev/console=5,1

Timestamps and owners are fixed (0), so the same inputs give the same bytes."""
import gzip
import sys


def header(ino, mode, size, name, rdev=(0, 0), nlink=1):
    fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev[0], rdev[1], len(name) + 1, 0]
    return b"070701" + b"".join(b"%08x" % f for f in fields)


def pad(n):
    return b"\0" * ((4 - n % 4) % 4)


def entry(ino, mode, name, data=b"", rdev=(0, 0)):
    name_b = name.encode()
    h = header(ino, mode, len(data), name_b, rdev, 2 if mode & 0o040000 else 1)
    rec = h + name_b + b"\0"
    rec += pad(len(rec)) + data + pad(len(data))
    return rec


def main():
    out, specs = sys.argv[1], sys.argv[2:]
    archive = b""
    for ino, spec in enumerate(specs, start=1):
        kind, rest = spec.split(":", 1)
        if kind == "dir":
            archive += entry(ino, 0o040755, rest.lstrip("/"))
        elif kind == "file":
            path, src_mode = rest.split("=", 1)
            src, mode = src_mode.rsplit(":", 1)
            with open(src, "rb") as f:
                archive += entry(ino, 0o100000 | int(mode, 8), path.lstrip("/"), f.read())
        elif kind == "chr":
            path, dev = rest.split("=", 1)
            major, minor = (int(x) for x in dev.split(","))
            archive += entry(ino, 0o020600, path.lstrip("/"), rdev=(major, minor))
        else:
            sys.exit(f"mkcpio: unknown entry kind {kind!r}")
    archive += entry(0, 0, "TRAILER!!!")
    with open(out, "wb") as f:
        f.write(gzip.compress(archive, 6, mtime=0))


if __name__ == "__main__":
    main()
