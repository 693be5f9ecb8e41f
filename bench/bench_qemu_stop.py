#!/usr/bin/python3
"""bench/bench_qemu_stop.py — where the time of a QEMU power cut goes (make
bench-qemu-stop), to read beside bench-latency: the reference board with the
lab's command line, QMP "stop" sent (then "cont") N times at the idle prompt
and N times during the rootfs write of an update, and once each in N fresh
QEMUs right at the U-Boot banner (bench-latency's trigger), from a client that keeps
its QMP connection open as hilctl's qemu driver does.

For each stop: the STOP event's own timestamp (QEMU stamps it once the vCPUs
are paused) and the arrival of the command's return (QEMU answers after it
also drained and flushed every block device: do_vm_stop's bdrv_drain_all and
bdrv_flush_all), both from the moment the command was sent (wall clock, the
clock QEMU stamps events with). The console is read all along, as hilctl
does: QEMU's serial, when its socket is full, retries the write in the vCPU
thread with the big QEMU lock held, and QMP is not served until someone
reads. Knob: BENCH_QEMU_STOP_N (10 each).
"""
import os
import subprocess
import sys
import time

import benchlib as B
import bench_snapshot as S


def drain(con, seconds):
    """Read the console for this long: QEMU's serial blocks the vCPU, with
    the big QEMU lock held, when nobody reads, and then QMP is not served."""
    try:
        con.expect(rb"(?!x)x", seconds)  # never matches: reads until the time is up
    except TimeoutError:
        pass


def stops(m, n, timeout, pause=0.1):
    ev, rep, lost = [], [], 0
    for _ in range(n):
        if pause:
            drain(m.con, pause)  # let the guest run between two cuts
        m.qmp.events.clear()
        t_send = time.time()
        try:
            m.qmp.cmd("stop", timeout=timeout)
        except OSError:  # no answer in time: count it and stop asking
            lost += 1
            break
        t_rep = time.time()
        e = [x for x in m.qmp.events if x.get("event") == "STOP"]
        if e:
            ts = e[0]["timestamp"]
            ev.append((ts["seconds"] + ts["microseconds"] / 1e6 - t_send) * 1e3)
        rep.append((t_rep - t_send) * 1e3)
        m.qmp.cmd("cont")
    return {"event_ms": ev, "reply_ms": rep, "no_reply": lost}


def banner_stops(d, n, timeout):
    """One stop per fresh QEMU, right at the U-Boot banner (bench-latency's
    trigger), and a query-status round trip just before it."""
    out = {"event_ms": [], "reply_ms": [], "query_ms": [], "no_reply": 0}
    for i in range(n):
        disk = os.path.join(d, "banner.qcow2")
        if os.path.exists(disk):
            os.unlink(disk)
        S.overlay(disk, S.base_image(), "raw")
        m = S.Machine(d, disk)
        try:
            m.con.expect(rb"^U-Boot 20\d\d", 60)
            t = time.time()
            m.qmp.cmd("query-status", timeout=timeout)
            out["query_ms"].append((time.time() - t) * 1e3)
            r = stops(m, 1, timeout, pause=0)
            for k in ("event_ms", "reply_ms"):
                out[k] += r[k]
            out["no_reply"] += r["no_reply"]
        finally:
            m.stop()
    return out


def main():
    n = B.env_int("BENCH_QEMU_STOP_N", 10)
    timeout = B.env_int("BENCH_QEMU_STOP_TIMEOUT", 60)
    sec = B.Section("qemu-stop", "QEMU stop: vCPUs paused vs. the QMP answer")
    sec.param(BENCH_QEMU_STOP_N=n)
    d = B.private_dir("stop")
    disk = os.path.join(d, "overlay.qcow2")
    S.overlay(disk, S.base_image(), "raw")
    port = B.free_port()
    srv = B.start([B.PY, "-m", "http.server", "--bind", "127.0.0.1", "--directory",
                   os.path.join(B.REFDUT, "good", "bundles"), str(port)],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    raw = {"banner": banner_stops(d, n, timeout)}
    m = S.Machine(d, disk)
    try:
        m.con.expect(S.PROMPT, 180)
        raw["prompt"] = stops(m, n, timeout)
        B.wait_for(lambda: S.port_open(port), 10, "http.server")
        m.con.send("hilctl-update http://10.0.2.2:%d/v2" % port)
        m.con.expect(rb"hilctl-agent: write offset=1048576\b", 120)
        raw["write"] = stops(m, n, timeout)
    finally:
        m.stop()
        B.stop(srv)
    b = raw["banner"]
    if b["query_ms"]:
        sec.figure("query-status at the U-Boot banner p50 / max",
                   "%.2f / %.2f" % (B.median(b["query_ms"]), max(b["query_ms"])), "ms",
                   "%d fresh QEMUs: a QMP round trip that stops nothing, sent when the banner "
                   "was read (then the stop below): how busy QEMU's main loop is then" %
                   len(b["query_ms"]))
    for key, what in (("banner", "at the U-Boot banner"), ("prompt", "idle at the prompt"),
                      ("write", "during the rootfs write")):
        r = raw.get(key)
        if not r or not r["reply_ms"]:
            continue
        ev, rep = r["event_ms"], r["reply_ms"]
        sec.figure("stop %s: vCPUs paused p50 / max" % what,
                   "%.2f / %.2f" % (B.median(ev), max(ev)), "ms",
                   "%d stops: STOP event timestamp - time the command was sent" % len(ev))
        sec.figure("stop %s: QMP answer p50 / p90 / max" % what,
                   "%.2f / %.2f / %.2f" % (B.median(rep), B.pct(rep, 90), max(rep)), "ms",
                   "the same stops: arrival of the return - time sent (includes the drain and "
                   "flush of the disks)")
        if r["no_reply"]:
            sec.note("stop %s: %d stop(s) got no answer within %d s" % (
                what, r["no_reply"], timeout))
    sec.note("Found on the way: a console that is not read stops QMP. With the console "
             "socket full, the vCPU thread retries the serial write (qemu_chr_write, "
             "g_usleep) holding the big QEMU lock, the main loop waits for that lock "
             "(gdb: main_loop_wait -> qemu_mutex_lock_iothread), and a QMP stop or quit "
             "gets no answer at all (seen here with 60 s deadlines while this benchmark did "
             "not read the console between stops). hilctl reads the console in every wait, "
             "but not while it waits for QMP's answer to stop/quit.")
    sec.note("A cut measured to the QMP answer counts QEMU's drain and flush of the disks, "
             "which happen after the guest stopped; the STOP event's timestamp is when the "
             "vCPUs were paused.")
    sec.save(raw)
    return 0 if raw.get("write", {}).get("reply_ms") else 1


if __name__ == "__main__":
    sys.exit(main())
