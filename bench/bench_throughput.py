#!/usr/bin/python3
"""bench/bench_throughput.py — fault-injection runs per hour on this machine
(make bench-throughput): a small cut-write campaign on the QEMU lab at -j1
(qemu-01) and at -j2 (qemu-01 and qemu-02):

    hilctl --lab fixtures/lab-qemu.yaml run scenarios/cut-write.yaml
           --sweep FROM:TO:STEP --bisect 0 -j N --out DIR

Runs per hour = runs done / wall time of the whole campaign x 3600; the
journal's run durations give the per-run figure. Knobs:
BENCH_THROUGHPUT_SWEEP (1048576:13631488:4194304, four points),
BENCH_THROUGHPUT_JOBS ("1 2"), BENCH_THROUGHPUT_TIMEOUT (1800 s a campaign).

hilctl has no `explore` command yet (crash states per minute): not measured.
"""
import json
import os
import subprocess
import sys
import time

import benchlib as B


def campaign(jobs, sweep, timeout):
    env, d = B.hil_env("thr")
    out = os.path.join(d, "out")
    cmd = [B.HILCTL, "--lab", B.LAB_QEMU, "run", os.path.join(B.ROOT, "scenarios", "cut-write.yaml"),
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
    return {"jobs": jobs, "rc": rc, "wall_s": wall, "load_start": load,
            "runs": [{"point": r.get("point"), "board": r.get("board"),
                      "verdict": r.get("verdict"), "duration_s": r.get("duration_s")}
                     for r in runs], "tail": " / ".join(lines[-5:])}


def main():
    B.need(B.HILCTL, "make")
    sweep = B.env_str("BENCH_THROUGHPUT_SWEEP", "1048576:13631488:4194304")
    jobs_list = [int(j) for j in B.env_str("BENCH_THROUGHPUT_JOBS", "1 2").split()]
    timeout = B.env_int("BENCH_THROUGHPUT_TIMEOUT", 1800)
    sec = B.Section("throughput", "Throughput: fault-injection runs per hour")
    sec.param(BENCH_THROUGHPUT_SWEEP=sweep, BENCH_THROUGHPUT_JOBS=" ".join(map(str, jobs_list)))
    raw = []
    for jobs in jobs_list:
        c = campaign(jobs, sweep, timeout)
        raw.append(c)
        n = len(c["runs"])
        if not n:
            sec.note("-j%d: no run finished (exit %s): %s" % (jobs, c["rc"], c["tail"]))
            continue
        durs = [r["duration_s"] for r in c["runs"] if r["duration_s"]]
        verdicts = {}
        for r in c["runs"]:
            verdicts[r["verdict"]] = verdicts.get(r["verdict"], 0) + 1
        sec.figure("runs per hour at -j%d" % jobs, n / c["wall_s"] * 3600, "runs/h",
                   "%d runs of cut-write (--sweep %s) / %.0f s wall time of the whole "
                   "campaign command x 3600 (exit %s; verdicts %s)" % (
                       n, sweep, c["wall_s"], c["rc"],
                       ", ".join("%s %d" % kv for kv in sorted(verdicts.items()))))
        sec.figure("run duration at -j%d, median" % jobs, B.median(durs), "s",
                   "median of the journal's run.duration_s over the same runs (min %.1f, "
                   "max %.1f)" % (min(durs), max(durs)))
        sec.figure("runs per hour per board from run durations at -j%d" % jobs,
                   3600 / B.median(durs), "runs/h",
                   "3600 / median run duration: what one board does with no time between "
                   "runs")
    if len(raw) == 2 and raw[0]["runs"] and raw[1]["runs"]:
        a = len(raw[0]["runs"]) / raw[0]["wall_s"]
        b = len(raw[1]["runs"]) / raw[1]["wall_s"]
        sec.figure("-j%d / -j%d throughput" % (raw[1]["jobs"], raw[0]["jobs"]), b / a, "x",
                   "ratio of the two runs-per-hour figures (2 cores: two QEMU boards "
                   "compete with each other and with everything else on the machine)")
    sec.note("Crash states per minute for `explore`: not measured, hilctl has no explore "
             "command yet.")
    sec.save(raw)
    return 0 if all(c["runs"] for c in raw) else 1


if __name__ == "__main__":
    sys.exit(main())
