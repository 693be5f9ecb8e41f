#!/usr/bin/python3
"""bench/bench_server.py — hilctl's update server with the size of the
update (make bench-server): build/bench/server_bench (harness/server/server.c in a
poll() loop, as a run drives it) serves files of 16, 64 and 256 MiB to
`curl -o /dev/null` on 127.0.0.1. Per size: the median of REPS downloads of
MB/s (curl's speed_download, 1 MB = 10^6 bytes) and the server's CPU time
(/proc/PID/schedstat, or /proc/PID/stat for the threaded python server,
before and after each download) per GiB served. For
scale, the same files from Python's http.server (python3 -m http.server).

Knobs: BENCH_SERVER_SIZES ("16 64 256", MiB), BENCH_SERVER_REPS (3).
The files (random bytes, in build/bench/server-root/) are made once and are
in the page cache while measured: this is the server and loopback, not a
disk.
"""
import os
import re
import resource
import select
import subprocess
import sys
import time

import benchlib as B


def make_files(root, sizes):
    os.makedirs(root, exist_ok=True)
    for mib in sizes:
        path = os.path.join(root, "%dM.bin" % mib)
        if os.path.exists(path) and os.path.getsize(path) == mib << 20:
            continue
        with open(path + ".tmp", "wb") as f:
            for _ in range(mib):
                f.write(os.urandom(1 << 20))
        os.replace(path + ".tmp", path)
    # Read them once so every server meets them in the page cache.
    for mib in sizes:
        with open(os.path.join(root, "%dM.bin" % mib), "rb") as f:
            while f.read(1 << 22):
                pass


def curl(url, timeout):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "--max-time", str(timeout), "-w",
                        "%{http_code} %{size_download} %{time_total} %{speed_download}", url],
                       capture_output=True, text=True, timeout=timeout + 10)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    code, size, total, speed = r.stdout.split()
    if r.returncode != 0 or code != "200":
        raise RuntimeError("curl %s: exit %d, HTTP %s" % (url, r.returncode, code))
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return int(size), float(total), float(speed), cpu


def serve_hilctl(root):
    p = B.start([os.path.join(B.OUT, "server_bench"), root, "1800"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    r, _, _ = select.select([p.stdout], [], [], 10)
    line = p.stdout.readline() if r else ""
    m = re.match(r"port (\d+)", line)
    if not m:
        B.stop(p)
        raise RuntimeError("server_bench did not start: %r" % line)
    return p, int(m.group(1))


def serve_python(root):
    port = B.free_port()
    p = B.start([B.PY, "-m", "http.server", "--bind", "127.0.0.1", "--directory", root,
                 str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def up():
        try:
            curl("http://127.0.0.1:%d/" % port, 2)
            return True
        except (RuntimeError, ValueError, subprocess.TimeoutExpired):
            return False
    B.wait_for(up, 10, "python http.server", tick=0.05)
    return p, port


def measure(server, root, sizes, reps):
    p, port = server(root)
    out = {}
    try:
        for mib in sizes:
            rows = []
            for _ in range(reps):
                threaded = server is serve_python
                c0 = B.proc_cpu_s(p.pid, threaded)
                size, total, speed, curl_cpu = curl(
                    "http://127.0.0.1:%d/%dM.bin" % (port, mib), 300)
                srv_cpu = B.proc_cpu_s(p.pid, threaded) - c0
                if size != mib << 20:
                    raise RuntimeError("got %d of %d bytes" % (size, mib << 20))
                rows.append({"seconds": total, "MBps": speed / 1e6, "server_cpu_s": srv_cpu,
                             "curl_cpu_s": curl_cpu})
            out[mib] = rows
    finally:
        if server is serve_hilctl:
            p.stdin.close()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        B.stop(p)
    return out


def main():
    B.need(os.path.join(B.OUT, "server_bench"), "make bench-bins")
    sizes = [int(x) for x in B.env_str("BENCH_SERVER_SIZES", "16 64 256").split()]
    reps = B.env_int("BENCH_SERVER_REPS", 3)
    sec = B.Section("server", "Update server: payload size")
    sec.param(BENCH_SERVER_SIZES=" ".join(map(str, sizes)), BENCH_SERVER_REPS=reps)
    root = os.path.join(B.OUT, "server-root")
    make_files(root, sizes)
    hil = measure(serve_hilctl, root, sizes, reps)
    py = measure(serve_python, root, sizes, reps)
    for mib in sizes:
        h, q = hil[mib], py[mib]
        mbps = B.median([r["MBps"] for r in h])
        cpu_gib = B.median([r["server_cpu_s"] / (mib / 1024) for r in h])
        sec.figure("hilctl server, %d MiB" % mib,
                   "%.0f MB/s, %.2f CPU s/GiB" % (mbps, cpu_gib), "",
                   "median of %d downloads with curl -o /dev/null over 127.0.0.1: curl's "
                   "speed_download; server CPU per GiB served (schedstat); curl itself used "
                   "%.2f CPU s/GiB" % (reps, B.median([r["curl_cpu_s"] / (mib / 1024)
                                                        for r in h])))
        sec.figure("python3 http.server, %d MiB (for scale)" % mib,
                   "%.0f MB/s, %.2f CPU s/GiB" % (
                       B.median([r["MBps"] for r in q]),
                       B.median([r["server_cpu_s"] / (mib / 1024) for r in q])), "",
                   "the same downloads from Python's http.server (a thread per request; CPU from "
                   "/proc/PID/stat in 10 ms ticks)")
    sec.note("Curve (MiB: hilctl MB/s; python MB/s): " + "; ".join(
        "%d: %.0f; %.0f" % (m, B.median([r["MBps"] for r in hil[m]]),
                            B.median([r["MBps"] for r in py[m]])) for m in sizes) +
        ". A board's download is bounded by its own network long before this: in "
        "bench-cycle's runs the reference board received about 13 MB/s through QEMU's "
        "user-mode network.")
    sec.save({"hilctl": hil, "python": py})
    return 0


if __name__ == "__main__":
    sys.exit(main())
