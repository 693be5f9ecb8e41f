#!/usr/bin/python3
"""bench/bench_throughput.py — fault-injection runs per hour on this machine
(make bench-throughput): a small cut-write campaign on the QEMU lab at -j1
(qemu-01) and at -j2 (qemu-01 and qemu-02):

    hilctl --lab fixtures/lab-qemu.yaml run scenarios/cut-write.yaml
           --sweep FROM:TO:STEP --bisect 0 -j N --out DIR

Runs per hour = runs done / wall time of the whole campaign x 3600; the
journal's run durations give the per-run figure. Knobs:
BENCH_THROUGHPUT_SWEEP (1048576:13631488:4194304, four points),
BENCH_THROUGHPUT_JOBS ("1 2"), BENCH_THROUGHPUT_TIMEOUT (1800 s a campaign),
BENCH_THROUGHPUT_SNAPSHOT ("0 1": each campaign as shipped, then the same
with `snapshot: before-update` added to the scenario: the first run on each
board boots and saves, the others restore; "0" for the shipped one alone).

Crash states per minute of `hilctl explore`: bench_explore.py.
"""
import json
import os
import subprocess
import sys
import time

import benchlib as B


def scenario(snapshot, d):
    plain = os.path.join(B.ROOT, "scenarios", "cut-write.yaml")
    if not snapshot:
        return plain
    path = os.path.join(d, "cut-write-snap.yaml")
    with open(plain) as f, open(path, "w") as g:
        g.write(f.read().replace("scenario: cut-write", "scenario: cut-write-snap") +
                "snapshot: before-update\n")
    return path


def campaign(jobs, sweep, timeout, snapshot=False):
    env, d = B.hil_env("thr")
    out = os.path.join(d, "out")
    cmd = [B.HILCTL, "--lab", B.LAB_QEMU, "run", scenario(snapshot, d),
           "--sweep", sweep, "--bisect", "0", "-j", str(jobs), "--out", out]
    load = B.loadavg()
    t0 = time.monotonic()
    p = B.start(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines, timed_out = B.stream(p, p.stdout, timeout)
    wall = time.monotonic() - t0
    rc = "timeout" if timed_out else p.returncode
    runs = []
    try:
        with open(os.path.join(out, "journal.jsonl")) as f:
            for l in f:
                r = json.loads(l)
                if "run" in r:
                    runs.append(r["run"])
    except (OSError, ValueError):
        pass
    return {"jobs": jobs, "snapshot": snapshot, "rc": rc, "wall_s": wall, "load_start": load,
            "runs": [{"point": r.get("point"), "board": r.get("board"),
                      "verdict": r.get("verdict"), "duration_s": r.get("duration_s")}
                     for r in runs], "tail": " / ".join(lines[-5:])}


def main():
    B.need(B.HILCTL, "make")
    sweep = B.env_str("BENCH_THROUGHPUT_SWEEP", "1048576:13631488:4194304")
    jobs_list = [int(j) for j in B.env_str("BENCH_THROUGHPUT_JOBS", "1 2").split()]
    timeout = B.env_int("BENCH_THROUGHPUT_TIMEOUT", 1800)
    snaps = [s == "1" for s in B.env_str("BENCH_THROUGHPUT_SNAPSHOT", "0 1").split()]
    sec = B.Section("throughput", "Throughput: fault-injection runs per hour")
    sec.param(BENCH_THROUGHPUT_SWEEP=sweep, BENCH_THROUGHPUT_JOBS=" ".join(map(str, jobs_list)))
    raw = []
    for jobs, snap in [(j, s) for j in jobs_list for s in snaps]:
        c = campaign(jobs, sweep, timeout, snap)
        raw.append(c)
        n = len(c["runs"])
        tag = ", snapshot: before-update" if snap else ""
        if not n:
            sec.note("-j%d%s: no run finished (exit %s): %s" % (jobs, tag, c["rc"], c["tail"]))
            continue
        durs = [r["duration_s"] for r in c["runs"] if r["duration_s"]]
        verdicts = {}
        for r in c["runs"]:
            verdicts[r["verdict"]] = verdicts.get(r["verdict"], 0) + 1
        sec.figure("runs per hour at -j%d%s" % (jobs, tag), n / c["wall_s"] * 3600, "runs/h",
                   "%d runs of cut-write (--sweep %s) / %.0f s wall time of the whole "
                   "campaign command x 3600 (exit %s; verdicts %s)%s" % (
                       n, sweep, c["wall_s"], c["rc"],
                       ", ".join("%s %d" % kv for kv in sorted(verdicts.items())),
                       "; the first run on each board boots and saves the machine" if snap
                       else ""))
        sec.figure("run duration at -j%d%s, median" % (jobs, tag), B.median(durs), "s",
                   "median of the journal's run.duration_s over the same runs (min %.1f, "
                   "max %.1f)" % (min(durs), max(durs)))
        sec.figure("runs per hour per board from run durations at -j%d%s" % (jobs, tag),
                   3600 / B.median(durs), "runs/h",
                   "3600 / median run duration: what one board does with no time between "
                   "runs")
    plain = [c for c in raw if not c["snapshot"]]
    if len(plain) == 2 and plain[0]["runs"] and plain[1]["runs"]:
        a = len(plain[0]["runs"]) / plain[0]["wall_s"]
        b = len(plain[1]["runs"]) / plain[1]["wall_s"]
        sec.figure("-j%d / -j%d throughput" % (plain[1]["jobs"], plain[0]["jobs"]), b / a, "x",
                   "ratio of the two runs-per-hour figures (2 cores: two QEMU boards "
                   "compete with each other and with everything else on the machine)")
    sec.save(raw)
    return 0 if all(c["runs"] for c in raw) else 1


if __name__ == "__main__":
    sys.exit(main())
