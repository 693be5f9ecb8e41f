"""The pdudaemon power driver through the CLI, against Debian's pdudaemon
started here on 127.0.0.1 (a free port, http listener) with `localcmdline`
PDUs whose commands append the action, the outlet and the time to a file:
on, off, cycle order and off time, status (unknown), a stopped daemon, a PDU
name the daemon does not know, and a PDU that does not finish in time."""
import json
import socket
import subprocess
import time

import pytest

PDUDAEMON = "/usr/sbin/pdudaemon"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    def __init__(self, tmp_path):
        self.port = free_port()
        self.actions = tmp_path / "pdu-actions"
        self.log = tmp_path / "pdudaemon.log"
        self.conf = tmp_path / "pdudaemon.conf"
        # localcmdline runs cmd_on % outlet through a shell: %% is a %.
        record = f'echo "$(date +%%s.%%N) {{}} %s" >> {self.actions}'
        self.conf.write_text(json.dumps({
            # hostname is the address the http listener binds: loopback only.
            "daemon": {"hostname": "127.0.0.1", "port": self.port,
                       "listener": "http", "logging_level": "DEBUG"},
            "pdus": {
                "pdu-a": {"driver": "localcmdline",
                          "cmd_on": record.format("on"), "cmd_off": record.format("off")},
                "pdu-slow": {"driver": "localcmdline",
                             "cmd_on": "sleep 2", "cmd_off": "sleep 2"},
            },
        }))
        self.proc = None
        self.log_from = 0

    def start(self):
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen([PDUDAEMON, "--conf", str(self.conf), "--logfile", "-"],
                                     stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "pdudaemon exited:\n" + self.log.read_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        pytest.fail("pdudaemon did not listen within 20 s:\n" + self.log.read_text())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                # It waits for a running PDU job; a slow one is killed.
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        self.logf.close()

    def reset(self):
        """Forget what earlier tests made it do."""
        self.actions.unlink(missing_ok=True)
        self.log_from = self.log.stat().st_size

    def log_text(self):
        return self.log.read_text()[self.log_from:]

    def ran(self):
        """[(time, action, outlet)] in the order pdudaemon ran them."""
        if not self.actions.exists():
            return []
        return [(float(t), a, o) for t, a, o in
                (line.split() for line in self.actions.read_text().splitlines())]


@pytest.fixture(scope="module")
def shared_pdud(tmp_path_factory):
    d = Daemon(tmp_path_factory.mktemp("pdudaemon"))
    d.start()
    yield d
    d.stop()


@pytest.fixture
def pdud(shared_pdud):
    """One daemon for the module (it takes a second to start); each test
    sees only its own actions and log lines."""
    assert shared_pdud.proc.poll() is None, "pdudaemon died:\n" + shared_pdud.log_text()
    shared_pdud.reset()
    return shared_pdud


@pytest.fixture
def own_pdud(tmp_path):
    d = Daemon(tmp_path)
    d.start()
    yield d
    d.stop()


def write_lab(tmp_path, port, timeout="10s"):
    lab = tmp_path / "lab.yaml"
    lab.write_text(f"""\
boards:
  - name: bbb-01
    power: {{driver: pdudaemon, host: "127.0.0.1:{port}", hostname: pdu-a, port: 3}}
  - name: bbb-02
    power: {{driver: pdudaemon, url: "http://127.0.0.1:{port}/", hostname: pdu-a, port: 4}}
  - name: bbb-03
    power: {{driver: pdudaemon, host: "127.0.0.1:{port}", hostname: pdu-nope, port: 1}}
  - name: bbb-04
    power: {{driver: pdudaemon, host: "127.0.0.1:{port}", hostname: pdu-slow, port: 1,
             timeout: {timeout}}}
""")
    return lab


def test_daemon_listens_on_loopback_only(pdud):
    assert f"Listening on 127.0.0.1:{pdud.port}" in pdud.log.read_text()


def test_on_and_off_run_the_pdu_commands(hilctl, tmp_path, pdud):
    lab = write_lab(tmp_path, pdud.port)
    r = hilctl("--lab", lab, "power", "bbb-01", "on")
    assert r.returncode == 0, r.stderr
    assert [x[1:] for x in pdud.ran()] == [("on", "3")]
    r = hilctl("--lab", lab, "power", "bbb-02", "off")
    assert r.returncode == 0, r.stderr
    assert [x[1:] for x in pdud.ran()] == [("on", "3"), ("off", "4")]
    log = pdud.log_text()
    assert "Handling HTTP request from 127.0.0.1: /power/control/on?hostname=pdu-a&port=3" in log
    assert "Handling HTTP request from 127.0.0.1: /power/control/off?hostname=pdu-a&port=4" in log


def test_cycle_runs_off_then_on_after_the_off_time(hilctl, tmp_path, pdud):
    lab = write_lab(tmp_path, pdud.port)
    r = hilctl("--lab", lab, "power", "bbb-01", "cycle", "--off-time", "400")
    assert r.returncode == 0, r.stderr
    ran = pdud.ran()
    assert [x[1:] for x in ran] == [("off", "3"), ("on", "3")]
    assert ran[1][0] - ran[0][0] >= 0.4


def test_status_is_unknown_and_asks_nothing(hilctl, tmp_path, pdud):
    lab = write_lab(tmp_path, pdud.port)
    r = hilctl("--lab", lab, "power", "bbb-01", "status")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "unknown\n"
    assert "Handling HTTP request" not in pdud.log_text()


def test_stopped_daemon_is_infrastructure_error(hilctl, tmp_path, own_pdud):
    pdud = own_pdud
    lab = write_lab(tmp_path, pdud.port)
    pdud.stop()
    r = hilctl("--lab", lab, "power", "bbb-01", "on")
    assert r.returncode == 3
    assert r.stderr.startswith('hilctl: board "bbb-01": cannot reach pdudaemon for GET '
                               f"http://127.0.0.1:{pdud.port}/power/control/on?hostname=pdu-a&port=3")
    assert "is pdudaemon running" in r.stderr
    assert r.stderr.count("\n") == 1
    assert pdud.ran() == []


def test_unknown_pdu_is_refused_with_its_name(hilctl, tmp_path, pdud):
    lab = write_lab(tmp_path, pdud.port)
    r = hilctl("--lab", lab, "power", "bbb-03", "off")
    assert r.returncode == 3
    assert 'board "bbb-03": pdudaemon answered GET' in r.stderr
    assert "/power/control/off?hostname=pdu-nope&port=1 with status 500" in r.stderr
    assert "is PDU \"pdu-nope\" in pdudaemon's config" in r.stderr
    assert "PDU was not found in config" in pdud.log_text()
    assert pdud.ran() == []


def test_slow_pdu_times_out_at_the_deadline(hilctl, tmp_path, pdud):
    lab = write_lab(tmp_path, pdud.port, timeout="500ms")
    start = time.monotonic()
    r = hilctl("--lab", lab, "power", "bbb-04", "on")
    took = time.monotonic() - start
    assert r.returncode != 0
    assert 'board "bbb-04": pdudaemon did not answer GET' in r.stderr
    assert "within 500 ms" in r.stderr
    assert took < 2.5
