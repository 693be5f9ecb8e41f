"""hilctl flash, the image writer, on real loop devices and image files: a
bmap write touches only the mapped ranges (the rest of a target pre-filled
with a pattern stays as it was), a full write copies every byte, .xz/.gz/.zst
images decompress to the same bytes, a corrupt image or an edited bmap is
caught by the checksums, and the safety checks refuse a mounted loop device
(also through a mounted partition), the host's own root disk, and a size or
identity other than the expected one. Every loop device and mount is removed
at the end, also when a test fails."""
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

PATTERN = bytes([0x5A, 0xC3]) * 2048  # 4 KiB, never what mkfs or the image writes
IMAGE_MB = 64
TARGET_MB = 80


def sh(*args, **kw):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True,
                          timeout=120, **kw).stdout.strip()


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """A 64 MiB ext4 image with a few MiB of files (mostly empty, like a real
    root filesystem image), its bmap from bmaptool 3.6, and compressed copies."""
    d = tmp_path_factory.mktemp("flash")
    content = d / "content"
    (content / "etc").mkdir(parents=True)
    (content / "etc" / "os-release").write_text("ID=hilctl-sample\nVERSION_ID=1\n")
    (content / "blob").write_bytes(os.urandom(3 << 20))
    (content / "small").write_bytes(os.urandom(70000))
    img = d / "sample.img"
    sh("truncate", "-s", f"{IMAGE_MB}M", img)
    sh("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", "-d", content, img)
    sh("bmaptool", "create", "-o", d / "sample.img.bmap", img)
    for tool, ext in (("xz", "xz"), ("gzip", "gz"), ("zstd", "zst")):
        out = d / f"sample.img.{ext}"
        with open(out, "wb") as f:
            subprocess.run([tool, "-c", str(img)] + (["-T2"] if tool == "xz" else ["-q"] if tool == "zstd" else []),
                           stdout=f, check=True, timeout=300)
    return d


def bmap_ranges(bmap_path):
    root = ET.parse(bmap_path).getroot()
    bs = int(root.find("BlockSize").text)
    size = int(root.find("ImageSize").text)
    ranges = []
    for r in root.find("BlockMap").findall("Range"):
        a, _, b = r.text.strip().partition("-")
        ranges.append((int(a), int(b or a)))
    return bs, size, ranges


def mapped_set(bmap_path):
    bs, size, ranges = bmap_ranges(bmap_path)
    blocks = set()
    for a, b in ranges:
        blocks.update(range(a, b + 1))
    return bs, size, blocks


def prefill(path, mb):
    with open(path, "wb") as f:
        for _ in range(mb * 256):
            f.write(PATTERN)


@pytest.fixture
def loops(tmp_path):
    """make(mb) -> a loop device over a file pre-filled with PATTERN; mount(dev)
    mounts it. Everything is unmounted and detached at the end."""
    made, mounts = [], []

    def make(mb=TARGET_MB, partitioned=False):
        backing = tmp_path / f"loop{len(made)}.img"
        prefill(backing, mb)
        args = ["losetup", "-f", "--show"] + (["-P"] if partitioned else []) + [str(backing)]
        dev = sh(*args)
        made.append(dev)
        return dev

    def mount(dev):
        mnt = tmp_path / f"mnt{len(mounts)}"
        mnt.mkdir()
        sh("mount", dev, mnt)
        mounts.append(mnt)
        return mnt

    try:
        yield make, mount
    finally:
        for m in reversed(mounts):
            subprocess.run(["umount", "-l", str(m)], capture_output=True)
        for dev in made:
            subprocess.run(["losetup", "-d", dev], capture_output=True)


def read_blocks(path, bs):
    with open(path, "rb") as f:
        data = f.read()
    return [data[i:i + bs] for i in range(0, len(data), bs)]


def written(stdout):
    m = re.search(r"written (\d+) of (\d+) bytes in ([\d.]+) s \(([\d.]+) MB/s\)", stdout)
    assert m, stdout
    return int(m.group(1)), int(m.group(2)), float(m.group(4))


def test_bmap_writes_only_the_mapped_ranges_to_a_loop_device(hilctl, sample, loops):
    make, _ = loops
    dev = make()
    img, bmap = sample / "sample.img", sample / "sample.img.bmap"
    r = hilctl("flash", img, "--to", dev)
    assert r.returncode == 0, r.stderr
    bs, size, mapped = mapped_set(bmap)
    n, total, rate = written(r.stdout)
    assert n == len(mapped) * bs and total == size and rate > 0
    assert f"verified {n} bytes" in r.stdout
    sh("blockdev", "--flushbufs", dev)
    image, target = read_blocks(img, bs), read_blocks(dev, bs)
    assert len(target) == TARGET_MB << 20 >> 12
    for i, block in enumerate(target):
        if i in mapped:
            assert block == image[i], f"mapped block {i} differs from the image"
        else:
            assert block == PATTERN, f"unmapped block {i} was touched"
    # The image's whole content arrived: the filesystem checks clean.
    sh("e2fsck", "-n", "-f", dev)


def test_full_write_copies_every_byte(hilctl, sample, loops):
    make, _ = loops
    dev = make()
    img = sample / "sample.img"
    r = hilctl("flash", img, "--to", dev, "--no-bmap")
    assert r.returncode == 0, r.stderr
    n, total, _ = written(r.stdout)
    assert n == total == IMAGE_MB << 20
    with open(dev, "rb") as f:
        head = f.read(IMAGE_MB << 20)
        rest = f.read()
    assert hashlib.sha256(head).digest() == hashlib.sha256(img.read_bytes()).digest()
    assert rest == PATTERN * (len(rest) // len(PATTERN))  # past the image: untouched


@pytest.mark.parametrize("ext,fmt", [("xz", "xz"), ("gz", "gzip"), ("zst", "zstd")])
def test_compressed_image_to_a_file(hilctl, sample, tmp_path, ext, fmt):
    out = tmp_path / "card.img"
    # The bmap is found as sample.img.bmap beside sample.img.EXT.
    r = hilctl("flash", sample / f"sample.img.{ext}", "--to", out)
    assert r.returncode == 0, r.stderr
    assert f"({fmt}, bmap {sample}/sample.img.bmap)" in r.stdout
    assert out.stat().st_size == IMAGE_MB << 20
    assert hashlib.sha256(out.read_bytes()).digest() == \
        hashlib.sha256((sample / "sample.img").read_bytes()).digest()


def test_corrupt_image_fails_the_range_checksum(hilctl, sample, tmp_path):
    bs, _, ranges = bmap_ranges(sample / "sample.img.bmap")
    bad = tmp_path / "bad.img"
    shutil.copy(sample / "sample.img", bad)
    a, b = ranges[len(ranges) // 2]
    with open(bad, "r+b") as f:  # one byte flipped inside a mapped range
        f.seek(a * bs + 17)
        byte = f.read(1)
        f.seek(a * bs + 17)
        f.write(bytes([byte[0] ^ 0xFF]))
    r = hilctl("flash", bad, "--bmap", sample / "sample.img.bmap", "--to", tmp_path / "out.img")
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"blocks {a}-{b} do not match their sha256 checksum" in r.stderr


def test_edited_bmap_fails_its_own_checksum(hilctl, sample, tmp_path):
    text = (sample / "sample.img.bmap").read_text()
    m = re.search(r'chksum="([0-9a-f]{64})"', text)
    edited = tmp_path / "edited.bmap"
    edited.write_text(text.replace(m.group(1), "0" * 64, 1))
    r = hilctl("flash", sample / "sample.img", "--bmap", edited, "--to", tmp_path / "out.img")
    assert r.returncode == 2
    assert "own sha256 checksum does not match" in r.stderr
    assert not (tmp_path / "out.img").exists()  # refused before anything was written


def untouched(dev):
    with open(dev, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_mounted_loop_device_refused(hilctl, sample, loops):
    make, mount = loops
    dev = make()
    sh("mkfs.ext4", "-q", dev)
    mnt = mount(dev)
    before = untouched(dev)
    r = hilctl("flash", sample / "sample.img", "--to", dev)
    assert r.returncode == 2
    assert f"{dev}: refused: {os.path.basename(dev)} or one of its partitions is mounted on {mnt}" \
        in r.stderr
    assert untouched(dev) == before


def test_mounted_partition_refuses_the_whole_disk(hilctl, sample, loops):
    make, mount = loops
    dev = make(partitioned=True)
    subprocess.run(["sfdisk", "-q", dev], input="label: dos\n,40M,L\n", text=True, check=True,
                   capture_output=True, timeout=60)
    part = dev + "p1"
    # No udev here: ask the kernel to read the table, and add the partition
    # if that did not (partx -a is a no-op for one that exists).
    subprocess.run(["blockdev", "--rereadpt", dev], capture_output=True, timeout=60)
    if not os.path.exists(part):
        sh("partx", "-a", dev)
    assert os.path.exists(part), f"{part} did not appear"
    sh("mkfs.ext4", "-q", part)
    mnt = mount(part)
    r = hilctl("flash", sample / "sample.img", "--to", dev)
    assert r.returncode == 2
    assert f"{dev}: refused:" in r.stderr and f"mounted on {mnt}" in r.stderr


def host_root_disk():
    for line in open("/proc/self/mountinfo"):
        f = line.split()
        if f[4] == "/":
            real = os.path.realpath(f"/sys/dev/block/{f[2]}")
            if os.path.exists(os.path.join(real, "partition")):
                real = os.path.dirname(real)
            return "/dev/" + os.path.basename(real)
    raise AssertionError("no / in mountinfo")


def test_host_root_disk_refused(hilctl, sample):
    disk = host_root_disk()
    assert os.path.exists(disk), disk
    r = hilctl("flash", sample / "sample.img", "--to", disk, "--no-verify")
    assert r.returncode == 2
    assert f"{disk}: refused: it is (or is on) {os.path.basename(disk)}, the lab host's own " \
        "root or boot disk" in r.stderr


def test_size_mismatch_refused(hilctl, sample, loops):
    make, _ = loops
    dev = make()
    before = untouched(dev)
    r = hilctl("flash", sample / "sample.img", "--to", dev, "--expect-size", "64M")
    assert r.returncode == 2
    assert f"{dev}: size mismatch: it has {TARGET_MB << 20} bytes, expected {64 << 20}" in r.stderr
    assert untouched(dev) == before
    r = hilctl("flash", sample / "sample.img", "--to", dev, "--expect-size", f"{TARGET_MB}M")
    assert r.returncode == 0, r.stderr


def test_identity_mismatch_refused(hilctl, sample, loops, tmp_path):
    make, _ = loops
    dev, other = make(), make(TARGET_MB)
    right, wrong = tmp_path / "by-id-right", tmp_path / "by-id-wrong"
    right.symlink_to(dev)
    wrong.symlink_to(other)
    before = untouched(dev)
    r = hilctl("flash", sample / "sample.img", "--to", dev, "--expect-id", "usb-Generic_SD_0001-0:0")
    assert r.returncode == 2
    assert f'{dev}: identity mismatch: expected "usb-Generic_SD_0001-0:0"' in r.stderr
    r = hilctl("flash", sample / "sample.img", "--to", dev, "--expect-id", wrong)
    assert r.returncode == 2
    assert f"{dev}: identity mismatch: {wrong} is device" in r.stderr
    assert untouched(dev) == before
    r = hilctl("flash", sample / "sample.img", "--to", dev, "--expect-id", right)
    assert r.returncode == 0, r.stderr


def test_image_larger_than_the_device_refused(hilctl, sample, loops):
    make, _ = loops
    dev = make(16)
    r = hilctl("flash", sample / "sample.img", "--to", dev)
    assert r.returncode == 2
    assert f"{dev}: the image needs {IMAGE_MB << 20} bytes, the device has {16 << 20}" in r.stderr
    before = untouched(dev)
    r = hilctl("flash", sample / "sample.img", "--no-bmap", "--to", dev)
    assert r.returncode == 2
    assert f"{dev}: the image needs {IMAGE_MB << 20} bytes" in r.stderr
    assert untouched(dev) == before  # refused before the first write


def test_usage_errors(hilctl, sample, tmp_path):
    r = hilctl("flash", "--help")
    assert r.returncode == 0 and "--expect-id" in r.stdout
    r = hilctl("flash", sample / "sample.img")
    assert r.returncode == 2 and "--to" in r.stderr
    r = hilctl("flash", tmp_path / "missing.img", "--to", tmp_path / "out.img")
    assert r.returncode == 2 and "missing.img" in r.stderr


def test_wait_for_the_device_to_appear(hilctl_bin, run_dir, sample, loops, tmp_path):
    """--wait returns as the device appears (here a link to a loop device made
    0.5 s in, as udev makes /dev/disk/by-id links after a mux switch), long
    before its deadline; a device that never comes is an infrastructure error."""
    import time
    make, _ = loops
    dev = make()
    card = tmp_path / "card"
    start = time.monotonic()
    p = subprocess.Popen([hilctl_bin, "flash", str(sample / "sample.img"), "--to", str(card),
                          "--wait", "30s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    time.sleep(0.5)
    card.symlink_to(dev)
    out, err = p.communicate(timeout=60)
    took = time.monotonic() - start
    assert p.returncode == 0, err
    assert "written" in out and took < 15, took
    r = subprocess.run([hilctl_bin, "flash", str(sample / "sample.img"), "--to",
                        str(tmp_path / "never"), "--wait", "300ms"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 3
    assert "never: did not appear within 0.3 s" in r.stderr
