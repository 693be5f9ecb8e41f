#!/usr/bin/python3
"""bench/bench_cycle.py — cycle overhead (make bench-cycle): the same cut
driven by hilctl and by a minimal script with QEMU alone (bench/cycle.sh),
alternately, in the same session.

hilctl:  hilctl --lab fixtures/lab-qemu.yaml run scenarios/cut-write.yaml
             --board qemu-01 --point POINT --out DIR
script:  bench/cycle.sh POINT

Both: fresh qcow2 overlay, the lab's QEMU command line, boot to the probe and
the prompt, the update from a server on 127.0.0.1, the cut at "write
offset=POINT", 300 ms off, boot to the probe, the alive round trip, QEMU off.
The figure is the wall time of the whole command (process start to exit);
hilctl's journal duration_s is given beside it. Knobs: BENCH_CYCLE_RUNS (5
each), BENCH_CYCLE_POINT (9437184), BENCH_CYCLE_TIMEOUT (300 s per command).
"""
import json
import os
import resource
import subprocess
import sys
import time

import benchlib as B

# Points on both sides: on1 = power on begins (hilctl: "on requested"; the
# script: QEMU spawned), so QEMU's own start-up is inside the boot phases of
# both; off = QEMU gone after the cut.
PHASES = [("on1", "probe1", "power on + boot to the version probe"),
          ("probe1", "prompt", "probe to prompt"),
          ("prompt", "trigger", "update sent to write offset=POINT"),
          ("trigger", "off", "trigger to QEMU gone"),
          ("off", "probe2", "off time 300 ms + power on + boot to the probe"),
          ("probe2", "judged", "alive probe / verdict"),
          ("judged", "end", "final power off")]


def normalize_argv(argv, plumbing):
    """QEMU's argv without the control plumbing (QMP, pidfile, -S, the
    console chardev and -serial) and with paths resolved, for comparison;
    plumbing maps an option to whether it takes a value."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in plumbing:
            skip = plumbing[a]
            continue
        parts = []
        for p in a.split(","):
            k, eq, v = p.partition("=")
            if eq and k == "file" and v.endswith(".qcow2"):
                v = "OVERLAY"
            elif eq and v.startswith("/"):
                v = os.path.realpath(v)
            elif not eq and k.startswith("/"):
                k = os.path.realpath(k)
            parts.append(k + eq + v)
        out.append(",".join(parts))
    return out


def compare_argv(sec):
    """Start qemu-01 with `hilctl power on` once and compare its QEMU
    command line (from /proc) with the script's."""
    env, d = B.hil_env("argv")
    lab = B.LAB_QEMU
    subprocess.run([B.HILCTL, "--lab", lab, "power", "qemu-01", "on"], env=env, timeout=60,
                   check=True, capture_output=True)
    try:
        with open(os.path.join(env["HILCTL_RUN_DIR"], "qemu-01", "qemu.pid")) as f:
            pid = int(f.read())
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            hil = [a.decode() for a in f.read().split(b"\0") if a]
        hil_base = overlay_base(hil)
    finally:
        subprocess.run([B.HILCTL, "--lab", lab, "power", "qemu-01", "off"], env=env, timeout=60,
                       capture_output=True)
    script = subprocess.run([os.path.join(B.ROOT, "bench", "cycle.sh"), "--print"],
                            capture_output=True, text=True, timeout=30).stdout.split("\n")
    script = [a for a in script if a]
    h = normalize_argv(hil, {"-S": False, "-qmp": True, "-pidfile": True, "-chardev": True,
                             "-serial": True})
    s = normalize_argv(script, {"-serial": True})
    base = subprocess.run([os.path.join(B.ROOT, "bench", "cycle.sh"), "--print-base"],
                          capture_output=True, text=True, timeout=30).stdout.strip()
    if hil_base != os.path.realpath(base):
        sec.note("overlay base DIFFERS: hilctl's overlay is over %s, the script's over %s" % (
            hil_base, base))
    else:
        sec.note("both overlays are over %s (hilctl's from qemu-img info of its overlay)" %
                 hil_base)
    same = h == s
    sec.note("QEMU command line: hilctl's (from /proc/PID/cmdline of `hilctl power qemu-01 on`) "
             "and cycle.sh's are %s once hilctl's control plumbing (-S, -qmp, -pidfile, the "
             "console chardev) and the script's -serial stdio are set aside%s" % (
                 "identical" if same else "DIFFERENT",
                 "" if same else ": hilctl %s vs script %s" % (h, s)))
    return hil, script


def overlay_base(argv):
    """The backing file of the qcow2 overlay in a QEMU command line."""
    for a in argv:
        for p in a.split(","):
            if p.startswith("file=") and p.endswith(".qcow2"):
                r = subprocess.run(["qemu-img", "info", "-U", "--output=json", p[5:]],
                                   capture_output=True, text=True, timeout=30)
                info = json.loads(r.stdout or "{}")
                b = info.get("full-backing-filename") or info.get("backing-filename")
                return os.path.realpath(b) if b else None
    return None


def run_timed(cmd, env, timeout):
    """Wall time and CPU (this command and all it waited for, QEMU included)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = B.start(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        B.stop(p)
        raise RuntimeError("%s: no exit within %d s" % (cmd[0], timeout))
    wall = time.monotonic() - t0
    B._procs.remove(p)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return p.returncode, wall, cpu, out, err


def hilctl_phases(out_dir):
    """B..J of PHASES from the run's timeline (seconds on its clock)."""
    with open(os.path.join(out_dir, "journal.jsonl")) as f:
        run = [json.loads(l)["run"] for l in f if l.startswith('{"run"')][0]
    ev = []
    with open(os.path.join(out_dir, run["timeline"])) as f:
        for line in f:
            r = json.loads(line)
            if "t" in r:
                ev.append((r["t"], r["k"], r["d"]))
    ph, on_req, offs = {}, [], []
    for t, k, d in ev:
        if k == "power" and d.startswith("on requested"):
            on_req.append(t)
        elif k == "marker" and d.startswith("step 2: matched"):
            ph["probe1"] = t
        elif k == "marker" and d.startswith("step 3: matched"):
            ph["prompt"] = t
        elif k == "marker" and d.startswith("fault trigger"):
            ph["trigger"] = t
        elif k == "power" and d == "off":
            offs.append(t)
        elif k == "con" and "hilctl-probe:" in d and "trigger" in ph:
            ph.setdefault("probe2", t)
        elif k == "verdict":
            ph["judged"] = t
    if on_req:
        ph["on1"] = on_req[0]
    after = [t for t in offs if "trigger" in ph and t > ph["trigger"]]
    if after:
        ph["off"] = after[0]
        ph["end"] = after[-1]
    return run, ph


def parse_script(out):
    last = [l for l in out.splitlines() if l.startswith("on1=")]
    return {k: float(v) for k, v in (w.split("=") for w in last[-1].split())} if last else {}


def main():
    B.need(B.HILCTL, "make")
    B.need(os.path.join(B.REFDUT, "good", "disk.pristine.img"), "make refdut")
    runs = B.env_int("BENCH_CYCLE_RUNS", 5)
    point = B.env_str("BENCH_CYCLE_POINT", "9437184")
    timeout = B.env_int("BENCH_CYCLE_TIMEOUT", 300)
    sec = B.Section("cycle", "Cycle overhead: hilctl vs. a script with QEMU alone")
    sec.param(BENCH_CYCLE_RUNS=runs, BENCH_CYCLE_POINT=point)
    compare_argv(sec)
    raw = {"hilctl": [], "script": []}
    for i in range(runs):
        order = ("hilctl", "script") if i % 2 == 0 else ("script", "hilctl")
        for who in order:
            env, d = B.hil_env("cyc")
            if who == "hilctl":
                out_dir = os.path.join(d, "out")
                cmd = [B.HILCTL, "--lab", B.LAB_QEMU, "run",
                       os.path.join(B.ROOT, "scenarios", "cut-write.yaml"), "--board", "qemu-01",
                       "--point", point, "--out", out_dir]
            else:
                cmd = [os.path.join(B.ROOT, "bench", "cycle.sh"), point]
            load = B.loadavg()[0]
            rc, wall, cpu, out, err = run_timed(cmd, env, timeout)
            rec = {"run": i, "rc": rc, "wall_s": wall, "cpu_s": cpu, "load1": load}
            if who == "hilctl" and rc == 0:
                run, ph = hilctl_phases(out_dir)
                rec.update(duration_s=run["duration_s"], verdict=run["verdict"],
                           latency_us=run["fault"]["latency_us"], phases=ph)
            elif who == "script" and rc == 0:
                rec["phases"] = parse_script(out)
            if rc != 0:
                rec["stderr"] = err[-600:]
            raw[who].append(rec)
            print("  run %d %-6s rc=%d wall %.2f s cpu %.2f s%s (load %.2f)" % (
                i + 1, who, rc, wall, cpu,
                ", journal %.2f s, %s, cut %s us after trigger" % (
                    rec["duration_s"], rec["verdict"], rec["latency_us"])
                if "duration_s" in rec else "", load), flush=True)
            if rc != 0:
                print("    " + err.strip()[-400:].replace("\n", "\n    "), flush=True)
    report(sec, raw, runs, point)
    sec.save(raw)
    return 0


def report(sec, raw, runs, point):
    ok = {w: [r for r in raw[w] if r["rc"] == 0] for w in raw}
    if not ok["hilctl"] or not ok["script"]:
        sec.note("no comparison: hilctl %d/%d and script %d/%d runs succeeded" % (
            len(ok["hilctl"]), runs, len(ok["script"]), runs))
        return
    mh = B.median([r["wall_s"] for r in ok["hilctl"]])
    ms = B.median([r["wall_s"] for r in ok["script"]])
    mj = B.median([r["duration_s"] for r in ok["hilctl"]])
    def how(n):
        return ("median over %d/%d runs (alternating with the other, same session) of the "
                "wall time of the whole command, process start to exit; point %s" % (
                    n, runs, point))
    sec.figure("hilctl cycle (run --point, whole command)", mh, "s", how(len(ok["hilctl"])))
    sec.figure("script cycle (bench/cycle.sh, QEMU alone)", ms, "s", how(len(ok["script"])))
    sec.figure("hilctl / script, ratio of medians", mh / ms, "",
               "median hilctl wall time / median script wall time", goal="≤ 1.05",
               met=mh / ms <= 1.05)
    pairs = [h["wall_s"] / sc["wall_s"] for h, sc in zip(raw["hilctl"], raw["script"])
             if h["rc"] == 0 and sc["rc"] == 0]
    if pairs:
        sec.figure("hilctl / script, median of paired ratios", B.median(pairs), "",
                   "each hilctl run against the script run next to it (same load), median "
                   "of %d ratios, range %.2f-%.2f: less sensitive to load drifting over the "
                   "session than the ratio of medians" % (len(pairs), min(pairs), max(pairs)))
    lat = [r["latency_us"] / 1e3 for r in ok["hilctl"] if r.get("latency_us", -1) >= 0]
    if lat:
        sec.figure("hilctl cut latency in these runs p50 / max",
                   "%.2f / %.2f" % (B.median(lat), max(lat)), "ms",
                   "the journal's fault.latency_us of the %d hilctl runs (trigger: write "
                   "offset=%s during the update)" % (len(lat), point))
    sec.figure("hilctl run duration in the journal", mj, "s",
               "median of the journal's run.duration_s (from the run's start, after lab "
               "loading and journal setup, to its verdict)")
    sec.figure("CPU per cycle, hilctl (QEMU included)", B.median([r["cpu_s"] for r in ok["hilctl"]]),
               "s", "median user+sys of the command and everything it waited for (QEMU, "
               "qemu-img), from getrusage(RUSAGE_CHILDREN)")
    sec.figure("CPU per cycle, script (QEMU included)", B.median([r["cpu_s"] for r in ok["script"]]),
               "s", "the same for bench/cycle.sh (bash, http.server, qemu-img, QEMU)")
    rows = []
    for a, b, what in PHASES:
        hv = [r["phases"][b] - r["phases"][a] for r in ok["hilctl"]
              if a in r.get("phases", {}) and b in r["phases"]]
        sv = [r["phases"][b] - r["phases"][a] for r in ok["script"]
              if a in r.get("phases", {}) and b in r["phases"]]
        rows.append((what, B.median(hv) if hv else float("nan"),
                     B.median(sv) if sv else float("nan")))
    hout = B.median([r["wall_s"] - (r["phases"]["end"] - r["phases"]["on1"])
                     for r in ok["hilctl"] if {"end", "on1"} <= set(r.get("phases", {}))])
    sout = B.median([r["wall_s"] - (r["phases"]["end"] - r["phases"]["on1"])
                     for r in ok["script"] if {"end", "on1"} <= set(r.get("phases", {}))])
    rows.append(("outside: start-up to the first power on, and exit", hout, sout))
    print("  phase medians (s):        hilctl   script")
    for what, h, s in rows:
        print("    %-44s %7.3f  %7.3f" % (what, h, s))
    sec.note("Phase medians, hilctl vs script (s): " + "; ".join(
        "%s %.2f vs %.2f" % r for r in rows) + ". hilctl's points come from its timeline "
        "(power on requested, markers, power off done), the script's from its own "
        "timestamps (QEMU spawned, markers, QEMU reaped); 'outside' is the wall time "
        "before the first power on and after the last power off (process start, lab and "
        "journal, overlay, server; reports and exit).")
    sec.note("Same work on both sides: a fresh qcow2 overlay (qemu-img) per cycle, the same "
             "QEMU command line, the same update (v2 from a server on 127.0.0.1), the cut at "
             "the same marker, the scenario's 300 ms off time, the alive round trip. "
             "Differences: the script kills QEMU with SIGKILL where hilctl asks QMP to quit "
             "(and waits for the process to exit); hilctl starts QEMU paused, connects the "
             "console, then cont (no byte lost); the script's http.server is python, "
             "hilctl's server is in-process (libmicrohttpd); hilctl also writes the timeline "
             "and an fsync'ed journal.")


if __name__ == "__main__":
    sys.exit(main())
