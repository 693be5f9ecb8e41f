"""A harness that survives its own lab: every fault of the lab, caused here
for real, ends in infra_error for its run (with a reason that names the
fault), the board powered off, the journal whole, and the campaign going on
with the other boards or stopping cleanly. Never a board verdict, never a
hang.

Most tests use simulated boards (data/sim_lab.py: the command power driver
and a TCP or pty console, runs of 2-3 s); the QEMU test kills a real
reference board's QEMU. Faults: QEMU killed from outside; the console's
TCP port closing, and ser2net stopped; pdudaemon stopped, and a pdudaemon
that answers 500; a USB-UART's path vanishing (a pty whose link is
removed); the update server's port taken; the journal's file system full (a
64 KiB tmpfs); hilctl itself SIGKILLed at 20 seeded random points, then
resumed."""
import json
import os
import pathlib
import random
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import LAB, SCEN
from simlab import (SIM_POWER, SIM_SCENARIO, SimLab, free_port, journal_lines, lab_file,
                    processes_mentioning, runs, stop_process, wait_for)

PDUDAEMON = "/usr/sbin/pdudaemon"


@pytest.fixture
def sims(tmp_path):
    labs = []

    def make(boards):
        lab = SimLab(tmp_path, boards)
        labs.append(lab)
        return lab
    yield make
    for lab in labs:
        lab.stop()


def start_campaign(hilctl_bin, lab, out, *args, scenario=SIM_SCENARIO):
    cmd = [hilctl_bin, "--lab", str(lab), "run", str(scenario), "--out", str(out), *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc, timeout=120):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"hilctl hung (> {timeout} s):\n{err}")
    return proc.returncode, err


def timeline_has(out, text):
    """Some run's timeline holds text (the run is that far)."""
    for t in pathlib.Path(out, "runs").glob("*/timeline.jsonl"):
        try:
            if text in t.read_text():
                return True
        except OSError:
            pass
    return False


def power_status(hilctl, lab, board):
    r = hilctl("--lab", lab, "power", board, "status", timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def check_journal(out, runs_expected=None):
    """Valid JSON lines, a header, an end record; returns the runs."""
    records, tail = journal_lines(out)
    assert tail == "", "the journal ends with a whole line"
    assert "campaign" in records[0] and "end" in records[-1]
    done = runs(records)
    if runs_expected is not None:
        assert len(done) == runs_expected, done
    keys = [r["key"] for r in done]
    assert len(keys) == len(set(keys)), "no run twice"
    return done


def check_no_leftovers(*dirs):
    """Nothing the campaign started outlives it."""
    needles = [str(d) for d in dirs]
    left = wait_for(lambda: not processes_mentioning(*needles) or None, 20,
                    "the campaign's processes to end", period=0.2) and {}
    assert not left


# ---- the console ----

def test_console_tcp_port_closing_mid_run_is_infra_error(hilctl, hilctl_bin, sims, tmp_path):
    sim = sims([{"name": "sim-01", "console": "tcp"}])
    lab = lab_file(tmp_path / "lab.yaml", sim)
    out = tmp_path / "out"
    p = start_campaign(hilctl_bin, lab, out, "--point", "6291456")
    wait_for(lambda: timeline_has(out, "download start"), 60, "the update to start")
    sim.unplug("sim-01")  # the board's TCP console closes and stays closed
    t0 = time.monotonic()
    rc, err = finish(p)
    assert rc == 3, err  # infrastructure error, documented exit code
    assert time.monotonic() - t0 < 40, "no hang: 10 s for the console to come back, then off"
    (run,) = check_journal(out, 1)
    assert run["verdict"] == "infra_error" and run["pass"] is False
    port = sim.board("sim-01")["port"]
    assert f"console tcp 127.0.0.1:{port} vanished" in run["reason"], run["reason"]
    assert "did not come back" in run["reason"]
    assert sim.power("sim-01") == "off"
    assert power_status(hilctl, lab, "sim-01") == "off"


def ser2net_start(tmp_path, device, port):
    conf = tmp_path / "ser2net.yaml"
    conf.write_text(
        "%YAML 1.1\n---\n"
        "connection: &sim\n"
        f"  accepter: tcp,127.0.0.1,{port}\n"
        "  enable: on\n"
        "  options:\n    kickolduser: true\n"
        f"  connector: serialdev,{device},115200n81,local\n")
    proc = subprocess.Popen(["ser2net", "-n", "-d", "-u", "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def listening():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False
    wait_for(listening, 20, "ser2net to listen")
    return proc


def test_ser2net_stopped_mid_run_is_infra_error_and_other_board_goes_on(
        hilctl, hilctl_bin, sims, tmp_path):
    from simlab import free_port
    link = tmp_path / "uart-ser2net"
    sim = sims([{"name": "sim-01", "console": "pty", "link": str(link)},
                {"name": "sim-02", "console": "tcp"}])
    port = free_port()
    ser2net = ser2net_start(tmp_path, os.path.realpath(link), port)
    try:
        lab = tmp_path / "lab.yaml"
        lab_file(lab, sim)
        # sim-01's console is ser2net's port, not the pty itself.
        text = lab.read_text().replace(f"{{type: serial, path: {link}}}",
                                       f"{{type: tcp, host: 127.0.0.1, port: {port}, timeout: 2s}}")
        lab.write_text(text)
        out = tmp_path / "out"
        p = start_campaign(hilctl_bin, lab, out, "-j2")

        def sim01_downloading():
            return any("download start" in t.read_text()
                       for t in pathlib.Path(out, "runs").glob("*-sim-01/timeline.jsonl"))
        wait_for(sim01_downloading, 60, "sim-01's update to start")
        ser2net.terminate()
        ser2net.wait(timeout=10)
        rc, err = finish(p, timeout=180)
    finally:
        if ser2net.poll() is None:
            ser2net.kill()
    assert rc == 3, err
    done = check_journal(out, 4)  # every planned run: sim-02 took the rest
    infra = [r for r in done if r["verdict"] == "infra_error"]
    assert infra and all(r["board"] == "sim-01" for r in infra)
    assert f"console tcp 127.0.0.1:{port} vanished" in infra[0]["reason"]
    judged = [r for r in done if r["verdict"] != "infra_error"]
    assert judged and all(r["verdict"] in ("upgraded", "rolled_back") for r in judged)
    assert sim.power("sim-01") == "off" and sim.power("sim-02") == "off"
    assert power_status(hilctl, lab, "sim-01") == "off"


def test_usb_uart_path_vanishing_is_infra_error(hilctl, hilctl_bin, sims, tmp_path):
    link = tmp_path / "ttyUSB-sim"  # stands for /dev/serial/by-id/...: a link to the tty
    sim = sims([{"name": "sim-01", "console": "pty", "link": str(link)}])
    lab = lab_file(tmp_path / "lab.yaml", sim)
    out = tmp_path / "out"
    p = start_campaign(hilctl_bin, lab, out, "--point", "6291456")
    wait_for(lambda: timeline_has(out, "download start"), 60, "the update to start")
    sim.unplug("sim-01")  # the adapter leaves the bus: tty hung up, link gone
    rc, err = finish(p)
    assert rc == 3, err
    (run,) = check_journal(out, 1)
    assert run["verdict"] == "infra_error"
    assert f"console serial {link} vanished" in run["reason"], run["reason"]
    assert f"{link}: no such device" in err
    assert sim.power("sim-01") == "off"
    assert power_status(hilctl, lab, "sim-01") == "off"


def test_usb_uart_that_comes_back_after_a_power_cut_is_no_fault(hilctl_bin, sims, tmp_path):
    """The other side: a gap inside the grace time is judged as usual."""
    link = tmp_path / "ttyUSB-sim"
    sim = sims([{"name": "sim-01", "console": "pty", "link": str(link)}])
    lab = lab_file(tmp_path / "lab.yaml", sim)
    out = tmp_path / "out"
    p = start_campaign(hilctl_bin, lab, out, "--point", "0")
    rc, err = finish(p)
    assert rc == 0, err
    (run,) = check_journal(out, 1)
    assert run["verdict"] in ("upgraded", "rolled_back")


# ---- power ----

class Pdudaemon:
    """Debian's pdudaemon on 127.0.0.1 with a localcmdline PDU that
    switches sim boards: outlet N is board sim-0N."""

    def __init__(self, tmp_path, sim):
        self.port = free_port()
        self.conf = tmp_path / "pdudaemon.conf"
        cmd = f"{SIM_POWER} {sim.dir} sim-0%s"
        self.conf.write_text(json.dumps({
            "daemon": {"hostname": "127.0.0.1", "port": self.port, "listener": "http",
                       "logging_level": "INFO"},
            "pdus": {"pdu-sim": {"driver": "localcmdline", "cmd_on": cmd + " on",
                                 "cmd_off": cmd + " off"}}}))
        self.log = open(tmp_path / "pdudaemon.log", "w")
        self.proc = subprocess.Popen([PDUDAEMON, "--conf", str(self.conf), "--logfile", "-"],
                                     stdout=self.log, stderr=subprocess.STDOUT)

        def up():
            assert self.proc.poll() is None, "pdudaemon exited"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(up, 30, "pdudaemon to listen")

    def stop(self):
        stop_process(self.proc, self.log)


def cut_with_long_off_time(tmp_path):
    """sim-cut with 3 s of power off after the cut: time for a test to
    break the power control while the board is off."""
    sc = tmp_path / "sim-cut-slow.yaml"
    sc.write_text(SIM_SCENARIO.read_text().replace("off_time: 100ms", "off_time: 3s"))
    return sc


def wait_cut(sim, board):
    """Until the board's second power off (the first is the run's start)."""
    wait_for(lambda: [h for h in sim.history() if h[1] == board and h[2] == "off"][1:], 60,
             f"{board}'s power cut")


def test_pdudaemon_stopped_mid_campaign(hilctl, hilctl_bin, sims, tmp_path):
    sim = sims([{"name": "sim-01", "console": "tcp"}, {"name": "sim-02", "console": "tcp"}])
    pdu = Pdudaemon(tmp_path, sim)
    try:
        lab = lab_file(tmp_path / "lab.yaml", sim, power={
            "sim-01": f'{{driver: pdudaemon, host: "127.0.0.1:{pdu.port}", hostname: pdu-sim, '
                      f'port: 1, timeout: 5s}}'})
        out = tmp_path / "out"
        p = start_campaign(hilctl_bin, lab, out, "-j2", scenario=cut_with_long_off_time(tmp_path))
        wait_cut(sim, "sim-01")
        pdu.stop()  # during the off time: power on after the cut fails
        rc, err = finish(p, timeout=180)
    finally:
        pdu.stop()
    assert rc == 3, err
    done = check_journal(out, 4)  # sim-02 ran what sim-01 could not
    infra = [r for r in done if r["board"] == "sim-01"]
    assert len(infra) == 1 and infra[0]["verdict"] == "infra_error"
    assert "power on failed (pdudaemon driver)" in infra[0]["reason"], infra[0]["reason"]
    assert "may still be on" in infra[0]["reason"]  # the last off failed too: said, not hidden
    assert "cannot reach pdudaemon" in err
    assert 'board "sim-01": no more runs on it' in err
    assert all(r["verdict"] in ("upgraded", "rolled_back") for r in done if r["board"] == "sim-02")
    assert sim.power("sim-01") == "off" and sim.power("sim-02") == "off"


class Answer500(BaseHTTPRequestHandler):
    """pdudaemon's API, switching sim boards, until the file "broken"
    exists in the sim's directory: then 500 for everything."""
    sim = None

    def do_GET(self):
        from urllib.parse import parse_qs, urlparse
        url = urlparse(self.path)
        if (self.sim.dir / "broken").exists():
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"Internal Server Error")
            return
        action = url.path.rstrip("/").split("/")[-1]
        outlet = parse_qs(url.query)["port"][0]
        subprocess.run([str(SIM_POWER), str(self.sim.dir), f"sim-0{outlet}", action], check=True)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"OK - accepted request")

    def log_message(self, *args):
        pass


def test_pdudaemon_answering_500(hilctl, hilctl_bin, sims, tmp_path):
    sim = sims([{"name": "sim-01", "console": "tcp"}])
    Answer500.sim = sim
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer500)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        lab = lab_file(tmp_path / "lab.yaml", sim, power={
            "sim-01": f'{{driver: pdudaemon, url: "http://127.0.0.1:{server.server_port}", '
                      f'hostname: pdu-sim, port: 1, timeout: 5s}}'})
        out = tmp_path / "out"
        p = start_campaign(hilctl_bin, lab, out, scenario=cut_with_long_off_time(tmp_path))
        wait_cut(sim, "sim-01")
        (sim.dir / "broken").touch()
        rc, err = finish(p, timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    assert rc == 3, err
    records, _ = journal_lines(out)
    done = runs(records)
    assert len(done) == 1, "one run, then the board is out of the campaign"
    assert done[0]["verdict"] == "infra_error"
    assert "power on failed (pdudaemon driver)" in done[0]["reason"]
    assert "with status 500" in err
    assert "no board left to run on, 3 runs not done" in err
    assert sim.power("sim-01") == "off"
    # The journal says the campaign is incomplete; --resume finishes it.
    assert records[-1]["end"]["complete"] is False


# ---- the update server ----

def test_update_server_port_taken_is_infra_error(hilctl, hilctl_bin, sims, tmp_path):
    sim = sims([{"name": "sim-01", "console": "tcp"}])
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        bundles = tmp_path / "bundles"
        bundles.mkdir()
        lab = lab_file(tmp_path / "lab.yaml", sim,
                       vars={"sim-01": f"{{bundles: {bundles}, server_port: {port}}}"})
        sc = tmp_path / "sim-serve.yaml"
        sc.write_text(SIM_SCENARIO.read_text().replace(
            "  - send: 'hilctl-update now'",
            "  - serve: bundles\n  - send: 'hilctl-update http://${server}/v2'"))
        out = tmp_path / "out"
        rc, err = finish(start_campaign(hilctl_bin, lab, out, "--point", "0", scenario=sc))
    finally:
        taken.close()
    assert rc == 3, err
    (run,) = check_journal(out, 1)
    assert run["verdict"] == "infra_error"
    assert f"the update server could not start on 127.0.0.1:{port}: Address already in use" \
        in run["reason"], run["reason"]
    assert sim.power("sim-01") == "off"
    assert power_status(hilctl, lab, "sim-01") == "off"


# ---- the journal ----

def test_journal_file_system_full(hilctl, hilctl_bin, sims, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    sim = sims([{"name": "sim-01", "console": "tcp"}])
    lab = lab_file(tmp_path / "lab.yaml", sim)
    out = tmp_path / "small"
    out.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "hilctl-test", str(out)], check=True)
    try:
        p = start_campaign(hilctl_bin, lab, out, "--repeat", "5")
        rc, err = finish(p, timeout=240)
        assert rc == 3, err
        assert "No space left on device" in err and "journal.jsonl" in err
        records, tail = journal_lines(out)
        assert tail == "", "no record cut in half"
        written = runs(records)
        assert written, "the runs before the disk filled are there"
        assert sim.power("sim-01") == "off"
        # Room again: --resume finishes the campaign, each run once.
        subprocess.run(["mount", "-o", "remount,size=16m", str(out)], check=True)
        r = subprocess.run([hilctl_bin, "run", "--resume", str(out)], capture_output=True,
                           text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        records, tail = journal_lines(out)
        keys = [run["key"] for run in runs(records)]
        assert len(keys) == 20 and len(set(keys)) == 20
        assert [k for k in keys[:len(written)]] == [w["key"] for w in written]
    finally:
        subprocess.run(["umount", "-l", str(out)], check=False)


# ---- QEMU killed from outside ----

def test_qemu_killed_mid_run_is_infra_error(hilctl, hilctl_bin, tmp_path, run_dir, refdut):
    out = tmp_path / "out"
    p = start_campaign(hilctl_bin, LAB, out, "--board", "qemu-01", "--point", "9437184",
                       scenario=SCEN / "cut-write.yaml")
    wait_for(lambda: timeline_has(out, "hilctl-agent: download start"), 300,
             "the reference board's update to start")
    pid = int((run_dir / "qemu-01" / "qemu.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    rc, err = finish(p, timeout=120)
    assert rc == 3, err
    (run,) = check_journal(out, 1)
    assert run["verdict"] == "infra_error"
    assert "power went off under the harness" in run["reason"], run["reason"]
    assert "QEMU killed or crashed outside hilctl" in run["reason"]
    assert f"QEMU (pid {pid}) is gone without a power off" in err
    assert power_status(hilctl, LAB, "qemu-01") == "off"
    assert not processes_mentioning(str(run_dir))


# ---- hilctl itself killed ----

def test_sigkill_at_20_random_points_then_resume_loses_and_repeats_nothing(
        hilctl_bin, sims, tmp_path, run_dir):
    sim = sims([{"name": "sim-01", "console": "tcp"}, {"name": "sim-02", "console": "tcp"}])
    lab = lab_file(tmp_path / "lab.yaml", sim)
    out = tmp_path / "out"
    rng = random.Random(20261125)
    # 4 points x --repeat 20: enough that 20 kills (each after 0.2-2 s) all
    # land inside the campaign even on a fast, idle machine.
    planned = 80
    first = [hilctl_bin, "--lab", str(lab), "run", str(SIM_SCENARIO), "-j2", "--repeat", "20",
             "--out", str(out)]
    resume = [hilctl_bin, "run", "--resume", str(out)]
    kills, ended = 0, []
    for i in range(20):
        err_path = tmp_path / f"stderr-{i}"
        with open(err_path, "w") as err:
            p = subprocess.Popen(first if i == 0 else resume, stdout=subprocess.DEVNULL,
                                 stderr=err)
        if i == 0:
            # Only a campaign whose journal has its header can be resumed
            # (it holds the argv): on a loaded machine the start alone can
            # take longer than the kill's delay.
            wait_for(lambda: (out / "journal.jsonl").exists() and
                     (out / "journal.jsonl").read_text().count("\n") >= 1, 60,
                     "the campaign's journal header")
        try:
            p.wait(timeout=rng.uniform(0.2, 2.0))
            # It ended by itself: say how, should the kills fall short.
            ended.append(f"start {i + 1}: exit {p.returncode}: "
                         f"{err_path.read_text()[-600:]}")
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=30)
            kills += 1
        # Nothing outlives it: workers, power commands (and QEMU) die with it.
        mine = lambda: {pid: cmd for pid, cmd in
                        processes_mentioning(str(out), str(run_dir), str(sim.dir)).items()
                        if pid != sim.proc.pid}
        wait_for(lambda: not mine(), 20, f"kill {i + 1}: the campaign's processes to end "
                 f"({mine()})", period=0.1)
        # The journal is valid after every kill (a cut last line is allowed).
        if (out / "journal.jsonl").exists():
            records, _tail = journal_lines(out)
            assert "campaign" in records[0]
            keys = [r["key"] for r in runs(records)]
            assert len(keys) == len(set(keys)), f"kill {i + 1}: a run journaled twice"
        # What a killed campaign leaves on: every board off once its
        # workers have stopped (they power off as they end).
        assert sim.power("sim-01") == "off" and sim.power("sim-02") == "off", f"kill {i + 1}"
    assert kills == 20, f"all 20 points fell inside the campaign; {ended}"
    r = subprocess.run(resume, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    records, tail = journal_lines(out)
    assert tail == ""
    keys = [run["key"] for run in runs(records)]
    assert len(keys) == planned and len(set(keys)) == planned, "every run once"
    assert records[-1]["end"]["complete"] is True


# ---- a worker stuck where nothing has a deadline ----

@pytest.mark.slow  # the run's deadline is its timeouts summed plus 60 s: about 6 min here
def test_a_stuck_worker_is_killed_at_its_deadline_and_its_board_powered_off(
        hilctl_bin, sims, tmp_path, run_dir):
    sim = sims([{"name": "sim-01", "console": "tcp"}])
    lab = lab_file(tmp_path / "lab.yaml", sim)
    # Short timeouts: the run's deadline is their sum plus 60 s.
    sc = tmp_path / "stuck.yaml"
    sc.write_text(SIM_SCENARIO.read_text().replace("timeout: 10s", "timeout: 2s")
                  .replace("boot_timeout: 10s, settle: 10s", "boot_timeout: 2s, settle: 1s")
                  .replace("loop_limit: 4", "loop_limit: 1, max_boots: 1"))
    out = tmp_path / "out"
    p = start_campaign(hilctl_bin, lab, out, "--point", "4194304", scenario=sc)
    wait_for(lambda: sim.power("sim-01") == "on" and timeline_has(out, "sim# "), 60,
             "the run to power its board on")
    # The campaign's only child is its board's worker: freeze it mid-run.
    worker = int(subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True,
                                text=True).stdout.split()[0])
    os.kill(worker, signal.SIGSTOP)
    # The deadline (about 415 s here) counts the alive probe's re-ask.
    rc, err = finish(p, timeout=480)
    assert rc == 3, err
    (run,) = check_journal(out, 1)
    assert run["verdict"] == "infra_error"
    assert "the run did not end within its deadline" in run["reason"], run["reason"]
    assert f"(pid {worker}) was killed" in run["reason"]
    # Nothing switched the board off but the campaign itself, after the kill.
    assert sim.power("sim-01") == "off"
    assert not processes_mentioning(str(out), str(run_dir))
