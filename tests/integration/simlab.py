"""Helpers for the tests that run campaigns on simulated boards
(data/sim_lab.py): start the lab, write a lab file for it, read journals,
find processes a campaign left behind. Used by test_lab_faults.py and
test_soak.py."""
import json
import os
import pathlib
import socket
import subprocess
import sys
import time

from conftest import runs  # noqa: F401 (the journal's runs, for the tests that import simlab)

DATA = pathlib.Path(__file__).resolve().parent / "data"
SIM_LAB = DATA / "sim_lab.py"
SIM_POWER = DATA / "sim_power.sh"
SIM_SCENARIO = DATA / "sim-cut.yaml"

PROBES = """\
    probes:
      version: 'hilctl-probe: version=(?<version>\\S+) slot=(?<slot>[AB]) committed=(?<committed>[01])'
      banner: '^U-Boot 20\\d\\d'
      commit: 'hilctl-agent: commit slot='
      phase: '^hilctl-agent: (?<phase>[a-z]+)'
      alive: {send: 'echo hilctl-alive-$((6*7))', expect: 'hilctl-alive-42'}
"""


def wait_for(cond, timeout, what, period=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(period)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SimLab:
    """sim_lab.py with the given boards; stop() ends it. Each board is
    {"name": N, "console": "tcp"} (a port is picked) or
    {"name": N, "console": "pty", "link": PATH}."""

    def __init__(self, tmp, boards):
        self.dir = pathlib.Path(tmp) / "sim"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.boards = []
        for b in boards:
            b = dict(b)
            if b["console"] == "tcp" and "port" not in b:
                b["port"] = free_port()
            self.boards.append(b)
        cfg = self.dir / "sim.json"
        cfg.write_text(json.dumps({"dir": str(self.dir), "boards": self.boards}))
        self.log = open(self.dir / "sim.log", "w")
        self.proc = subprocess.Popen([sys.executable, str(SIM_LAB), str(cfg)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: (self.dir / "ready").exists() or self.proc.poll() is not None, 30,
                 "sim_lab.py to listen")
        assert self.proc.poll() is None, (self.dir / "sim.log").read_text()

    def board(self, name):
        return next(b for b in self.boards if b["name"] == name)

    def power(self, name):
        """What the simulated board's power is: "on" or "off"."""
        p = self.dir / f"{name}.power"
        return p.read_text().strip() if p.exists() else "off"

    def history(self):
        p = self.dir / "history"
        return [l.split() for l in p.read_text().splitlines()] if p.exists() else []

    def unplug(self, name):
        (self.dir / f"{name}.unplug").touch()

    def stop(self):
        stop_process(self.proc, self.log)


def stop_process(proc, log):
    """End a helper daemon: SIGTERM, SIGKILL after 10 s; then close its log."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    log.close()


def power_command(sim, timeout="5s"):
    """The command power driver's settings for a sim board."""
    args = f"{SIM_POWER}, {sim.dir}, '{{board}}'"
    return (f"{{driver: command, timeout: {timeout}, on: [{args}, 'on'], off: [{args}, 'off'], "
            f"status: [{args}, status], status_on: ': on$', status_off: ': off$'}}")


def console_of(b):
    if b["console"] == "tcp":
        return f"{{type: tcp, host: 127.0.0.1, port: {b['port']}, timeout: 2s}}"
    return f"{{type: serial, path: {b['link']}}}"


def lab_file(path, sim, power=None, vars=None):
    """A lab file for every board of sim; power maps a board name to its
    power: settings (default: the command driver)."""
    power = power or {}
    text = "lab: sim\nboards:\n"
    for b in sim.boards:
        text += f"  - name: {b['name']}\n    tags: [sim]\n"
        text += f"    power: {power.get(b['name'], power_command(sim))}\n"
        text += f"    console: {console_of(b)}\n"
        text += PROBES
        if vars and b["name"] in vars:
            text += f"    vars: {vars[b['name']]}\n"
    pathlib.Path(path).write_text(text)
    return path


def journal_lines(out):
    """Every line of the journal; each complete one must be a JSON object
    (a last line without its newline is what a kill leaves: skipped)."""
    text = (pathlib.Path(out) / "journal.jsonl").read_text()
    lines = text.split("\n")
    tail = lines.pop()  # "" when the file ends with a newline
    records = [json.loads(l) for l in lines]
    assert all(isinstance(r, dict) for r in records)
    return records, tail


def processes_mentioning(*needles):
    """pid -> command line of every process whose command line holds one
    of the needles (a test's private directories)."""
    found = {}
    for d in pathlib.Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(n in cmd for n in needles):
            found[int(d.name)] = cmd
    return found


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def rss_kib(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None
