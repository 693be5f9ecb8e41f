"""A QEMU board's network (issue 14): a board is untrusted code under test,
so its user-mode network is restricted (QEMU's restrict=on) and reaches the
update server through one forward, nothing else. The reference board
updates from the server and, in the same run, tries a TCP service this test
opens on the host's 127.0.0.1 (which QEMU's NAT would show the board as
10.0.2.2): the service must see no connection. Without the restriction the
board reached it. A server_host that the restricted network cannot reach
is refused at load."""
import http.server
import threading

import pytest

from conftest import LAB, journal, runs


class Hits(http.server.BaseHTTPRequestHandler):
    seen = []

    def do_GET(self):
        Hits.seen.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"host secret\n")

    def log_message(self, *args):
        pass


@pytest.fixture
def host_service():
    """An HTTP service on this host's 127.0.0.1 that records every request."""
    Hits.seen = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hits)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def lab_copy(tmp_path, extra_power=""):
    """The QEMU lab with absolute paths (a copy in tmp); extra_power is added
    to the boards' shared power: mapping."""
    text = LAB.read_text().replace("../build/", f"{LAB.parent.parent}/build/")
    if extra_power:
        assert text.count("      timeout: 20s\n") == 1
        text = text.replace("      timeout: 20s\n", f"      timeout: 20s\n{extra_power}")
    lab = tmp_path / "lab.yaml"
    lab.write_text(text)
    return lab


def fence_scenario(tmp_path, port):
    """Boot, try the host's service at 10.0.2.2:port (a marker says which way
    it went: computed by the shell, so the echoed command never matches),
    then a plain update through the server."""
    scenario = tmp_path / "net-fence.yaml"
    scenario.write_text(f"""scenario: net-fence
fits: [refdut]
allowed: [upgraded]
versions: {{old: "1", new: "2"}}
steps:
  - power: on
  - expect: 'hilctl-probe: version=1 slot=A committed=1'
    timeout: 90s
  - expect: 'refdut# '
    timeout: 30s
  - serve: bundles
  - send: 'if timeout 5 wget -q -O- http://10.0.2.2:{port}/probe; then echo fence-$((1+1))-open; else echo fence-$((2+2))-shut; fi'
  - expect: 'fence-(2-open|4-shut)'
    timeout: 20s
  - send: 'hilctl-update http://${{server}}/v2'
  - expect: 'hilctl-agent: commit slot=B'
    timeout: 300s
  - expect: 'hilctl-probe: version=2 slot=B committed=1'
""")
    return scenario


def test_board_updates_from_the_server_and_cannot_reach_host_services(hilctl, tmp_path, refdut,
                                                                       host_service):
    out = tmp_path / "out"
    r = hilctl("--lab", lab_copy(tmp_path), "run", fence_scenario(tmp_path, host_service),
               "--board", "qemu-01", "--out", out, timeout=600)
    (run,) = runs(journal(out))
    timeline = (out / run["timeline"]).read_text()
    # The host's service: not reached, and the board saw it fail.
    assert Hits.seen == [], "the board reached a service on the host's 127.0.0.1"
    assert "fence-2-open" not in timeline and "fence-4-shut" in timeline
    # The update server: reached through its forward, the update done.
    assert r.returncode == 0, r.stderr
    assert run["verdict"] == "upgraded" and run["pass"] is True
    assert "http://10.0.2.100:" in timeline


def test_server_host_a_restricted_board_cannot_reach_is_refused_at_load(hilctl, tmp_path):
    lab = lab_copy(tmp_path)
    text = lab.read_text().replace("server_host: 10.0.2.100}", "server_host: 10.0.2.2}", 1)
    lab.write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "server_host: 10.0.2.2" in t)
    for args in (["check"], ["boards"]):
        r = hilctl("--lab", lab, *args)
        assert r.returncode == 2, (args, r.stderr)
        assert f"lab.yaml:{line}:" in r.stderr, r.stderr
        assert 'board "qemu-01": vars.server_host "10.0.2.2" is not reachable' in r.stderr
        assert "server_host: 10.0.2.100" in r.stderr and "restrict: off" in r.stderr
    # The documented opt-out: QEMU's own NAT reaches 10.0.2.2 again.
    lab = lab_copy(tmp_path, "      netdev: {restrict: 'off'}\n")
    lab.write_text(lab.read_text().replace("server_host: 10.0.2.100}", "server_host: 10.0.2.2}"))
    r = hilctl("--lab", lab, "check")
    assert r.returncode == 0, r.stderr
