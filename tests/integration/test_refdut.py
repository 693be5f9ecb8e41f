"""The reference board (refdut) on real QEMU: A/B update, rollback by boot
counter, rollback after a watchdog reset (softdog and i6300esb), app update.

QEMU is driven directly (until hilctl's qemu driver takes over): serial on a
unix socket chardev connected before the guest runs, bundles served by an
http.server on 127.0.0.1 (the guest reaches it as 10.0.2.2).  Each test boots
from a private copy of the variant's pristine disk.  Every wait has a
deadline; QEMU is killed at the end of each test.

Builds build/refdut (fixtures/refdut/build.sh) when it is missing: slow the
first time (downloads Debian packages), seconds afterwards.
"""
import functools
import http.server
import os
import pathlib
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIX = ROOT / "fixtures" / "refdut"
OUT = pathlib.Path(os.environ.get("REFDUT_OUT", ROOT / "build" / "refdut"))

# generous: this machine's 2 cores are shared, boots take 3.5 s idle, ~8 s busy
BOOT_S = 60
UPDATE_S = 180


def _build(*variants):
    missing = [v for v in variants if not (OUT / v / "disk.pristine.img").exists()]
    if missing:
        env = dict(os.environ, REFDUT_OUT=str(OUT))
        subprocess.run([str(FIX / "build.sh"), *missing], check=True, env=env, timeout=3600)


class BundleServer:
    """http.server on 127.0.0.1:<ephemeral> serving a variant's bundles/."""

    def __init__(self, root):
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.drop_after = [0]
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name):
        return f"http://10.0.2.2:{self.port}/{name}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static files, plus what the agent's resume needs: "Range: bytes=N-"
    (206), and a fault for the tests: the server's drop_after[0] > 0 makes
    the next payload response stop after that many bytes."""

    def log_message(self, *a):
        pass

    def do_GET(self):
        path = self.translate_path(self.path)
        rng = re.match(r"bytes=(\d+)-$", self.headers.get("Range", ""))
        drop = self.server.drop_after
        if not path.endswith("payload") or not os.path.isfile(path) or not (rng or drop[0]):
            return super().do_GET()
        size = os.path.getsize(path)
        start = int(rng.group(1)) if rng else 0
        self.send_response(206 if rng else 200)
        self.send_header("Content-Length", str(size - start))
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.end_headers()
        limit, drop[0] = (drop[0] or size), 0
        with open(path, "rb") as f:
            f.seek(start)
            left = min(size - start, limit)
            while left > 0:
                chunk = f.read(min(65536, left))
                self.wfile.write(chunk)
                left -= len(chunk)


class Board:
    """One QEMU refdut with its console on a unix socket."""

    def __init__(self, variant, tmp, esb=False):
        self.tmp = pathlib.Path(tmp)
        self.disk = self.tmp / "disk.img"
        shutil.copyfile(OUT / variant / "disk.pristine.img", self.disk)
        self.sock_path = self.tmp / "console.sock"
        cmd = [str(FIX / "run-qemu.sh"), variant, "--socket", str(self.sock_path),
               "--disk", str(self.disk)]
        if esb:
            cmd.append("--i6300esb")
        self.qlog = open(self.tmp / "qemu.stderr", "wb")
        self.logfile = open(self.tmp / "console.log", "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.qlog,
                                     stderr=subprocess.STDOUT, env=dict(os.environ, REFDUT_OUT=str(OUT)))
        self.log = []          # complete lines seen so far
        self.pos = 0           # expect() searches lines from here on
        self.partial = b""
        self.t0 = time.monotonic()
        self.sock = socket.socket(socket.AF_UNIX)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.sock.connect(str(self.sock_path))
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("QEMU did not open its console socket: "
                                       + (self.tmp / "qemu.stderr").read_text(errors="replace"))
                time.sleep(0.02)
        self.sock.settimeout(0.2)

    def _pump(self):
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return
        if not data:
            raise EOFError("console closed (QEMU exited?)")
        self.partial += data
        while b"\n" in self.partial:
            line, self.partial = self.partial.split(b"\n", 1)
            text = line.decode(errors="replace").rstrip("\r")
            self.log.append(text)
            self.logfile.write("%8.2f %s\n" % (time.monotonic() - self.t0, text))
            self.logfile.flush()

    def expect(self, pattern, timeout, partial=False):
        """Wait for a console line matching pattern; return the match.
        partial: also match the unfinished last line (a prompt), consuming it."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            while self.pos < len(self.log):
                m = rx.search(self.log[self.pos])
                self.pos += 1
                if m:
                    return m
            # a prompt has no newline after it
            if partial:
                m = rx.search(self.partial.decode("latin-1"))
                if m:
                    self.partial = self.partial[m.end():]
                    return m
            if time.monotonic() > deadline:
                raise AssertionError(f"timeout ({timeout}s) waiting for /{pattern}/; console tail:\n"
                                     + "\n".join(self.log[-40:]))
            self._pump()

    def wait_prompt(self, timeout=BOOT_S):
        self.expect(r"refdut# ", timeout, partial=True)

    def send(self, line):
        self.sock.sendall(line.encode() + b"\n")

    def close(self):
        try:
            self.sock.close()
        finally:
            self.proc.kill()
            self.proc.wait(timeout=30)
            self.qlog.close()
            self.logfile.close()


def boot_line(board, timeout=BOOT_S):
    m = board.expect(r"hilctl-boot: slot=([AB]) reason=(normal|trial|fallback) bootcount=(\d+)", timeout)
    return m.group(1), m.group(2), int(m.group(3))


def probe(board, timeout=BOOT_S):
    m = board.expect(r"hilctl-probe: version=(\S+) slot=([AB]) committed=([01])", timeout)
    return m.group(1), m.group(2), int(m.group(3))


@pytest.fixture(scope="module")
def built():
    _build("good", "generic")
    return OUT


@pytest.fixture
def board(built, tmp_path):
    boards = []
    servers = []

    def start(variant="good", esb=False):
        srv = BundleServer(OUT / variant / "bundles")
        servers.append(srv)
        d = tmp_path / f"b{len(boards)}"
        d.mkdir()
        b = Board(variant, d, esb=esb)
        b.server = srv
        boards.append(b)
        return b

    yield start
    for b in boards:
        b.close()
    for s in servers:
        s.close()


def fresh_boot(b):
    assert boot_line(b) == ("A", "normal", 1)
    assert probe(b) == ("1", "A", 1)
    b.wait_prompt()


def test_update_v1_to_v2_upgraded_and_committed(board):
    b = board("good")
    fresh_boot(b)
    b.send(f"hilctl-update {b.server.url('v2')}")
    size = int(b.expect(r"hilctl-agent: download start size=(\d+)", 30).group(1))
    offs = []
    while True:
        m = b.expect(r"hilctl-agent: (write offset=(\d+)|download done)", UPDATE_S)
        if m.group(2) is None:
            break
        offs.append(int(m.group(2)))
    assert offs == [i * 1024 * 1024 for i in range(1, size // (1024 * 1024) + 1)]
    b.expect(r"hilctl-agent: verify ok", UPDATE_S)
    b.expect(r"hilctl-agent: bootfiles start", 30)
    b.expect(r"hilctl-agent: bootfiles done", UPDATE_S)
    b.expect(r"hilctl-agent: flip slot=B", 30)
    b.expect(r"hilctl-agent: reboot", 30)
    assert boot_line(b) == ("B", "trial", 1)
    b.expect(r"hilctl-agent: selftest start", BOOT_S)
    b.expect(r"hilctl-agent: selftest ok", 60)
    b.expect(r"hilctl-agent: commit slot=B", 30)
    assert probe(b) == ("2", "B", 1)
    # a trial boot's shell may prompt before the boot step ends: ask again
    b.send("")
    b.wait_prompt()
    # committed: the next boot is a normal boot of B, not a trial
    b.send("reboot")
    assert boot_line(b) == ("B", "normal", 1)
    assert probe(b) == ("2", "B", 1)
    b.wait_prompt()
    b.send("hilctl-update --state")
    m = b.expect(r"slot=(\w) upgrade_available=(\d) bootcount=(\d+) bootlimit=(\d+) booted=(\w)", 30)
    assert m.groups() == ("B", "0", "0", "3", "B")


def test_selftest_failure_rolls_back_after_bootlimit(board):
    b = board("good")
    fresh_boot(b)
    b.send(f"hilctl-update {b.server.url('v2-selftest-fail')}")
    b.expect(r"hilctl-agent: flip slot=B", UPDATE_S)
    for n in (1, 2, 3):
        assert boot_line(b) == ("B", "trial", n)
        b.expect(r"hilctl-agent: selftest fail", BOOT_S)
        assert probe(b) == ("2", "B", 0)
        b.expect(r"hilctl-agent: reboot", 30)
    assert boot_line(b) == ("A", "fallback", 1)
    assert probe(b) == ("1", "A", 1)
    b.wait_prompt()
    assert not any("hilctl-agent: commit" in line for line in b.log)


def _hang_rolls_back(b):
    fresh_boot(b)
    b.send(f"hilctl-update {b.server.url('v2-hang')}")
    b.expect(r"hilctl-agent: flip slot=B", UPDATE_S)
    b.expect(r"hilctl-agent: reboot", 30)
    assert boot_line(b) == ("B", "trial", 1)
    for n in (1, 2, 3):
        b.expect(r"hilctl-agent: selftest start", BOOT_S)
        b.expect(r"selftest: hanging", 30)
        t = time.monotonic()
        # nothing but the watchdog gets the board out of this
        nxt = boot_line(b, timeout=60)
        assert time.monotonic() - t < 30, "watchdog reset took too long"
        assert nxt == (("B", "trial", n + 1) if n < 3 else ("A", "fallback", 1))
    assert probe(b) == ("1", "A", 1)
    b.wait_prompt()
    assert not any("hilctl-agent: commit" in line for line in b.log)
    return b


def test_hang_softdog_reset_rolls_back(board):
    b = _hang_rolls_back(board("good"))
    assert any("softdog: Initiating system reboot" in line for line in b.log)


def test_hang_i6300esb_reset_rolls_back(board):
    b = board("generic", esb=True)
    b.expect(r"hilctl-probe:", BOOT_S)
    b.wait_prompt()
    b.send("ls /sys/module/ | grep -E '^(i6300esb|softdog)$'")
    assert b.expect(r"^(i6300esb|softdog)$", 30).group(1) == "i6300esb"
    b.wait_prompt()
    b.send("reboot")
    _hang_rolls_back(b)
    assert not any("softdog: Initiating" in line for line in b.log)


def test_bad_sha_is_rejected_and_nothing_flips(board):
    b = board("good")
    fresh_boot(b)
    b.send(f"hilctl-update {b.server.url('v2-badsha')}")
    b.expect(r"hilctl-agent: download done", UPDATE_S)
    b.expect(r"hilctl-agent: verify fail", UPDATE_S)
    b.wait_prompt()
    assert not any("flip" in line for line in b.log)
    b.send("reboot")
    assert boot_line(b) == ("A", "normal", 1)
    assert probe(b) == ("1", "A", 1)


def test_interrupted_download_resumes_and_verifies(board):
    b = board("good")
    fresh_boot(b)
    b.server.httpd.drop_after[0] = 5 * 1024 * 1024 + 12345
    b.send(f"hilctl-update {b.server.url('v2')}")
    b.expect(r"hilctl-agent: write offset=5242880", UPDATE_S)
    b.expect(r"hilctl-agent: error download (short|timeout)", 60)
    b.wait_prompt()
    b.send(f"hilctl-update {b.server.url('v2')}")
    b.expect(r"hilctl-agent: download start", 60)
    off = int(b.expect(r"hilctl-agent: resume offset=(\d+)", 30).group(1))
    assert 5 * 1024 * 1024 <= off <= 5 * 1024 * 1024 + 12345
    first = int(b.expect(r"hilctl-agent: write offset=(\d+)", 60).group(1))
    assert first == 6 * 1024 * 1024
    b.expect(r"hilctl-agent: verify ok", UPDATE_S)
    b.expect(r"hilctl-agent: flip slot=B", UPDATE_S)
    assert boot_line(b) == ("B", "trial", 1)
    b.expect(r"hilctl-agent: commit slot=B", BOOT_S)
    assert probe(b) == ("2", "B", 1)


def test_app_update_switches_and_survives_reboot(board):
    b = board("good")
    fresh_boot(b)
    b.expect(r"hilctl-app: running version=1", 30)
    # download-then-kill (default)
    b.send(f"hilctl-update --app {b.server.url('app-v2')}")
    b.expect(r"hilctl-app: verify ok", 60)
    b.expect(r"hilctl-app: switch version=2", 60)
    b.expect(r"hilctl-app: stop pid=\d+", 30)
    b.expect(r"hilctl-app: done version=2", 30)
    b.expect(r"hilctl-app: running version=2$", 30)
    # hand-over: the new one runs before the old one is stopped
    b.send(f"hilctl-update --app --handover {b.server.url('app-v3')}")
    b.expect(r"hilctl-app: switch version=3", 60)
    b.expect(r"hilctl-app: running version=3 mode=handover", 30)
    b.expect(r"hilctl-app: handover old=\d+ new=\d+", 30)
    b.expect(r"hilctl-app: done version=3", 30)
    b.wait_prompt()
    b.send("reboot")
    assert boot_line(b) == ("A", "normal", 1)
    probe(b)
    b.expect(r"hilctl-app: running version=3$", 60)


def test_seeded_no_bootcount_cannot_roll_back(board):
    """The no-bootcount variant commits at first boot: a failing v2 is stuck."""
    _build("no-bootcount")
    b = board("no-bootcount")
    fresh_boot(b)
    b.send(f"hilctl-update {b.server.url('v2-selftest-fail')}")
    b.expect(r"hilctl-agent: flip slot=B", UPDATE_S)
    # no trial boot: B is committed before anything checked it, the
    # failing self-test never runs, and the boot counter cannot save us
    assert boot_line(b) == ("B", "normal", 1)
    assert probe(b) == ("2", "B", 1)
    b.wait_prompt()
    b.send("reboot")
    assert boot_line(b) == ("B", "normal", 1)
    assert probe(b) == ("2", "B", 1)
    assert not any("hilctl-agent: selftest" in line for line in b.log)


def test_seeded_bootcount_not_reset_falls_back_from_stable_slot(board):
    """rauc#490: bootcount never reset on good boots; after bootlimit plain
    reboots the committed slot is abandoned (here for the empty slot B)."""
    _build("bootcount-not-reset")
    b = board("bootcount-not-reset")
    for n in (1, 2, 3):
        assert boot_line(b) == ("A", "normal", n)
        assert probe(b) == ("1", "A", 1)
        b.wait_prompt()
        b.send("reboot")
    assert boot_line(b) == ("B", "fallback", 1)
    b.expect(r"hilctl-boot: error cannot boot slot=B", 30)


def test_seeded_commit_before_selftest_keeps_failing_version(board):
    _build("commit-before-selftest")
    b = board("commit-before-selftest")
    fresh_boot(b)
    b.send(f"hilctl-update {b.server.url('v2-selftest-fail')}")
    b.expect(r"hilctl-agent: flip slot=B", UPDATE_S)
    assert boot_line(b) == ("B", "trial", 1)
    b.expect(r"hilctl-agent: commit slot=B", BOOT_S)
    b.expect(r"hilctl-agent: selftest fail", 60)
    b.expect(r"hilctl-agent: reboot", 30)
    # already committed: no more trials, the failing version stays
    assert boot_line(b) == ("B", "normal", 1)
    assert probe(b) == ("2", "B", 1)


def _order(b, *patterns, timeout=UPDATE_S):
    for p in patterns:
        b.expect(p, timeout)


def test_seeded_flip_before_verify_flips_a_bad_payload(board):
    _build("flip-before-verify")
    b = board("flip-before-verify")
    fresh_boot(b)
    b.send(f"hilctl-update {b.server.url('v2-badsha')}")
    _order(b, r"hilctl-agent: download done", r"hilctl-agent: flip slot=B", r"hilctl-agent: verify fail")
    b.wait_prompt()
    b.send("hilctl-update --state")
    assert b.expect(r"slot=(\w) upgrade_available=(\d)", 30).groups() == ("B", "1")


def test_seeded_app_delete_first_leaves_a_window_without_app(board):
    _build("app-delete-first")
    b = board("app-delete-first")
    fresh_boot(b)
    b.send(f"hilctl-update --app {b.server.url('app-v2')}")
    _order(b, r"hilctl-app: verify ok", r"hilctl-app: cleanup version=1", r"hilctl-app: install version=2",
           r"hilctl-app: switch version=2", r"hilctl-app: done version=2", timeout=60)
