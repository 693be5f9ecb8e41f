"""bench/benchlib.py — what every benchmark of `make bench` shares: knobs from
the environment, processes that are always cleaned up, deadlines, a console
reader for QEMU's unix socket, a small QMP client, statistics, and the
results files (build/bench/results.json and results.md).

Benchmarks are never tests: they measure, print every figure with the method
that produced it, and record the machine's load, since two cores are shared
with other work. Standard library only (run with /usr/bin/python3).
"""
import atexit
import datetime
import json
import os
import re
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.environ.get("BENCH_OUT", os.path.join(ROOT, "build", "bench"))
HILCTL = os.environ.get("HILCTL", os.path.join(ROOT, "build", "hilctl"))
REFDUT = os.environ.get("REFDUT_OUT", os.path.join(ROOT, "build", "refdut"))
LAB_QEMU = os.path.join(ROOT, "fixtures", "lab-qemu.yaml")
PY = "/usr/bin/python3"


# ---- knobs

def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


def env_float(name, default):
    v = os.environ.get(name, "")
    return float(v) if v.strip() else default


def env_str(name, default):
    v = os.environ.get(name, "")
    return v if v.strip() else default


# ---- the machine

def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def busy_processes():
    """Other CPU-heavy programs running now (QEMU machines, compilers,
    pytest): named in the results so a reader knows what shared the cores."""
    names = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % pid) as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm.startswith("qemu-system") or comm in ("cc1", "pytest", "ld", "clang"):
            names[comm] = names.get(comm, 0) + 1
    return names


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    qv = subprocess.run(["qemu-system-aarch64", "--version"], capture_output=True, text=True,
                        timeout=10).stdout.splitlines()
    return {"host": socket.gethostname(), "cpus": os.cpu_count(), "cpu_model": model,
            "kernel": os.uname().release, "qemu": qv[0] if qv else "?",
            "hilctl": hilctl_version()}


def hilctl_version():
    try:
        v = subprocess.run([HILCTL, "--version"], capture_output=True, text=True,
                           timeout=10).stdout.strip()
        return v[len("hilctl "):] if v.startswith("hilctl ") else v
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- processes: every one we start is stopped on the way out

_procs = []
_dirs = []


def start(cmd, **kw):
    """Popen in its own process group, remembered for stop_all()."""
    kw.setdefault("start_new_session", True)
    p = subprocess.Popen(cmd, **kw)
    _procs.append(p)
    return p


def stop(p, grace=3.0):
    """SIGTERM the process group, SIGKILL after grace seconds; reap it."""
    if p.poll() is None:
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(p.pid, sig)
            except (ProcessLookupError, PermissionError):
                try:
                    p.send_signal(sig)
                except ProcessLookupError:
                    pass
            try:
                p.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
    else:
        # Its group may still hold children (a shell's QEMU).
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if p in _procs:
        _procs.remove(p)


def stop_all():
    for p in list(_procs):
        stop(p, grace=1.0)
    for d in list(_dirs):
        shutil.rmtree(d, ignore_errors=True)
        _dirs.remove(d)


def _on_signal(sig, frame):
    raise SystemExit(128 + sig)


atexit.register(stop_all)
signal.signal(signal.SIGTERM, _on_signal)


def stream(p, f, timeout, prefix="    "):
    """Echo the lines of f (a pipe of process p) until it ends or timeout
    seconds pass; then stop p. Returns the lines and whether it timed out."""
    import select
    end = time.monotonic() + timeout
    lines, buf, timed_out = [], b"", False
    fd = f.fileno()
    while True:
        left = end - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        d = os.read(fd, 65536)
        if not d:
            break
        buf += d
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            text = line.decode(errors="replace")
            lines.append(text)
            print(prefix + text, flush=True)
    if buf:
        lines.append(buf.decode(errors="replace"))
    if timed_out:
        stop(p)
    else:
        try:
            p.wait(timeout=max(1.0, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
        stop(p)
    return lines, timed_out


def private_dir(tag):
    """A short directory under /tmp (QEMU's unix socket paths must stay
    short), removed on exit."""
    d = tempfile.mkdtemp(prefix="hb-%s-" % tag, dir="/tmp")
    _dirs.append(d)
    return d


def hil_env(tag):
    """Environment for hilctl with a private run and lock directory, so the
    benchmark never meets another engineer's boards or locks."""
    d = private_dir(tag)
    env = dict(os.environ)
    env["HILCTL_RUN_DIR"] = os.path.join(d, "run")
    env["HILCTL_LOCK_DIR"] = os.path.join(d, "lock")
    os.makedirs(env["HILCTL_RUN_DIR"])
    os.makedirs(env["HILCTL_LOCK_DIR"])
    return env, d


def wait_for(pred, timeout, what, tick=0.02):
    """Poll pred() until it is true; a deadline, never an open-ended wait."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= end:
            raise TimeoutError("%s: not within %.0f s" % (what, timeout))
        time.sleep(tick)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- /proc sampling

def proc_cpu_s(pid, threaded=False):
    """CPU time of a process, in seconds: for a single-threaded program the
    scheduler's nanosecond count (/proc/PID/schedstat, which covers the main
    thread only); threaded: utime + stime of all its threads, living and
    dead, in clock ticks (/proc/PID/stat)."""
    if not threaded:
        try:
            with open("/proc/%d/schedstat" % pid) as f:
                return int(f.read().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            pass
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def proc_kib(status, key):
    v = status.get(key, "0 kB").split()
    return int(v[0]) if v else 0


def proc_pss_kib(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# ---- statistics

def pct(values, p):
    """Nearest-rank percentile (p in 0..100) of a list."""
    if not values:
        return float("nan")
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))
    return v[k]


def median(values):
    v = sorted(values)
    n = len(v)
    if not n:
        return float("nan")
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


# ---- a console on QEMU's unix socket, and QMP

class Console:
    """Bytes from a stream socket, matched against regexes with a deadline.
    t of a match is when the read that completed it returned."""

    def __init__(self, sock):
        self.sock = sock
        self.sock.setblocking(False)
        self.buf = b""
        self.log = bytearray()

    def expect(self, pattern, timeout):
        rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern, re.M)
        end = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m, time.monotonic()
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("console: %r not seen within %.0f s (last: %r)" %
                                   (pattern, timeout, bytes(self.log[-300:])))
            import select
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                continue
            try:
                d = self.sock.recv(65536)
            except BlockingIOError:
                continue
            if not d:
                raise EOFError("console closed (last: %r)" % bytes(self.log[-300:]))
            self.buf = self.buf[-65536:] + d
            self.log += d

    def send(self, line):
        self.sock.setblocking(True)
        self.sock.sendall(line.encode() + b"\n")
        self.sock.setblocking(False)


def unix_connect(path, timeout):
    def attempt():
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            return None
    return wait_for(attempt, timeout, "connect to %s" % path, tick=0.005)


class QMP:
    """Just enough QMP: greeting, capabilities, commands with a deadline;
    asynchronous events are kept in self.events."""

    def __init__(self, path, timeout=10):
        self.sock = unix_connect(path, timeout)
        self.sock.settimeout(timeout)
        self.rf = self.sock.makefile("rb")
        self.events = []
        self._read()  # greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        line = self.rf.readline()
        if not line:
            raise EOFError("QMP closed")
        return json.loads(line)

    def cmd(self, name, timeout=30, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.settimeout(timeout)
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self._read()
            if "event" in r:
                self.events.append(r)
                continue
            if "error" in r:
                raise RuntimeError("QMP %s: %s" % (name, r["error"].get("desc")))
            return r.get("return")

    def hmp(self, line, timeout=120):
        return self.cmd("human-monitor-command", timeout=timeout, **{"command-line": line})

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---- results

def results_path(ext):
    return os.path.join(OUT, "results." + ext)


def _load_results():
    try:
        with open(results_path("json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {"benchmarks": {}}


def _write_atomic(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def fmt_value(v, unit):
    if isinstance(v, float):
        if v != v:
            s = "n/a"
        elif abs(v) >= 100:
            s = "%.0f" % v
        elif abs(v) >= 10:
            s = "%.1f" % v
        elif abs(v) >= 1:
            s = "%.2f" % v
        else:
            s = "%.3g" % v
    else:
        s = str(v)
    return s + (" " + unit if unit else "")


class Section:
    """One benchmark's figures. figure() prints each as it is measured;
    save() merges the section into results.json and rewrites results.md."""

    ORDER = ["cycle", "latency", "qemu-stop", "throughput", "footprint", "server", "boot", "snapshot",
             "slurm"]

    def __init__(self, key, title):
        self.key = key
        self.d = {"title": title, "started": now_iso(), "load_start": loadavg(),
                  "busy_start": busy_processes(), "params": {}, "figures": [], "notes": []}
        self.t0 = time.monotonic()
        print("== %s (load average %s; also running: %s)" % (
            title, " ".join("%.2f" % x for x in self.d["load_start"]),
            ", ".join("%s x%d" % kv for kv in sorted(self.d["busy_start"].items())) or "nothing"),
            flush=True)

    def param(self, **kw):
        self.d["params"].update(kw)

    def figure(self, name, value, unit, method, goal=None, met=None):
        f = {"name": name, "value": value, "unit": unit, "method": method}
        if goal:
            f["goal"] = goal
        if met is not None:
            f["met"] = bool(met)
        self.d["figures"].append(f)
        print("  %-46s %14s%s\n      method: %s" % (
            name, fmt_value(value, unit),
            ("   goal: %s (%s)" % (goal, "met" if met else "NOT met")) if goal and met is not None
            else ("   goal: %s" % goal if goal else ""), method), flush=True)

    def note(self, text):
        self.d["notes"].append(text)
        print("  note: " + text, flush=True)

    def save(self, raw=None):
        self.d["load_end"] = loadavg()
        self.d["duration_s"] = round(time.monotonic() - self.t0, 1)
        if raw is not None:
            self.d["raw"] = raw
        res = _load_results()
        res.setdefault("benchmarks", {})[self.key] = self.d
        res["machine"] = machine()
        res["updated"] = now_iso()
        _write_atomic(results_path("json"), json.dumps(res, indent=1, sort_keys=True) + "\n")
        _write_atomic(results_path("md"), render_md(res))
        print("  (%s: %.0f s; results in %s)" % (self.key, self.d["duration_s"],
                                                 results_path("md")), flush=True)


def _md_cell(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def render_md(res):
    m = res.get("machine", {})
    out = ["# hilctl benchmarks (`make bench`)", "",
           "Measured on %s: %s CPUs (%s), kernel %s, %s, hilctl %s. Last update %s." % (
               m.get("host", "?"), m.get("cpus", "?"), m.get("cpu_model", "?"),
               m.get("kernel", "?"), m.get("qemu", "?"), m.get("hilctl", "?"),
               res.get("updated", "?")),
           "The two cores are shared with other work: each benchmark lists the load "
           "average (1/5/15 min) at its start and end and what else ran.", ""]
    out += ["| benchmark | figure | value | goal | method |", "| --- | --- | --- | --- | --- |"]
    benches = res.get("benchmarks", {})
    keys = [k for k in Section.ORDER if k in benches] + sorted(
        k for k in benches if k not in Section.ORDER)
    for k in keys:
        b = benches[k]
        for i, f in enumerate(b.get("figures", [])):
            goal = f.get("goal", "")
            if goal and "met" in f:
                goal += " — **met**" if f["met"] else " — **not met**"
            out.append("| %s | %s | %s | %s | %s |" % (
                _md_cell(b["title"]) if i == 0 else "", _md_cell(f["name"]),
                _md_cell(fmt_value(f["value"], f["unit"])), _md_cell(goal),
                _md_cell(f["method"])))
    out.append("")
    for k in keys:
        b = benches[k]
        busy = ", ".join("%s x%d" % kv for kv in sorted(b.get("busy_start", {}).items()))
        out.append("**%s** (`make bench-%s`, %s, %s s; load %s → %s%s). Parameters: %s." % (
            b["title"], k, b.get("started", "?"), b.get("duration_s", "?"),
            "/".join("%.2f" % x for x in b.get("load_start", [])),
            "/".join("%.2f" % x for x in b.get("load_end", [])),
            ("; also running at start: " + busy) if busy else "",
            ", ".join("%s=%s" % kv for kv in sorted(b.get("params", {}).items())) or "defaults"))
        for n in b.get("notes", []):
            out.append("- " + n)
        out.append("")
    return "\n".join(out)


def need(path, hint):
    if not os.path.exists(path):
        print("bench: %s is missing: %s" % (path, hint), file=sys.stderr)
        sys.exit(2)
