"""The tcp console against Debian's ser2net (4.x, YAML config) on 127.0.0.1.

The "board" is a pty made by the test: ser2net serves its slave side as a
raw TCP port, the test writes the board's output into the master side and
reads what hilctl typed from it. hilctl is driven through its CLI
(`hilctl expect`), as a user or a CI script would."""
import json
import os
import re
import select
import signal
import socket
import subprocess
import time
import tty

import pytest

BOARD = "s2n-01"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def established_to(port):
    """Is any TCP connection to 127.0.0.1:port established? (/proc/net/tcp)"""
    want = ":%04X" % port
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1].endswith(want) and fields[3] == "01":
                return True
    return False


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


class Ser2net:
    """ser2net serving a pty on 127.0.0.1:port; start() and stop() again."""

    def __init__(self, tmp_path):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # before ser2net configures it: no echo, no CRLF
        os.set_blocking(self.master, False)
        self.port = free_port()
        self.conf = tmp_path / "ser2net.yaml"
        self.pidfile = tmp_path / "ser2net.pid"
        self.conf.write_text(
            "connection: &board\n"
            f"  accepter: tcp,127.0.0.1,{self.port}\n"
            f"  connector: serialdev,{os.ttyname(self.slave)},115200n81,local\n"
            "  options:\n"
            "    kickolduser: true\n")
        self.proc = None
        self.typed = b""

    def start(self):
        self.proc = subprocess.Popen(
            ["ser2net", "-n", "-u", "-P", str(self.pidfile), "-c", str(self.conf)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:  # listening yet? (a probe connection is harmless)
            assert self.proc.poll() is None, self.proc.stdout.read()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "ser2net never listened"
                time.sleep(0.05)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc:
            self.proc.stdout.close()
        self.proc = None

    def board_says(self, data):
        """Write into the device; whatever does not fit now is dropped
        (a UART with nobody listening loses bytes too)."""
        try:
            os.write(self.master, data)
        except BlockingIOError:
            pass

    def read_typed(self):
        while select.select([self.master], [], [], 0)[0]:
            try:
                self.typed += os.read(self.master, 4096)
            except (BlockingIOError, OSError):
                break
        return self.typed

    def close(self):
        self.stop()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def ser2net(tmp_path):
    s = Ser2net(tmp_path)
    s.start()
    try:
        yield s
    finally:
        s.close()


def lab_for(tmp_path, port):
    lab = tmp_path / "lab.yaml"
    lab.write_text(
        "boards:\n"
        f"  - name: {BOARD}\n"
        "    power: {driver: command, on: [/bin/true], off: [/bin/true]}\n"
        f"    console: {{type: tcp, host: 127.0.0.1, port: {port}, timeout: 2s}}\n")
    return lab


def start_expect(hilctl_bin, lab, *args):
    return subprocess.Popen([hilctl_bin, "--lab", str(lab), "expect", BOARD, *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def feed_until_exit(proc, ser2net, lines, period=0.1, timeout=30, on_tick=None):
    """Play the board: write lines round and round until hilctl exits."""
    deadline = time.monotonic() + timeout
    i = 0
    while proc.poll() is None:
        assert time.monotonic() < deadline, "hilctl did not exit"
        ser2net.board_says(lines[i % len(lines)])
        i += 1
        if on_tick:
            on_tick()
        time.sleep(period)
    out, err = proc.communicate(timeout=10)
    return proc.returncode, out, err


def timeline_events(run_dir):
    path = run_dir / BOARD / "timeline.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_expect_sees_the_board_through_ser2net(hilctl_bin, run_dir, tmp_path, ser2net):
    lab = lab_for(tmp_path, ser2net.port)
    proc = start_expect(hilctl_bin, lab, r"U-Boot 20\d\d\.\d\d", "Kernel panic",
                        "--timeout", "10")
    wait_for(lambda: established_to(ser2net.port), 10, "hilctl to connect")
    rc, out, err = feed_until_exit(proc, ser2net, [
        b"DRAM:  1 GiB\r\n", b"\0\xff\xfe garbage \x1b[0m\r\n", b"U-Boot 2023.01 (Jan 01)\r\n"])
    assert rc == 0, err
    assert out.startswith("matched 1: U-Boot 2023.01"), out
    # Every byte is on the timeline, escaped, NUL and invalid UTF-8 included.
    consoles = "".join(e["d"] for e in timeline_events(run_dir) if e.get("k") == "con")
    assert "DRAM:  1 GiB" in consoles
    assert "\u0000\u00ff\u00fe garbage" in consoles


def test_expect_send_types_through_ser2net(hilctl_bin, run_dir, tmp_path, ser2net):
    lab = lab_for(tmp_path, ser2net.port)
    proc = start_expect(hilctl_bin, lab, r"pong \d+", "--send", "ping 42", "--timeout", "10")

    def answer():
        if b"ping 42\n" in ser2net.read_typed() and b"answered" not in ser2net.typed:
            ser2net.typed += b"answered"
            ser2net.board_says(b"pong 42\r\n")

    rc, out, err = feed_until_exit(proc, ser2net, [b"# \r\n"], on_tick=answer)
    assert rc == 0, err
    assert out.startswith("matched 1: pong 42")


def test_ser2net_stopped_mid_stream_is_a_gap_then_a_timeout(hilctl_bin, run_dir, tmp_path,
                                                            ser2net):
    lab = lab_for(tmp_path, ser2net.port)
    t0 = time.monotonic()
    proc = start_expect(hilctl_bin, lab, "login:", "--timeout", "6")
    wait_for(lambda: established_to(ser2net.port), 10, "hilctl to connect")
    stopped = []

    def stop_after_some_output():
        if not stopped and time.monotonic() - t0 > 1.5:
            ser2net.stop()  # the stream ends in the middle of the boot log
            stopped.append(time.monotonic())

    rc, out, err = feed_until_exit(proc, ser2net, [b"Starting kernel ...\r\n"],
                                   on_tick=stop_after_some_output)
    elapsed = time.monotonic() - t0
    # What the CLI does: keep trying to reconnect until --timeout, then
    # exit 1 ("none of the patterns appeared"), never hang.
    assert rc == 1, err
    assert 5.5 < elapsed < 12, elapsed
    assert "connection refused (is ser2net running" in err
    assert "none of the patterns appeared within 6.0 s" in err
    events = timeline_events(run_dir)
    gaps = [e["d"] for e in events if e.get("k") == "gap"]
    # ser2net closes its clients before its listener: a reconnect may land
    # in that window and end at once. Whatever the count, gaps alternate and
    # the stream ended gone.
    assert gaps[0::2] == ["console tcp vanished"] * len(gaps[0::2]), gaps
    assert gaps[1::2] == ["console back after tcp vanished"] * len(gaps[1::2]), gaps
    assert gaps[-1] == "console tcp vanished", gaps
    consoles = "".join(e["d"] for e in events if e.get("k") == "con")
    assert "Starting kernel ..." in consoles


def test_ser2net_restarted_within_the_timeout_is_reconnected(hilctl_bin, run_dir, tmp_path,
                                                             ser2net):
    lab = lab_for(tmp_path, ser2net.port)
    proc = start_expect(hilctl_bin, lab, "login:", "--timeout", "15")
    wait_for(lambda: established_to(ser2net.port), 10, "hilctl to connect")
    ser2net.board_says(b"before the gap\r\n")
    time.sleep(0.5)
    ser2net.stop()
    time.sleep(1.0)  # refused for a while: hilctl keeps retrying
    ser2net.start()
    wait_for(lambda: established_to(ser2net.port), 10, "hilctl to reconnect")
    rc, out, err = feed_until_exit(proc, ser2net, [b"buildroot login: \r\n"])
    assert rc == 0, err
    assert out == "matched 1: login:\n"
    events = timeline_events(run_dir)
    gaps = [e["d"] for e in events if e.get("k") == "gap"]
    assert gaps[:2] == ["console tcp vanished", "console back after tcp vanished"], events
    assert len(gaps) % 2 == 0, gaps  # every gap closed
    consoles = "".join(e["d"] for e in events if e.get("k") == "con")
    assert consoles.index("before the gap") < consoles.index("buildroot login:")


def test_nothing_listening_is_an_infrastructure_error(hilctl, tmp_path):
    lab = lab_for(tmp_path, free_port())
    t0 = time.monotonic()
    r = hilctl("--lab", lab, "expect", BOARD, "login:", "--timeout", "2", timeout=30)
    assert r.returncode == 3, r.stderr
    assert time.monotonic() - t0 < 10
    assert re.search(rf'board "{BOARD}": 127\.0\.0\.1:\d+: connection refused '
                     r"\(is ser2net running with a raw accepter on this port\?\)", r.stderr)
