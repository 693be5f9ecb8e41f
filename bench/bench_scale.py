#!/usr/bin/python3
"""bench/bench_scale.py — how hilctl's figures grow (make bench-scale): with
the number of boards (1, 8, 64 simulated) and with the size of the update
(16, 64, 256 MiB payload). Prints each curve as a small table.

Boards. One `hilctl run -j N` campaign over N simulated boards: what a lab
user runs to drive a rack from one controller host (one worker process per
board, one journal). Each board is simulated by this file's --sim mode (one
event-driven process for all boards, no polling): a raw TCP console on
127.0.0.1 (what ser2net serves) and a power switch driven by hilctl's
`command` driver, `sh -c 'echo off 1<> DIR/BOARD.ctl'` into a FIFO the
simulator reads at once. A run: power on, the version probe, `sim# `,
`hilctl-update local`, "write offset=K" every BENCH_SCALE_STEP_MS (20 ms),
the cut at offset=POINT (1..8 MiB), 50 ms off, power on, the oracle's probe.
Per board count:
  - trigger-to-cut latency: the journal's fault.latency_us of every run
    (the read that completed the marker returned → the command driver's
    set() returned, i.e. `sh` ran and exited), p50/p99/max; split from the
    run's timeline into hilctl's share (marker → "off requested") and the
    power command's (requested → "off");
  - cycle overhead: journal run duration minus the simulated board's
    scripted time (2 boots + POINT steps + off_time), median and p90;
  - controller CPU per board: CPU time of the hilctl processes (the
    campaign's parent and its workers, /proc/PID/stat sampled every 0.1 s,
    each process's last sample) / wall time / N, and per run; the whole
    tree (with the power commands, from wait4) for comparison;
  - runs per hour, and the simulator's own CPU (it shares the 2 cores).

Payload. The reference board's slots are 64 MiB (fixtures/refdut/README.md),
so a 256 MiB update cannot go through it without new images. Instead one
simulated board downloads its update from hilctl's own update server (a
`serve:` step) with an HTTP/1.1 client on loopback, reporting "write
offset=" every MiB received as the reference agent does, and the cut comes
at "download done". Payloads are random bytes, in the page cache. The board
discards the bytes: no flash write, no sha256 (a real board adds
size / its write rate). One `hilctl run --point S` per cycle, sizes rotated
each round, BENCH_SCALE_PAYLOAD_REPS (5) each: whole-command wall time,
journal run duration, the download's time on the server's timeline, cut
latency and the CPU of hilctl per cycle.

Knobs: BENCH_SCALE_BOARDS ("1 8 64"), BENCH_SCALE_RUNS (128: runs per board
count at least, and at least 4 per board), BENCH_SCALE_STEP_MS (20),
BENCH_SCALE_SIZES ("16 64 256", MiB), BENCH_SCALE_PAYLOAD_REPS (5),
BENCH_SCALE_TIMEOUT (900 s per campaign).
"""
import heapq
import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time

import benchlib as B

WRITE_STEPS = 8
BOOT_S = 0.02
OFF_TIME_S = 0.05

# ---------------------------------------------------------------- simulator


class SimBoard:
    def __init__(self, sim, name):
        self.sim, self.name = sim, name
        self.on = False
        self.gen = 0  # bumped at every power change: stale timers do nothing
        self.client = None
        self.out = b""  # console bytes not yet sent (a ser2net buffer)
        self.inbuf = b""
        self.dl = None
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))  # any free port: no race with other programs
        self.port = self.listener.getsockname()[1]
        self.listener.listen(4)
        self.listener.setblocking(False)
        sim.sel.register(self.listener, selectors.EVENT_READ, ("accept", self))
        path = os.path.join(sim.dir, name + ".ctl")
        if not os.path.exists(path):
            os.mkfifo(path)
        self.ctl = os.open(path, os.O_RDWR | os.O_NONBLOCK)
        self.ctl_buf = b""
        sim.sel.register(self.ctl, selectors.EVENT_READ, ("ctl", self))

    # console
    def say(self, text):
        if self.on:
            self.out += text.encode()
            self.flush()

    def flush(self):
        if self.client is None or not self.out:
            return
        try:
            n = self.client.send(self.out)
            self.out = self.out[n:]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self.drop_client()
            return
        self.sim.sel.modify(self.client, selectors.EVENT_READ |
                            (selectors.EVENT_WRITE if self.out else 0), ("client", self))

    def drop_client(self):
        if self.client is not None:
            self.sim.sel.unregister(self.client)
            self.client.close()
            self.client = None

    def accept(self):
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        conn.setblocking(False)
        self.drop_client()  # a new controller replaces a stale one
        self.client = conn
        self.sim.sel.register(conn, selectors.EVENT_READ, ("client", self))
        self.flush()

    def on_input(self, data):
        self.inbuf += data
        while b"\n" in self.inbuf:
            line, self.inbuf = self.inbuf.split(b"\n", 1)
            self.command(line.decode(errors="replace").strip("\r").strip())

    def command(self, line):
        if not self.on:
            return
        if line == "hilctl-update local":
            self.say("hilctl-agent: download start size=%d\r\n" % (WRITE_STEPS << 20))
            for k in range(1, WRITE_STEPS + 1):
                self.after(k * self.sim.step, lambda k=k: self.say(
                    "hilctl-agent: write offset=%d\r\n" % (k << 20)))
            self.after((WRITE_STEPS + 1) * self.sim.step,
                       lambda: self.say("hilctl-agent: download done\r\nsim# "))
        elif line.startswith("hilctl-update http://"):
            self.download(line.split()[-1])
        elif line:
            self.say("sim# ")

    # board
    def after(self, delay, fn):
        self.sim.timer(delay, self, self.gen, fn)

    def power(self, on):
        with open(os.path.join(self.sim.dir, "history"), "a") as f:
            f.write("%.6f %s %s %.9f\n" % (time.time(), self.name, "on" if on else "off",
                                            time.monotonic()))
        if on == self.on:
            return
        self.on = on
        self.gen += 1
        self.inbuf = b""
        self.abort_download()
        if on:
            self.after(BOOT_S, self.boot)
        else:
            self.out = b""

    def boot(self):
        self.say("U-Boot 2023.01 (sim)\r\nhilctl-probe: version=1 slot=A committed=1\r\nsim# ")

    # the update agent: an HTTP/1.1 GET of URL/payload on loopback
    def download(self, url):
        m = re.match(r"http://([^/:]+):(\d+)(/.*)?$", url)
        if not m:
            self.say("hilctl-agent: bad url\r\nsim# ")
            return
        host, port, path = m.group(1), int(m.group(2)), (m.group(3) or "").rstrip("/")
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(("GET %s/payload HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n" % (
            path, host, port)).encode())
        s.setblocking(False)
        self.dl = {"sock": s, "head": b"", "size": None, "got": 0, "next": 1 << 20,
                   "t0": time.monotonic()}
        self.sim.sel.register(s, selectors.EVENT_READ, ("dl", self))

    def abort_download(self):
        if self.dl:
            self.sim.sel.unregister(self.dl["sock"])
            self.dl["sock"].close()
            self.dl = None

    def on_download(self):
        d = self.dl
        try:
            data = d["sock"].recv(1 << 18)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if d["size"] is None and data:
            d["head"] += data
            if b"\r\n\r\n" not in d["head"]:
                return
            head, data = d["head"].split(b"\r\n\r\n", 1)
            m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            if not head.startswith(b"HTTP/1.1 200") or not m:
                self.abort_download()
                self.say("hilctl-agent: download failed: %s\r\nsim# " %
                         head.split(b"\r\n")[0].decode(errors="replace"))
                return
            d["size"] = int(m.group(1))
            self.say("hilctl-agent: download start size=%d\r\n" % d["size"])
            if not data and d["size"]:
                return
        elif d["size"] is None:
            data = b""  # closed before the headers were whole
        if data:
            d["got"] += len(data)
            while d["got"] >= d["next"]:
                self.say("hilctl-agent: write offset=%d\r\n" % d["next"])
                d["next"] += 1 << 20
            if d["got"] < d["size"]:
                return
        got, size, secs = d["got"], d["size"], time.monotonic() - d["t0"]
        self.abort_download()
        if size is not None and got == size:
            self.say("hilctl-agent: download done bytes=%d in %.3f s\r\nsim# " % (got, secs))
        else:
            self.say("hilctl-agent: download failed at %d of %s\r\nsim# " % (got, size))


class Sim:
    def __init__(self, cfg):
        self.dir = cfg["dir"]
        self.step = cfg["step_ms"] / 1000.0
        self.sel = selectors.DefaultSelector()
        self.timers = []
        self.seq = 0
        self.boards = [SimBoard(self, name) for name in cfg["boards"]]
        # pdudaemon's HTTP API (GET /power/control/on|off?hostname=sim&port=K,
        # K = the board's index): the switch of the in-process power driver.
        self.pdu = socket.socket()
        self.pdu.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.pdu.bind(("127.0.0.1", 0))
        self.pdu.listen(128)
        self.pdu.setblocking(False)
        self.sel.register(self.pdu, selectors.EVENT_READ, ("pdu", None))
        self.pdu_bufs = {}

    def pdu_accept(self):
        try:
            conn, _ = self.pdu.accept()
        except OSError:
            return
        conn.setblocking(False)
        self.pdu_bufs[conn] = b""
        self.sel.register(conn, selectors.EVENT_READ, ("pdu-conn", None))

    def pdu_read(self, conn):
        try:
            data = conn.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        buf = self.pdu_bufs[conn] + data
        self.pdu_bufs[conn] = buf
        if data and b"\r\n\r\n" not in buf:
            return
        m = re.match(rb"GET /power/control/(on|off)\?hostname=sim&port=(\d+) HTTP", buf)
        if m and int(m.group(2)) < len(self.boards):
            self.boards[int(m.group(2))].power(m.group(1) == b"on")
            answer = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nOK\r\n"
        else:
            answer = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        if data:
            try:
                conn.sendall(answer)  # a few bytes into an empty socket buffer
            except OSError:
                pass
        self.sel.unregister(conn)
        del self.pdu_bufs[conn]
        conn.close()

    def timer(self, delay, board, gen, fn):
        self.seq += 1
        heapq.heappush(self.timers, (time.monotonic() + delay, self.seq, board, gen, fn))

    def run(self):
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        with open(os.path.join(self.dir, "ready.tmp"), "w") as f:
            json.dump({"boards": {b.name: b.port for b in self.boards},
                       "pdu": self.pdu.getsockname()[1]}, f)
        os.replace(os.path.join(self.dir, "ready.tmp"), os.path.join(self.dir, "ready"))
        while not stop:
            timeout = max(0.0, self.timers[0][0] - time.monotonic()) if self.timers else 1.0
            for key, ev in self.sel.select(timeout):
                kind, b = key.data
                if kind == "accept":
                    b.accept()
                elif kind == "client":
                    if ev & selectors.EVENT_WRITE:
                        b.flush()
                    if ev & selectors.EVENT_READ and b.client is not None:
                        try:
                            data = b.client.recv(4096)
                        except (BlockingIOError, InterruptedError):
                            continue
                        except OSError:
                            data = b""
                        if data:
                            b.on_input(data)
                        else:
                            b.drop_client()
                elif kind == "ctl":
                    b.ctl_buf += os.read(b.ctl, 4096)
                    while b"\n" in b.ctl_buf:
                        word, b.ctl_buf = b.ctl_buf.split(b"\n", 1)
                        if word.strip() in (b"on", b"off"):
                            b.power(word.strip() == b"on")
                elif kind == "dl" and b.dl is not None:
                    b.on_download()
                elif kind == "pdu":
                    self.pdu_accept()
                elif kind == "pdu-conn":
                    self.pdu_read(key.fileobj)
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, _, b, gen, fn = heapq.heappop(self.timers)
                if gen == b.gen and b.on:
                    fn()


def sim_main(cfg_path):
    with open(cfg_path) as f:
        Sim(json.load(f)).run()
    return 0


# ---------------------------------------------------------------- the lab

SCENARIO_CUT = """scenario: scale-cut
description: bench-scale, boards curve. Power cut while a simulated board writes.
fits: [sim]
allowed: [upgraded, rolled_back]
versions: {old: "1", new: "2"}
sweep: {from: 1048576, to: %d, step: 1048576}
oracle: {boot_timeout: 20s, settle: 20s, ladder: 1, alive: false}
steps:
  - power: on
  - expect: 'hilctl-probe: version=1 slot=A committed=1'
    timeout: 20s
  - expect: 'sim# '
    timeout: 20s
  - send: 'hilctl-update local'
  - fault: {kind: power_cut, marker: 'hilctl-agent: write offset=${point}\\b', off_time: %dms,
            timeout: 30s}
""" % (WRITE_STEPS << 20, int(OFF_TIME_S * 1000))

SCENARIO_DL = """scenario: scale-download
description: bench-scale, payload curve. The simulated board downloads S MiB (the point) from
  hilctl's update server; power cut when the download is done.
fits: [sim]
allowed: [upgraded, rolled_back]
versions: {old: "1", new: "2"}
sweep: {values: [16, 64, 256]}
oracle: {boot_timeout: 20s, settle: 20s, ladder: 1, alive: false}
steps:
  - power: on
  - expect: 'hilctl-probe: version=1 slot=A committed=1'
    timeout: 20s
  - expect: 'sim# '
    timeout: 20s
  - serve: bundles
  - send: 'hilctl-update http://${server}/s${point}'
  - fault: {kind: power_cut, marker: 'hilctl-agent: download done', off_time: %dms,
            timeout: 120s}
""" % int(OFF_TIME_S * 1000)


class Lab:
    """The simulator with N boards, a lab file and the scenarios."""

    def __init__(self, d, n, step_ms, bundles=None, driver="command"):
        self.dir = d
        self.sim_dir = os.path.join(d, "sim")
        os.makedirs(self.sim_dir)
        self.names = ["sc-%03d" % i for i in range(n)]
        cfg = os.path.join(d, "sim.json")
        with open(cfg, "w") as f:
            json.dump({"dir": self.sim_dir, "step_ms": step_ms, "boards": self.names}, f)
        self.p = B.start([B.PY, os.path.abspath(__file__), "--sim", cfg],
                         stdout=open(os.path.join(d, "sim.log"), "w"), stderr=subprocess.STDOUT)
        ready = os.path.join(self.sim_dir, "ready")
        B.wait_for(lambda: os.path.exists(ready) or self.p.poll() is not None, 30,
                   "the simulator to listen")
        if self.p.poll() is not None:
            raise RuntimeError("simulator: " + open(os.path.join(d, "sim.log")).read()[-500:])
        with open(ready) as f:
            ready = json.load(f)
        ports = ready["boards"]
        self.lab = os.path.join(d, "lab.yaml")
        with open(self.lab, "w") as f:
            f.write("# generated by bench/bench_scale.py\nlab: bench-scale\nboards:\n")
            for i, name in enumerate(self.names):
                ctl = os.path.join(self.sim_dir, name + ".ctl")
                if driver == "pdudaemon":
                    power = ("{driver: pdudaemon, url: 'http://127.0.0.1:%d', hostname: sim, "
                             "port: %d, timeout: 10s}" % (ready["pdu"], i))
                else:
                    # 1<> opens the FIFO read-write: never blocks, even
                    # when the simulator is gone (a plain > would wait for
                    # a reader, for ever once hilctl is killed).
                    power = ("{driver: command, timeout: 10s, on: [sh, -c, 'echo on 1<> %s'], "
                             "off: [sh, -c, 'echo off 1<> %s']}" % (ctl, ctl))
                f.write("  - name: %s\n    tags: [sim]\n"
                        "    power: %s\n"
                        "    console: {type: tcp, host: 127.0.0.1, port: %d, timeout: 5s}\n"
                        "    probes:\n"
                        "      version: 'hilctl-probe: version=(?<version>\\S+) slot=(?<slot>[AB])"
                        " committed=(?<committed>[01])'\n"
                        "      banner: '^U-Boot 20\\d\\d'\n" % (name, power, ports[name]))
                if bundles:
                    f.write("    vars: {bundles: %s, server_port: 0}\n" % bundles)
        self.cut = os.path.join(d, "scale-cut.yaml")
        with open(self.cut, "w") as f:
            f.write(SCENARIO_CUT)
        self.dl = os.path.join(d, "scale-download.yaml")
        with open(self.dl, "w") as f:
            f.write(SCENARIO_DL)

    def cpu_s(self):
        return B.proc_cpu_s(self.p.pid)

    def close(self):
        B.stop(self.p)


# ---------------------------------------------------------------- running hilctl

def run_measured(cmd, env, timeout, log_path):
    """Run a hilctl command to its end. Returns rc, wall s, CPU s of the
    hilctl processes (the command and its direct children that are hilctl,
    i.e. a campaign's workers: last /proc sample of each, every 0.1 s), CPU s
    of the whole tree (wait4: with the power commands), and the number of
    hilctl processes seen."""
    with open(log_path, "w") as log:
        t0 = time.monotonic()
        p = B.start(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    last = {}

    def sample():
        pids = [p.pid]
        try:
            with open("/proc/%d/task/%d/children" % (p.pid, p.pid)) as f:
                pids += [int(x) for x in f.read().split()]
        except OSError:
            pass
        for pid in pids:
            try:
                with open("/proc/%d/stat" % pid) as f:
                    st = f.read()
            except OSError:
                continue
            comm = st[st.index("(") + 1:st.rindex(")")]
            if pid != p.pid and comm != "hilctl":
                continue
            fields = st.rsplit(")", 1)[1].split()
            last[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    end = t0 + timeout
    status = ru = None
    try:
        while True:
            sample()
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > end:
                raise RuntimeError("%s: no exit within %d s (log: %s)" % (
                    cmd[2:5], timeout, log_path))
            time.sleep(0.1)
    except BaseException:
        # Timeout, Ctrl-C or SIGTERM: hilctl goes first (its workers switch
        # their boards off), then the caller stops the simulator.
        B.stop(p)
        raise
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    B.stop(p)  # its group: anything it left behind
    return p.returncode, wall, sum(last.values()), ru.ru_utime + ru.ru_stime, len(last)


def read_journal(out):
    runs = []
    with open(os.path.join(out, "journal.jsonl")) as f:
        for line in f:
            if line.startswith('{"run"'):
                runs.append(json.loads(line)["run"])
    return runs


def timeline(out, run):
    """[(t, kind, text)] of a run's timeline; t in seconds of CLOCK_MONOTONIC
    (the header's t0 added), the clock the simulator stamps with."""
    ev, t0 = [], 0.0
    with open(os.path.join(out, run["timeline"])) as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if "hilctl_timeline" in r:
                t0 = r.get("t0", 0) / 1e9
            elif "t" in r:
                ev.append((t0 + float(r["t"]), r["k"], r["d"]))
    return ev


def switch_times(sim_dir):
    """{board: sorted CLOCK_MONOTONIC times the simulated switch saw "off"}."""
    out = {}
    try:
        with open(os.path.join(sim_dir, "history")) as f:
            for line in f:
                w = line.split()
                if len(w) == 4 and w[2] == "off":
                    out.setdefault(w[1], []).append(float(w[3]))
    except OSError:
        pass
    return out


def cut_split(ev, offs):
    """From one run's timeline (and the switch's "off" times of its board):
    marker → off requested, requested → the switch saw it, the switch saw it
    → set() returned; in ms, or None."""
    trig = next((t for t, k, d in ev if k == "marker" and d.startswith("fault trigger")), None)
    if trig is None:
        return None
    req = next((t for t, k, d in ev if t >= trig and k == "power" and
                d.startswith("off requested")), None)
    off = next((t for t, k, d in ev if req is not None and t >= req and k == "power" and
                d == "off"), None)
    if req is None or off is None:
        return None
    seen = next((t for t in offs if req <= t <= off), None)
    return ((req - trig) * 1e3, (seen - req) * 1e3 if seen else None,
            (off - seen) * 1e3 if seen else None)


def p3(v):
    return "%.2f / %.2f / %.2f" % (B.pct(v, 50), B.pct(v, 99), max(v)) if v else "n/a"


# ---------------------------------------------------------------- boards curve

def boards_point(n, knobs, driver):
    env, d = B.hil_env("sc")
    lab = Lab(d, n, knobs["step_ms"], driver=driver)
    try:
        per_board = max(4, -(-knobs["runs"] // n))
        repeat = -(-per_board * n // WRITE_STEPS)
        out = os.path.join(d, "out")
        cmd = [B.HILCTL, "--lab", lab.lab, "run", lab.cut,
               "--sweep", "1048576:%d:1048576" % (WRITE_STEPS << 20), "--repeat", str(repeat), "--bisect", "0", "-j", str(n), "--out", out]
        load0 = B.loadavg()
        sim0 = lab.cpu_s()
        rc, wall, cpu, cpu_tree, nproc = run_measured(cmd, env, knobs["timeout"],
                                                      os.path.join(d, "hilctl.log"))
        sim_cpu = lab.cpu_s() - sim0
        load1 = B.loadavg()
        runs = read_journal(out)
        lat, hil, spawn, reap, over, dur = [], [], [], [], [], []
        offs = switch_times(lab.sim_dir)
        first = {}
        for r in runs:
            first[r["board"]] = min(first.get(r["board"], r["id"]), r["id"])
        over_first = []
        for r in runs:
            f = r.get("fault") or {}
            if f.get("injected") and f.get("latency_us", -1) >= 0:
                lat.append(f["latency_us"] / 1e3)
            sp = cut_split(timeline(out, r), offs.get(r["board"], []))
            if sp:
                hil.append(sp[0])
                if sp[1] is not None:
                    spawn.append(sp[1])
                    reap.append(sp[2])
            dur.append(r["duration_s"])
            o = r["duration_s"] - (2 * BOOT_S + (int(r["point"]) >> 20) * knobs["step_ms"] / 1e3 +
                                   OFF_TIME_S)
            (over_first if r["id"] == first[r["board"]] else over).append(o)
        verdicts = {}
        for r in runs:
            verdicts[r["verdict"]] = verdicts.get(r["verdict"], 0) + 1
        log_tail = "" if rc == 0 else open(os.path.join(d, "hilctl.log")).read()[-600:]
        return {"boards": n, "rc": rc, "runs": len(runs), "planned": repeat * WRITE_STEPS,
                "wall_s": wall, "cpu_hilctl_s": cpu, "cpu_tree_s": cpu_tree,
                "hilctl_processes": nproc, "sim_cpu_s": sim_cpu, "load_start": load0,
                "load_end": load1, "verdicts": verdicts, "latency_ms": lat,
                "hilctl_share_ms": hil, "spawn_ms": spawn, "reap_ms": reap, "overhead_s": over,
                "overhead_first_s": over_first,
                "duration_s": dur, "log_tail": log_tail, "repeat": repeat,
                "step_ms": knobs["step_ms"], "driver": driver}
    finally:
        lab.close()


DRIVER_HOW = {
    "command": "command power driver `sh -c 'echo off 1<> FIFO'`: a process spawned per switch",
    "pdudaemon": "pdudaemon power driver: one HTTP GET with libcurl, in the hilctl process, to "
                 "the simulator's pdudaemon API on 127.0.0.1",
}


def boards_curve(sec, knobs, raw):
    rows = []
    for driver in knobs["drivers"]:
        for n in knobs["boards"]:
            print("  %s driver, %d simulated board(s), one `hilctl run -j %d` campaign..." % (
                driver, n, n), flush=True)
            r = boards_point(n, knobs, driver)
            raw["boards"].append(r)
            print("    rc %d, %d/%d runs in %.1f s, verdicts %s, load %.2f → %.2f" % (
                r["rc"], r["runs"], r["planned"], r["wall_s"], r["verdicts"],
                r["load_start"][0], r["load_end"][0]), flush=True)
            if r["log_tail"]:
                print("    " + r["log_tail"].strip().replace("\n", "\n    "), flush=True)
            if not r["latency_ms"]:
                sec.note("%s, %d boards: no run with a measured cut (rc %d)" % (
                    driver, n, r["rc"]))
                continue
            n_, wall = r["boards"], r["wall_s"]
            r["cpu_pct_per_board"] = r["cpu_hilctl_s"] / wall / n_ * 100
            r["cpu_ms_per_run"] = r["cpu_hilctl_s"] / r["runs"] * 1e3
            r["tree_ms_per_run"] = r["cpu_tree_s"] / r["runs"] * 1e3
            r["runs_per_h"] = r["runs"] / wall * 3600
            rows.append(r)
    if not rows:
        return
    print("\n  Curve: trigger-to-cut latency, cycle overhead and controller CPU vs. boards "
          "(one `hilctl run -j N` campaign)", flush=True)
    print("  %-9s %6s %5s %24s %18s %24s %20s %14s %9s %10s %10s %7s %11s" % (
        "driver", "boards", "runs", "cut p50/p99/max ms", "hilctl share ms",
        "request→switch ms", "switch→returned ms", "overhead p50/90", "1st run", "CPU%/board",
        "CPU ms/run", "runs/h", "load1"))
    for r in rows:
        print("  %-9s %6d %5d %24s %18s %24s %20s %14s %9.3f %10.2f %10.1f %7.0f %11s" % (
            r["driver"], r["boards"], r["runs"], p3(r["latency_ms"]), p3(r["hilctl_share_ms"]),
            p3(r["spawn_ms"]), p3(r["reap_ms"]),
            "%.3f / %.3f" % (B.pct(r["overhead_s"], 50), B.pct(r["overhead_s"], 90)),
            B.median(r["overhead_first_s"]), r["cpu_pct_per_board"], r["cpu_ms_per_run"], r["runs_per_h"],
            "%.1f→%.1f" % (r["load_start"][0], r["load_end"][0])), flush=True)
    print(flush=True)
    for r in rows:
        n, drv = r["boards"], r["driver"]
        tag = "%s, %d board%s" % (drv, n, "" if n == 1 else "s")
        how = ("%d runs of one `hilctl run -j %d` campaign on %d simulated board%s (%s; TCP "
               "consoles), load %.2f → %.2f" % (r["runs"], n, n, "" if n == 1 else "s",
                                                DRIVER_HOW[drv], r["load_start"][0],
                                                r["load_end"][0]))
        sec.figure("%s: trigger→cut p50 / p99 / max" % tag, p3(r["latency_ms"]), "ms",
                   "the journal's fault.latency_us: the read that completed the marker returned → "
                   "the power driver's set() returned; " + how)
        sec.figure("%s: hilctl's share p50 / p99 / max" % tag, p3(r["hilctl_share_ms"]), "ms",
                   "from each run's timeline: marker → 'off requested' (expect engine, "
                   "timeline, power_set)", goal="p99 ≤ 1 ms",
                   met=B.pct(r["hilctl_share_ms"], 99) <= 1.0)
        sec.figure("%s: request → switch / switch → returned, p50 / p99 / max" % tag,
                   "%s | %s" % (p3(r["spawn_ms"]), p3(r["reap_ms"])), "ms",
                   ("'off requested' → the simulated switch read 'off' from its FIFO "
                    "(posix_spawn, exec of sh, its open and write) | → 'off' on the timeline "
                    "(sh exits, hilctl's poll on its pidfd wakes, reaps)" if drv == "command" else
                    "'off requested' → the simulated pdudaemon parsed the GET (libcurl connects "
                    "and sends) | → 'off' on the timeline (200 read, request done)") +
                   "; the switch's stamp is the simulator's CLOCK_MONOTONIC when it got to run")
        sec.figure("%s: cycle overhead p50 / p90; each board's first run p50" % tag,
                   "%.3f / %.3f; %.3f" % (B.pct(r["overhead_s"], 50), B.pct(r["overhead_s"], 90),
                                          B.median(r["overhead_first_s"])), "s",
                   "journal run.duration_s minus what the simulated board scripts (2 boots of "
                   "%.0f ms, POINT write steps of %.0f ms, %.0f ms off): what hilctl, the power "
                   "driver and the shared cores add to each run; every board's first run (its "
                   "worker connects, loads what it needs) apart; median run %.3f s" % (
                       BOOT_S * 1e3, r["step_ms"], OFF_TIME_S * 1e3, B.median(r["duration_s"])))
        sec.figure("%s: controller CPU per board, per run" % tag,
                   "%.2f %% / %.1f ms" % (r["cpu_pct_per_board"], r["cpu_ms_per_run"]), "",
                   "utime+stime of the campaign's hilctl processes (parent + %d workers, /proc "
                   "sampled every 0.1 s) / wall %.1f s / %d boards, and / runs; the whole tree "
                   "(wait4, with any power commands) %.1f ms per run; the simulator took %.1f %% "
                   "of a core beside it" % (
                       r["hilctl_processes"] - 1, r["wall_s"], n, r["tree_ms_per_run"],
                       r["sim_cpu_s"] / r["wall_s"] * 100))
        sec.figure("%s: runs per hour" % tag, r["runs_per_h"], "runs/h",
                   "runs / campaign wall time (process start to exit); %.0f per board" % (
                       r["runs_per_h"] / n))
    sec.note("Boards curve (driver boards: cut p50/p99/max ms; hilctl share p99 ms; "
             "request→switch p50 ms; overhead p50 s (first runs apart); CPU % of a core per board; CPU ms per run; "
             "runs/h; load1 start→end): " + "; ".join(
                 "%s %d: %s; %.3f; %.2f; %.3f; %.2f; %.1f; %.0f; %.2f→%.2f" % (
                     r["driver"], r["boards"], p3(r["latency_ms"]),
                     B.pct(r["hilctl_share_ms"], 99), B.pct(r["spawn_ms"], 50),
                     B.pct(r["overhead_s"], 50), r["cpu_pct_per_board"], r["cpu_ms_per_run"],
                     r["runs_per_h"], r["load_start"][0], r["load_end"][0]) for r in rows))


# ---------------------------------------------------------------- payload curve

def make_bundles(root, sizes):
    for mib in sizes:
        d = os.path.join(root, "s%d" % mib)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "payload")
        if os.path.exists(path) and os.path.getsize(path) == mib << 20:
            continue
        with open(path + ".tmp", "wb") as f:
            for _ in range(mib):
                f.write(os.urandom(1 << 20))
        os.replace(path + ".tmp", path)
    for mib in sizes:  # into the page cache
        with open(os.path.join(root, "s%d" % mib, "payload"), "rb") as f:
            while f.read(1 << 22):
                pass


def download_time(ev):
    for t, k, d in ev:
        m = re.match(r"GET \S+/payload sent (\d+)/(\d+) in ([\d.]+) s: (\S+)", d) \
            if k == "server" else None
        if m:
            return int(m.group(1)), float(m.group(3)), m.group(4)
    return None


def payload_curve(sec, knobs, raw):
    root = os.path.join(B.OUT, "scale-bundles")
    print("  payload: bundles of %s MiB in %s..." % (
        " ".join(map(str, knobs["sizes"])), root), flush=True)
    make_bundles(root, knobs["sizes"])
    env, d = B.hil_env("sp")
    lab = Lab(d, 1, knobs["step_ms"], bundles=root)
    res = {s: [] for s in knobs["sizes"]}
    try:
        for i in range(knobs["reps"]):
            k = i % len(knobs["sizes"])
            for s in knobs["sizes"][k:] + knobs["sizes"][:k]:
                out = os.path.join(d, "out-%d-%d" % (s, i))
                cmd = [B.HILCTL, "--lab", lab.lab, "run", lab.dl, "--board", lab.names[0],
                       "--point", str(s), "--out", out]
                load = B.loadavg()[0]
                rc, wall, cpu, cpu_tree, _ = run_measured(cmd, env, knobs["timeout"],
                                                          os.path.join(d, "log-%d-%d" % (s, i)))
                rec = {"size_mib": s, "rep": i, "rc": rc, "wall_s": wall, "cpu_hilctl_s": cpu,
                       "cpu_tree_s": cpu_tree, "load1": load}
                try:
                    run = read_journal(out)[0]
                    ev = timeline(out, run)
                    rec.update(duration_s=run["duration_s"], verdict=run["verdict"],
                               latency_ms=run["fault"]["latency_us"] / 1e3)
                    dt = download_time(ev)
                    if dt:
                        rec.update(sent=dt[0], download_s=dt[1], download_end=dt[2])
                except (OSError, ValueError, IndexError, KeyError) as e:
                    rec["error"] = repr(e)
                res[s].append(rec)
                raw["payload"].append(rec)
                print("    %3d MiB rep %d: rc %d, wall %.2f s, run %.2f s, download %s s, "
                      "cut %.2f ms, hilctl CPU %.2f s (load %.2f)" % (
                          s, i + 1, rc, wall, rec.get("duration_s", float("nan")),
                          "%.3f" % rec["download_s"] if "download_s" in rec else "?",
                          rec.get("latency_ms", float("nan")), cpu, load), flush=True)
    finally:
        lab.close()
    rows = []
    for s in knobs["sizes"]:
        ok = [r for r in res[s] if r["rc"] == 0 and "download_s" in r and
              r.get("download_end") == "complete" and r.get("sent") == s << 20]
        if not ok:
            sec.note("%d MiB: no complete cycle (%s)" % (s, [r.get("error") or r["rc"]
                                                             for r in res[s]]))
            continue
        row = {"size": s, "n": len(ok), "wall": B.median([r["wall_s"] for r in ok]),
               "dur": B.median([r["duration_s"] for r in ok]),
               "dl": B.median([r["download_s"] for r in ok]),
               "cut": B.median([r["latency_ms"] for r in ok]),
               "cut_max": max(r["latency_ms"] for r in ok),
               "cpu": B.median([r["cpu_hilctl_s"] for r in ok]),
               "tree": B.median([r["cpu_tree_s"] for r in ok]),
               "rest": B.median([r["duration_s"] - r["download_s"] for r in ok]),
               "load": B.median([r["load1"] for r in ok])}
        row["mbps"] = (s << 20) / row["dl"] / 1e6
        rows.append(row)
    if not rows:
        return
    print("\n  Curve: cycle time vs. update payload (one simulated board, HTTP from hilctl's "
          "update server on loopback, cut at 'download done')", flush=True)
    print("  %8s %4s %9s %9s %11s %6s %15s %16s %13s %7s" % (
        "payload", "n", "wall s", "run s", "download s", "MB/s", "run-download s",
        "cut p50/max ms", "hilctl CPU s", "load1"))
    for r in rows:
        print("  %4d MiB %4d %9.3f %9.3f %11.3f %6.0f %15.3f %16s %13.3f %7.2f" % (
            r["size"], r["n"], r["wall"], r["dur"], r["dl"], r["mbps"], r["rest"],
            "%.2f / %.2f" % (r["cut"], r["cut_max"]), r["cpu"], r["load"]), flush=True)
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        slope = (b["dur"] - a["dur"]) / (b["size"] - a["size"])
        cslope = (b["cpu"] - a["cpu"]) / (b["size"] - a["size"])
        print("  slope %d→%d MiB: %.2f ms of cycle and %.2f ms of hilctl CPU per MiB\n" % (
            a["size"], b["size"], slope * 1e3, cslope * 1e3), flush=True)
    for r in rows:
        sec.figure("%d MiB payload: cycle, whole command / journal run" % r["size"],
                   "%.3f / %.3f" % (r["wall"], r["dur"]), "s",
                   "median of %d `hilctl run scale-download.yaml --point %d` (sizes rotated each "
                   "round): power on, probe, serve, the simulated board GETs S MiB from hilctl's "
                   "update server on 127.0.0.1 (its own HTTP/1.1 client, bytes discarded, 'write "
                   "offset=' every MiB), cut at 'download done', 50 ms off, power on, oracle; "
                   "load1 median %.2f" % (r["n"], r["size"], r["load"]))
        sec.figure("%d MiB payload: download on the server's timeline" % r["size"],
                   "%.3f s, %.0f MB/s" % (r["dl"], r["mbps"]), "",
                   "the server's 'GET /sS/payload sent N/N in T s: complete' (first body "
                   "byte asked → last byte handed to the kernel), median; the run without it: "
                   "%.3f s (median of duration − download)" % r["rest"])
        sec.figure("%d MiB payload: hilctl CPU per cycle / cut p50 / max" % r["size"],
                   "%.3f s / %.2f / %.2f ms" % (r["cpu"], r["cut"], r["cut_max"]), "",
                   "utime+stime of hilctl (parent + worker) per cycle, median (whole tree with "
                   "the power commands %.3f s); the journal's fault.latency_us" % r["tree"])
    if len(rows) >= 2:
        sec.note("Payload curve (MiB: whole command s, run s, download s, MB/s, hilctl CPU s, "
                 "cut p50 ms, load1): " + "; ".join(
                     "%d: %.3f, %.3f, %.3f, %.0f, %.3f, %.2f, %.2f" % (
                         r["size"], r["wall"], r["dur"], r["dl"], r["mbps"], r["cpu"], r["cut"],
                         r["load"]) for r in rows) +
                 "; slope %.2f ms of cycle and %.2f ms of hilctl CPU per MiB" % (
                     slope * 1e3, cslope * 1e3))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--sim":
        return sim_main(sys.argv[2])
    B.need(B.HILCTL, "make")
    knobs = {"boards": [int(x) for x in B.env_str("BENCH_SCALE_BOARDS", "1 8 64").split()],
             "drivers": B.env_str("BENCH_SCALE_DRIVERS", "command pdudaemon").split(),
             "runs": B.env_int("BENCH_SCALE_RUNS", 128),
             "step_ms": B.env_float("BENCH_SCALE_STEP_MS", 20.0),
             "sizes": [int(x) for x in B.env_str("BENCH_SCALE_SIZES", "16 64 256").split()],
             "reps": B.env_int("BENCH_SCALE_PAYLOAD_REPS", 5),
             "timeout": B.env_int("BENCH_SCALE_TIMEOUT", 900)}
    if max(knobs["boards"] or [1]) > 64:
        print("bench-scale: at most 64 boards (hilctl run -j 64 at most)", file=sys.stderr)
        return 2
    sec = B.Section("scale", "Scale: boards and payload size")
    if set(knobs["drivers"]) - set(DRIVER_HOW):
        print("bench-scale: BENCH_SCALE_DRIVERS: command and/or pdudaemon", file=sys.stderr)
        return 2
    sec.param(BENCH_SCALE_BOARDS=" ".join(map(str, knobs["boards"])),
              BENCH_SCALE_DRIVERS=" ".join(knobs["drivers"]),
              BENCH_SCALE_RUNS=knobs["runs"], BENCH_SCALE_STEP_MS=knobs["step_ms"],
              BENCH_SCALE_SIZES=" ".join(map(str, knobs["sizes"])),
              BENCH_SCALE_PAYLOAD_REPS=knobs["reps"])
    raw = {"boards": [], "payload": []}
    if knobs["boards"]:
        boards_curve(sec, knobs, raw)
    if knobs["sizes"] and knobs["reps"] > 0:
        payload_curve(sec, knobs, raw)
    sec.save(raw)
    return 0 if sec.d["figures"] else 1


if __name__ == "__main__":
    sys.exit(main())
