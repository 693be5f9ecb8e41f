#!/usr/bin/python3
"""bench/bench_restore.py — restoring the reference board's baseline image
(make bench-restore; docs/rack.md). Two parts:

1. The writer alone: `hilctl flash` of build/refdut/good/disk.pristine.img
   onto an image file in a private directory, N times with its bmap and N
   times with --no-bmap (every byte), each verified; bytes written, the
   write + fsync time and MB/s from hilctl's own output, medians.
2. The share of the cycle: a campaign of M update runs (no fault; each leaves
   v2, so each run is restored) on one reference board whose disk is a plain
   file restored by the qemu storage mux (overlay off), -j1; the journal's
   restore.seconds against each run's duration_s.

Goals (issue 16): a bmap restore writes at least 5x less than the full image;
a restore costs at most 20 % of a run's cycle. The writer's rate here is a
file in the page cache, far above an SD card's: docs/rack.md gives the
arithmetic for a card. Knobs: BENCH_RESTORE_N (5), BENCH_RESTORE_RUNS (4).
"""
import json
import os
import re
import subprocess
import sys

import benchlib as B

sys.path.insert(0, os.path.join(B.ROOT, "tests", "integration"))


def flash(image, target, full):
    cmd = [B.HILCTL, "flash", image, "--to", target] + (["--no-bmap"] if full else [])
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    m = re.search(r"written (\d+) of (\d+) bytes in ([\d.]+) s \(([\d.]+) MB/s\)", out.stdout)
    v = re.search(r"verified (\d+) bytes in ([\d.]+) s", out.stdout)
    if out.returncode != 0 or not m or not v:
        raise RuntimeError("hilctl flash failed: %s %s" % (out.stdout, out.stderr))
    return {"written": int(m.group(1)), "image": int(m.group(2)), "s": float(m.group(3)),
            "mbs": float(m.group(4)), "verify_s": float(v.group(2))}


def cycle_share(runs, d):
    """A campaign of `runs` restored update runs: (restore s, cycle s) lists."""
    import test_restore as T  # the same lab the integration test builds
    lab = T.lab(__import__("pathlib").Path(d) / "lab.yaml",
                [T.board("bench-rst-01", os.path.join(d, "bench-rst-01.img"))])
    out = os.path.join(d, "out")
    env, _ = B.hil_env("restore")
    p = subprocess.run([B.HILCTL, "--lab", str(lab), "run", str(T.UPDATE), "-j1",
                        "--repeat", str(runs), "--out", out], capture_output=True, text=True,
                       timeout=180 * runs + 120, env=env)
    recs = [json.loads(l)["run"] for l in open(os.path.join(out, "journal.jsonl"))
            if l.startswith('{"run"')]
    ok = [r for r in recs if r.get("restore", {}).get("action") == "reflash"]
    if p.returncode != 0 or len(ok) != runs:
        raise RuntimeError("campaign failed (exit %d): %s" % (p.returncode, p.stderr[-800:]))
    return [r["restore"]["seconds"] for r in ok], [r["duration_s"] for r in ok]


def main():
    image = os.path.join(B.REFDUT, "good", "disk.pristine.img")
    B.need(image + ".bmap", "make refdut (the reference image and its bmap)")
    n = B.env_int("BENCH_RESTORE_N", 5)
    runs = B.env_int("BENCH_RESTORE_RUNS", 4)
    sec = B.Section("restore", "Restore: the reference board's baseline image")
    sec.param(BENCH_RESTORE_N=n, BENCH_RESTORE_RUNS=runs)
    d = B.private_dir("restore")
    target = os.path.join(d, "card.img")
    res = {"bmap": [], "full": []}
    for _ in range(n):
        for kind in ("bmap", "full"):
            res[kind].append(flash(image, target, kind == "full"))
    how = ("hilctl flash of build/refdut/good/disk.pristine.img onto an image file in %s "
           "(page cache), verified; median of %d" % (d, n))
    b, f = res["bmap"][0], res["full"][0]
    sec.figure("image size", f["image"] / 1e6, "MB", "the reference image")
    sec.figure("bmap restore: bytes written", b["written"] / 1e6, "MB", how)
    ratio = f["written"] / b["written"]
    sec.figure("full write / bmap write", ratio, "x", how, goal=">= 5x", met=ratio >= 5)
    for kind in ("bmap", "full"):
        sec.figure("%s: write + fsync" % kind, B.median([r["s"] for r in res[kind]]), "s", how)
        sec.figure("%s: rate" % kind, B.median([r["mbs"] for r in res[kind]]), "MB/s", how)
        sec.figure("%s: verify" % kind, B.median([r["verify_s"] for r in res[kind]]), "s", how)
    raw = {"flash": res}
    try:
        rs, cs = cycle_share(runs, d)
        share = 100 * sum(rs) / sum(cs)
        how = ("a campaign of %d update runs (tests/integration/data/restore-update.yaml) "
               "on one reference board restored by the qemu mux, -j1: journal "
               "restore.seconds / duration_s" % runs)
        sec.figure("restore per run (median)", B.median(rs), "s", how)
        sec.figure("run cycle (median)", B.median(cs), "s", how)
        sec.figure("restore share of the cycle", share, "%", how, goal="<= 20 %",
                   met=share <= 20)
        raw.update(restore_s=rs, cycle_s=cs)
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
        sec.note("the cycle campaign failed: %s" % e)
    sec.save(raw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
