"""A simulated lab for the Slurm tests and the dispatch benchmark: boards
spread over named lab hosts, each a raw TCP console and a `command` power
switch served by data/sim_board.py (one process for all), a lab file that
names each board's host, a scenario that cuts power during the simulated
write, and the gres.conf lines `hilctl gres` writes for each host.

    lab = SimLab(base, hilctl, hosts=["host1", "host2"], boards_per_host=2)
    ... lab.lab, lab.scenario, lab.gres (host -> gres.conf lines), lab.history()
    lab.stop()"""
import os
import pathlib
import socket
import subprocess
import time

HERE = pathlib.Path(__file__).resolve().parent

SCENARIO = r"""scenario: sim-cut
description: Power cut while a simulated board writes (the Slurm tests' campaign).
fits: [sim]
allowed: [upgraded, rolled_back]
versions: {{old: "1", new: "2"}}
sweep: {{from: 1, to: {points}, step: 1}}
oracle: {{boot_timeout: 15s, alive: false}}
steps:
  - power: on
  - expect: 'hilctl-probe: version=1 slot=A committed=1'
    timeout: 15s
  - fault: {{kind: power_cut, marker: 'hilctl-agent: write offset=${{point}}\b', off_time: 100ms}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SimLab:
    def __init__(self, base, hilctl, hosts, boards_per_host=2, points=18, env=None):
        self.base = pathlib.Path(base)
        self.hilctl_bin = hilctl
        self.env = dict(env or {})
        self.sim_dir = self.base / "sim"
        self.sim_dir.mkdir(parents=True)
        # sim-1a, sim-1b on host1, ...: the host is in the name for readers.
        self.boards = {f"sim-{h[-1]}{chr(ord('a') + b)}": h
                       for h in hosts for b in range(boards_per_host)}
        self.ports = {name: free_port() for name in self.boards}
        self.lab = self.base / "lab.yaml"
        self.lab.write_text(self.lab_text())
        self.scenario = self.base / "sim-cut.yaml"
        if points > 20:  # data/sim_board.py prints write offsets 1..20
            raise ValueError("points: at most 20")
        self.scenario.write_text(SCENARIO.format(points=points))
        self.sim = subprocess.Popen(["/usr/bin/python3", str(HERE / "data" / "sim_board.py"),
                                     str(self.sim_dir)] +
                                    [f"{n}={p}" for n, p in self.ports.items()])
        deadline = time.monotonic() + 10
        while not (self.sim_dir / "ready").exists():
            if self.sim.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("sim_board.py did not start")
            time.sleep(0.05)
        self.gres = {}
        for h in hosts:
            r = self.hilctl("gres", "--host", h)
            if r.returncode != 0:
                self.stop()
                raise RuntimeError(f"hilctl gres --host {h}: {r.stderr}")
            self.gres[h] = [line for line in r.stdout.splitlines()
                            if line.startswith("NodeName=")]

    def lab_text(self):
        d = self.sim_dir
        out = ["lab: sim-rack", "boards:"]
        for name, host in self.boards.items():
            out += [f"  - name: {name}",
                    f"    host: {host}",
                    "    tags: [sim]",
                    f"    power: {{driver: command, on: [sh, -c, 'echo on > {d}/{{board}}.ctl'],"
                    f" off: [sh, -c, 'echo off > {d}/{{board}}.ctl']}}",
                    f"    console: {{type: tcp, port: {self.ports[name]}}}",
                    "    probes:",
                    "      version: 'hilctl-probe: version=(?<version>\\S+) slot=(?<slot>[AB]) "
                    "committed=(?<committed>[01])'",
                    "      banner: '^U-Boot 20\\d\\d'"]
        return "\n".join(out) + "\n"

    def hilctl(self, *args, env=None, timeout=60):
        return subprocess.run([self.hilctl_bin, "--lab", str(self.lab), *map(str, args)],
                              env={**os.environ, **self.env, **(env or {})},
                              capture_output=True, text=True, timeout=timeout)

    def history(self):
        """[(unix time, board, what)] of every power change and first byte."""
        p = self.sim_dir / "history"
        if not p.exists():
            return []
        out = []
        for line in p.read_text().splitlines():
            t, board, what = line.split()
            out.append((float(t), board, what))
        return out

    def stop(self):
        if self.sim.poll() is None:
            self.sim.terminate()
            try:
                self.sim.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.sim.kill()
                self.sim.wait(timeout=10)
