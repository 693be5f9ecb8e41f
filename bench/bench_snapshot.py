#!/usr/bin/python3
"""bench/bench_snapshot.py — what starting a run from a QEMU snapshot would
gain (make bench-snapshot). The reference board with the lab's QEMU command
line (bench/cycle.sh --print: fixtures/lab-qemu.yaml's, the console on a
unix socket and QMP added, started with -S and cont as hilctl does):

cold      fresh qcow2 overlay over the lab's base image (cycle.sh --print-base), boot to the prompt "refdut# ",
          then a console round trip (echo snap-$((6*7)) -> snap-42): ready.
internal  once: boot a "golden" overlay to the prompt, QMP stop, HMP savevm
          (the VM state goes into the qcow2 overlay; the pflash env drive is
          raw and readonly=on, which savevm must skip). Per run: copy the
          golden overlay (cp --reflink=auto), start QEMU with -loadvm, the
          same round trip.
external  once: the same golden boot, QMP stop, migrate to a file
          ("exec:cat > FILE"), quit. Per run: a fresh qcow2 overlay over the
          golden overlay, QEMU with -incoming "exec:cat FILE", the round trip.

engine    hilctl itself: `hilctl run` of cut-write at one point, alternately
          as shipped (every run boots) and with `snapshot: before-update`
          added (the first run boots and saves, every later one restores);
          the journal's run duration and the whole command's wall time.

After each kind of restore, once, the update is started (hilctl-update from
a python3 http.server on 127.0.0.1) and "write offset=1048576" awaited, to
show that the restored board's network and disk work. Knobs:
BENCH_SNAPSHOT_RUNS (3 of each), BENCH_SNAPSHOT_ENGINE_RUNS (5 pairs),
BENCH_SNAPSHOT_POINT (9437184).
"""
import os
import shutil
import subprocess
import sys
import time

import benchlib as B

PROMPT = rb"refdut# "
TAG = "hilctl-prompt"


def lab_argv(disk):
    """The lab's QEMU command line (bench-cycle checks that cycle.sh's is
    hilctl's) with this disk, without the script's -serial stdio."""
    argv = subprocess.run([os.path.join(B.ROOT, "bench", "cycle.sh"), "--print"],
                          capture_output=True, text=True, timeout=30,
                          check=True).stdout.split("\n")
    argv = [a for a in argv if a]
    i = argv.index("-serial")
    del argv[i:i + 2]
    return [("if=none,id=disk0,file=%s,format=qcow2" % disk)
            if a.startswith("if=none,id=disk0") else a for a in argv]


def base_image():
    return subprocess.run([os.path.join(B.ROOT, "bench", "cycle.sh"), "--print-base"],
                          capture_output=True, text=True, timeout=30,
                          check=True).stdout.strip()


class Machine:
    """One QEMU: started paused, console connected, then cont."""

    def __init__(self, d, disk, extra=(), paused=True):
        self.qmp_path = os.path.join(d, "qmp.sock")
        self.con_path = os.path.join(d, "con.sock")
        for p in (self.qmp_path, self.con_path):
            if os.path.exists(p):
                os.unlink(p)
        argv = lab_argv(disk) + [
            "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
            "-chardev", "socket,id=con0,path=%s,server=on,wait=off" % self.con_path,
            "-serial", "chardev:con0"] + (["-S"] if paused else []) + list(extra)
        self.err = open(os.path.join(d, "qemu.stderr"), "w")
        self.t0 = time.monotonic()
        self.p = B.start(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=self.err)
        self.qmp = B.QMP(self.qmp_path, timeout=60)
        self.con = B.Console(B.unix_connect(self.con_path, 30))
        if paused:
            self.qmp.cmd("cont")

    def ready(self, timeout=120):
        """The console round trip; seconds since QEMU started."""
        self.con.send("echo snap-$((6*7))")
        self.con.expect(rb"snap-42", timeout)
        return time.monotonic() - self.t0

    def stop(self):
        try:
            self.qmp.cmd("quit", timeout=10)
        except (OSError, EOFError, RuntimeError):
            pass
        self.qmp.close()
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        B.stop(self.p)
        self.err.close()


def overlay(path, backing, fmt):
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", backing, "-F", fmt, path],
                   check=True, timeout=60)


def cold(d, runs):
    out = []
    for i in range(runs):
        t0 = time.monotonic()
        disk = os.path.join(d, "cold-%d.qcow2" % i)
        overlay(disk, base_image(), "raw")
        m = Machine(d, disk)
        try:
            m.con.expect(PROMPT, 180)
            t_prompt = time.monotonic() - t0
            t_ready = m.ready() + (m.t0 - t0)
        finally:
            m.stop()
        os.unlink(disk)
        out.append({"prompt_s": t_prompt, "ready_s": t_ready})
        print("    cold %d: prompt %.2f s, ready %.2f s" % (i + 1, t_prompt, t_ready), flush=True)
    return out


def golden(d, sec):
    """Boot a golden overlay to the prompt; savevm into it, and migrate the
    same state to a file. Returns (golden image, state file) or Nones."""
    g = os.path.join(d, "golden.qcow2")
    overlay(g, base_image(), "raw")
    m = Machine(d, g)
    state = os.path.join(d, "state.bin")
    ok_internal = ok_external = False
    try:
        m.con.expect(PROMPT, 180)
        m.ready()
        m.qmp.cmd("stop")
        t = time.monotonic()
        msg = m.qmp.hmp("savevm %s" % TAG)
        dt = time.monotonic() - t
        info = m.qmp.hmp("info snapshots")
        ok_internal = TAG in (info or "")
        sec.note("savevm with the lab's drives (pflash unit 1 raw, readonly=on; disk a qcow2 "
                 "overlay): %s in %.2f s%s. `info snapshots`: %s" % (
                     "works" if ok_internal else "FAILS", dt,
                     (" — QEMU says: " + msg.strip()) if msg and msg.strip() else "",
                     " | ".join(l.strip() for l in (info or "").splitlines()[-2:])))
        t = time.monotonic()
        m.qmp.cmd("migrate", uri="exec:cat > %s" % state)
        B.wait_for(lambda: m.qmp.cmd("query-migrate").get("status") in ("completed", "failed"),
                   120, "migration to a file", tick=0.05)
        st = m.qmp.cmd("query-migrate").get("status")
        ok_external = st == "completed"
        sec.note("VM state to a file (QMP migrate exec:cat > FILE, the VM stopped): %s in "
                 "%.2f s, %.0f MiB" % (st, time.monotonic() - t,
                                       os.path.getsize(state) / 2**20 if ok_external else 0))
    finally:
        m.stop()
    if ok_internal:
        sec.note("golden overlay with the internal snapshot: %.0f MiB on disk" % (
            os.path.getsize(g) / 2**20))
    return (g if ok_internal else None), (state if ok_external else None), g


def restore_internal(d, g, runs, check):
    out, out_check = [], None
    for i in range(runs):
        t0 = time.monotonic()
        disk = os.path.join(d, "run-%d.qcow2" % i)
        subprocess.run(["cp", "--reflink=auto", g, disk], check=True, timeout=120)
        t_copy = time.monotonic() - t0
        m = Machine(d, disk, extra=["-loadvm", TAG])
        try:
            t_ready = m.ready(60) + (m.t0 - t0)
            if check and i == 0:
                out_check = update_works(m)
        finally:
            m.stop()
        os.unlink(disk)
        out.append({"copy_s": t_copy, "ready_s": t_ready})
        print("    internal %d: copy %.2f s, ready %.2f s" % (i + 1, t_copy, t_ready), flush=True)
    return out, out_check


def restore_external(d, g, state, runs, check):
    out, out_check = [], None
    for i in range(runs):
        t0 = time.monotonic()
        disk = os.path.join(d, "ext-%d.qcow2" % i)
        overlay(disk, g, "qcow2")
        t_overlay = time.monotonic() - t0
        m = Machine(d, disk, extra=["-incoming", "exec:cat %s" % state], paused=False)
        try:
            # The state was saved from a stopped VM: it arrives paused.
            st = B.wait_for(lambda: (lambda x: x if x != "inmigrate" else None)(
                m.qmp.cmd("query-status").get("status")), 60, "incoming migration", tick=0.01)
            if st != "running":
                m.qmp.cmd("cont")
            t_ready = m.ready(60) + (m.t0 - t0)
            if check and i == 0:
                out_check = update_works(m)
        finally:
            m.stop()
        os.unlink(disk)
        out.append({"overlay_s": t_overlay, "ready_s": t_ready})
        print("    external %d: overlay %.2f s, ready %.2f s" % (i + 1, t_overlay, t_ready),
              flush=True)
    return out, out_check


def port_open(port):
    import socket
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def update_works(m):
    """Start the update on a restored board; True when the first MiB is
    written (its network, server and disk work after the restore)."""
    port = B.free_port()
    srv = B.start([B.PY, "-m", "http.server", "--bind", "127.0.0.1", "--directory",
                   os.path.join(B.REFDUT, "good", "bundles"), str(port)],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        B.wait_for(lambda: port_open(port), 10, "http.server on port %d" % port)
        m.con.send("hilctl-update http://10.0.2.2:%d/v2" % port)
        m.con.expect(rb"hilctl-agent: write offset=1048576\b", 120)
        return True
    except (TimeoutError, EOFError) as e:
        print("    update after restore failed: %s" % e, flush=True)
        return False
    finally:
        B.stop(srv)


def engine_run(env, scenario, point, out):
    """One `hilctl run` at point; (wall s, journal run record) or (wall, None)."""
    import json
    t0 = time.monotonic()
    r = subprocess.run([B.HILCTL, "--lab", B.LAB_QEMU, "run", scenario, "--board", "qemu-01",
                        "--point", point, "--out", out], env=env, capture_output=True,
                       text=True, timeout=600)
    wall = time.monotonic() - t0
    try:
        with open(os.path.join(out, "journal.jsonl")) as f:
            run = [json.loads(l)["run"] for l in f if l.startswith('{"run"')][0]
    except (OSError, IndexError, ValueError):
        print("    hilctl run failed (%d): %s" % (r.returncode, r.stderr[-300:]), flush=True)
        return wall, None
    return wall, run


def engine(sec, pairs, point):
    """hilctl's runs with and without snapshot: before-update, alternately,
    on one board's run directory each (the snapshot one keeps its golden
    copy between runs, as a campaign's board does)."""
    d = B.private_dir("snapeng")
    plain = os.path.join(B.ROOT, "scenarios", "cut-write.yaml")
    snap = os.path.join(d, "cut-write-snap.yaml")
    with open(plain) as f:
        text = f.read()
    with open(snap, "w") as f:
        f.write(text.replace("scenario: cut-write", "scenario: cut-write-snap") +
                "snapshot: before-update\n")
    env_plain, _ = B.hil_env("snp")
    env_snap, _ = B.hil_env("sns")
    raw = {"plain": [], "snapshot": [], "save": None}
    wall, run = engine_run(env_snap, snap, point, os.path.join(d, "save"))
    if run:
        raw["save"] = {"wall_s": wall, "duration_s": run["duration_s"], "verdict": run["verdict"]}
        print("    snapshot save run: wall %.2f s, journal %.2f s, %s" % (
            wall, run["duration_s"], run["verdict"]), flush=True)
    for i in range(pairs):
        order = ("plain", "snapshot") if i % 2 == 0 else ("snapshot", "plain")
        for who in order:
            load = B.loadavg()[0]
            wall, run = engine_run(env_plain if who == "plain" else env_snap,
                                   plain if who == "plain" else snap, point,
                                   os.path.join(d, "%s-%d" % (who, i)))
            if run:
                raw[who].append({"wall_s": wall, "duration_s": run["duration_s"],
                                 "verdict": run["verdict"], "load1": load,
                                 "latency_us": run["fault"].get("latency_us")})
                print("    %-8s %d: wall %.2f s, journal %.2f s, %s (load %.2f)" % (
                    who, i + 1, wall, run["duration_s"], run["verdict"], load), flush=True)
    if raw["plain"] and raw["snapshot"]:
        how = ("median over %d/%d runs of cut-write --point %s, alternating (same session); "
               % (len(raw["plain"]), len(raw["snapshot"]), point))
        mp = B.median([r["duration_s"] for r in raw["plain"]])
        ms = B.median([r["duration_s"] for r in raw["snapshot"]])
        wp = B.median([r["wall_s"] for r in raw["plain"]])
        ws = B.median([r["wall_s"] for r in raw["snapshot"]])
        sec.figure("hilctl run, every run boots (journal duration / wall)",
                   "%.2f / %.2f" % (mp, wp), "s", how + "the journal's run.duration_s and the "
                   "whole command's wall time")
        sec.figure("hilctl run from snapshot: before-update (journal duration / wall)",
                   "%.2f / %.2f" % (ms, ws), "s", how + "every run restores the machine saved "
                   "by a first run (not counted: %s)" % (
                       "%.2f s journal" % raw["save"]["duration_s"] if raw["save"] else "failed"))
        sec.figure("gain per run in hilctl, snapshot: before-update", mp - ms, "s",
                   "difference of the medians of the journal durations: %.0f %% of a run; "
                   "verdicts %s vs %s" % (
                       100 * (mp - ms) / mp,
                       sorted(set(r["verdict"] for r in raw["plain"])),
                       sorted(set(r["verdict"] for r in raw["snapshot"]))))
    return raw


def main():
    B.need(base_image(), "make refdut")
    runs = B.env_int("BENCH_SNAPSHOT_RUNS", 3)
    sec = B.Section("snapshot", "Snapshot gain: boot vs. start from a QEMU snapshot")
    pairs = B.env_int("BENCH_SNAPSHOT_ENGINE_RUNS", 5)
    point = B.env_str("BENCH_SNAPSHOT_POINT", "9437184")
    sec.param(BENCH_SNAPSHOT_RUNS=runs, BENCH_SNAPSHOT_ENGINE_RUNS=pairs,
              BENCH_SNAPSHOT_POINT=point)
    d = B.private_dir("snap")
    raw = {"engine": engine(sec, pairs, point)} if pairs > 0 else {}
    raw["cold"] = cold(d, runs) if runs > 0 else []
    if runs <= 0:
        sec.save(raw)
        return 0 if raw.get("engine", {}).get("snapshot") else 1
    g_int, state, g = golden(d, sec)
    if g_int:
        raw["internal"], raw["internal_update_ok"] = restore_internal(d, g_int, runs, True)
    if state:
        raw["external"], raw["external_update_ok"] = restore_external(d, g, state, runs, True)
    cold_ready = B.median([r["ready_s"] for r in raw["cold"]])
    sec.figure("cold boot to the prompt, ready", cold_ready, "s",
               "median of %d: fresh overlay (qemu-img), QEMU start (-S, console, cont), boot "
               "to 'refdut# ' and a console round trip; prompt alone: %.2f s" % (
                   runs, B.median([r["prompt_s"] for r in raw["cold"]])))
    for kind, what in (("internal", "copy of the golden overlay (cp --reflink=auto), QEMU "
                        "-loadvm, console round trip"),
                       ("external", "fresh overlay over the golden disk, QEMU -incoming "
                        "exec:cat FILE, console round trip")):
        if not raw.get(kind):
            continue
        ready = B.median([r["ready_s"] for r in raw[kind]])
        ok = raw.get(kind + "_update_ok")
        sec.figure("%s snapshot start, ready" % kind, ready, "s",
                   "median of %d: %s; the update then %s" % (
                       runs, what, "ran (write offset=1048576 seen)" if ok else
                       "did NOT run"))
        sec.figure("gain per run, %s snapshot" % kind, cold_ready - ready, "s",
                   "cold ready - snapshot ready (medians): %.0f %% of the cold start" % (
                       100 * (cold_ready - ready) / cold_ready))
    sec.note("Every restored run starts from the same guest state: same RAM, same random "
             "seeds and timers; the guest clock jumps at resume. A run that must see a real "
             "boot (the boot path itself, the bootloader's counters) still needs the cold "
             "start. The snapshot must be retaken whenever the image or the QEMU command "
             "line changes (a restore with another machine configuration fails).")
    sec.save(raw)
    return 0 if raw.get("internal") or raw.get("external") else 1


if __name__ == "__main__":
    sys.exit(main())
