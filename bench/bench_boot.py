#!/usr/bin/python3
"""bench/bench_boot.py — the reference board's boot (make bench-boot): calls
fixtures/refdut/bench_boot.py --runs N, which starts the board N times from
a fresh copy of its pristine disk (fixtures/refdut/run-qemu.sh, serial on a
unix socket connected before the guest runs) and times QEMU start -> the
U-Boot banner, the boot script's slot line, the kernel start, and the
version probe. It runs against a private mirror of build/refdut/ (links to
the images), so no disk image another QEMU may use is ever written.

Knob: BENCH_BOOT_RUNS (5).
"""
import os
import re
import subprocess
import sys

import benchlib as B


def mirror(variant):
    """REFDUT_OUT for bench_boot.py: the real images through symlinks, and
    a disk.img of our own should the script copy the pristine disk there."""
    d = B.private_dir("boot")
    os.symlink(os.path.join(B.REFDUT, "u-boot.bin"), os.path.join(d, "u-boot.bin"))
    vd = os.path.join(d, variant)
    os.makedirs(vd)
    src = os.path.join(B.REFDUT, variant)
    for name in os.listdir(src):
        if name != "disk.img":
            os.symlink(os.path.join(src, name), os.path.join(vd, name))
    open(os.path.join(vd, "disk.img"), "wb").close()
    return d


def main():
    script = os.path.join(B.ROOT, "fixtures", "refdut", "bench_boot.py")
    B.need(script, "the reference board's boot benchmark")
    B.need(os.path.join(B.REFDUT, "good", "disk.pristine.img"), "make refdut")
    runs = B.env_int("BENCH_BOOT_RUNS", 5)
    sec = B.Section("boot", "Boot: reference board to the version probe")
    sec.param(BENCH_BOOT_RUNS=runs)
    env = dict(os.environ, REFDUT_OUT=mirror("good"))
    p = B.start([B.PY, script, "--runs", str(runs)], env=env, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT)
    lines, timed_out = B.stream(p, p.stdout, 120 * runs + 60)
    marks = {}
    for line in lines:
        if line.startswith("run ") and "s" in line:
            for key, val in re.findall(r"(U-Boot 20|hilctl-boot:|Starting kernel|"
                                       r"hilctl-probe:) (\d+\.\d+)s", line):
                marks.setdefault(key, []).append(float(val))
    summary = [l for l in lines if l.startswith("refdut boot to probe")]
    probes = marks.get("hilctl-probe:", [])
    if timed_out or p.returncode != 0 or not probes:
        sec.note("bench_boot.py failed (exit %s%s): %s" % (
            p.returncode, ", timed out" if timed_out else "", " / ".join(lines[-4:])))
    else:
        how = ("fixtures/refdut/bench_boot.py --runs %d: QEMU process start (run-qemu.sh, "
               "pristine disk copy, serial on a unix socket) to the line; median of %d boots"
               % (runs, len(probes)))
        sec.figure("boot to the version probe (median)", B.median(probes), "s", how,
                   goal=None)
        sec.figure("boot to the version probe (min / max)",
                   "%.2f / %.2f" % (min(probes), max(probes)), "s", "the same boots")
        for key, name in (("U-Boot 20", "U-Boot banner"), ("hilctl-boot:", "boot script's "
                          "slot line"), ("Starting kernel", "kernel start")):
            if marks.get(key):
                sec.figure("boot to the %s (median)" % name, B.median(marks[key]), "s",
                           "the same boots, to the first line containing '%s'" % key)
        if summary:
            sec.note("bench_boot.py says: " + summary[-1])
    sec.save({"marks": marks, "output": lines[-20:]})
    return 0 if probes else 1


if __name__ == "__main__":
    sys.exit(main())
