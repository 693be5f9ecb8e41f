#!/usr/bin/python3
"""bench/bench_explore.py — crash states per minute of `hilctl explore` on
the reference board (make bench-explore): one recording of the whole v1→v2
update (scenarios/explore-v2.yaml, no fault, every disk write logged), then
the same recording explored at -j1 and at -j2 with --from:

    hilctl --lab fixtures/lab-qemu.yaml explore scenarios/explore-v2.yaml --list --out REC
    hilctl --lab fixtures/lab-qemu.yaml explore scenarios/explore-v2.yaml --from REC
           --max-states N -j J --out DIR

States per minute = states booted / the journal's end.boot_s (handing out
the first state to the last verdict) x 60; the journal's per-state build_s
(the crash disk made with qemu-io) and duration_s (power on to verdict) give
the split. Knobs: BENCH_EXPLORE_STATES (8 per -j), BENCH_EXPLORE_JOBS
("1 2"), BENCH_EXPLORE_TIMEOUT (1800 s a command).
"""
import json
import os
import subprocess
import sys
import time

import benchlib as B

SCENARIO = os.path.join(B.ROOT, "scenarios", "explore-v2.yaml")


def explore(env, args, timeout):
    cmd = [B.HILCTL, "--lab", B.LAB_QEMU, "explore", SCENARIO] + args
    t0 = time.monotonic()
    p = B.start(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines, timed_out = B.stream(p, p.stdout, timeout)
    return {"rc": "timeout" if timed_out else p.returncode, "wall_s": time.monotonic() - t0,
            "tail": " / ".join(lines[-4:])}


def journal(out):
    head, states, end = {}, [], {}
    try:
        with open(os.path.join(out, "journal.jsonl")) as f:
            for line in f:
                r = json.loads(line)
                head = r.get("explore", head)
                end = r.get("end", end)
                if "state" in r:
                    states.append(r["state"])
    except (OSError, ValueError):
        pass
    return head, states, end


def main():
    B.need(B.HILCTL, "make")
    n = B.env_int("BENCH_EXPLORE_STATES", 8)
    jobs_list = [int(j) for j in B.env_str("BENCH_EXPLORE_JOBS", "1 2").split()]
    timeout = B.env_int("BENCH_EXPLORE_TIMEOUT", 1800)
    sec = B.Section("explore", "Explore: crash states per minute")
    sec.param(BENCH_EXPLORE_STATES=n, BENCH_EXPLORE_JOBS=" ".join(map(str, jobs_list)))
    env, d = B.hil_env("exp")
    rec = os.path.join(d, "rec")
    load = B.loadavg()
    r = explore(env, ["--list", "--out", rec], timeout)
    raw = {"record": r, "load_start": load, "runs": []}
    meta = {}
    try:
        with open(os.path.join(rec, "record", "record.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        pass
    if r["rc"] != 0 or not meta:
        sec.note("the recording failed (exit %s): %s" % (r["rc"], r["tail"]))
        sec.save(raw)
        return 1
    sec.figure("recording of the v1→v2 update", meta.get("duration_s", 0), "s",
               "explore --list: the update once with every disk write logged, power on to "
               "the committed new version (%s)" % meta.get("verdict"))
    t0 = time.monotonic()
    lst = explore(env, ["--from", rec, "--list", "--out", os.path.join(d, "list")], timeout)
    sec.figure("enumeration, dedupe and hashing", time.monotonic() - t0, "s",
               "explore --from REC --list: read and hash the log, enumerate, order, dedupe, "
               "write states.jsonl (whole command, exit %s)" % lst["rc"])
    ok = True
    for jobs in jobs_list:
        out = os.path.join(d, "j%d" % jobs)
        c = explore(env, ["--from", rec, "--max-states", str(n * jobs), "-j", str(jobs),
                          "--out", out], timeout)
        head, states, end = journal(out)
        raw["runs"].append({"jobs": jobs, "rc": c["rc"], "wall_s": c["wall_s"], "end": end,
                            "states": [{k: s.get(k) for k in ("n", "sel", "class", "phase",
                                                               "verdict", "build_s",
                                                               "duration_s")}
                                       for s in states]})
        if not states or not end.get("boot_s"):
            sec.note("-j%d: no state booted (exit %s): %s" % (jobs, c["rc"], c["tail"]))
            ok = False
            continue
        if jobs == jobs_list[0]:
            log = head.get("log", {})
            sec.figure("log entries of the recording", log.get("entries", 0), "",
                       "%d writes, %d flushes, %d flush epochs, %d phase markers" % (
                           log.get("writes", 0), log.get("flushes", 0), log.get("epochs", 0),
                           log.get("phase_markers", 0)))
            sec.figure("crash states enumerated / distinct", head.get("states", 0), "",
                       "%d distinct after dedupe by content hash (--reorder 2)" %
                       head.get("distinct", 0))
        verdicts = {}
        for s in states:
            verdicts[s["verdict"]] = verdicts.get(s["verdict"], 0) + 1
        sec.figure("crash states per minute at -j%d" % jobs,
                   len(states) / end["boot_s"] * 60, "states/min",
                   "%d states booted / %.0f s (journal end.boot_s) x 60; exit %s; verdicts %s" % (
                       len(states), end["boot_s"], c["rc"],
                       ", ".join("%s %d" % kv for kv in sorted(verdicts.items()))))
        builds = [s["build_s"] for s in states if s.get("build_s") is not None]
        boots = [s["duration_s"] for s in states if s.get("duration_s")]
        sec.figure("crash disk build at -j%d, median" % jobs, B.median(builds), "s",
                   "journal state.build_s: qemu-img + qemu-io writing the state's entries into "
                   "a qcow2 over the base (max %.1f)" % max(builds))
        sec.figure("boot to verdict at -j%d, median" % jobs, B.median(boots), "s",
                   "journal state.duration_s: power on from the crash disk to the oracle's "
                   "verdict (max %.1f)" % max(boots))
    sec.save(raw)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
