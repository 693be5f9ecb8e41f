"""The update server on the board's network (issue 14): a board on another
address, for real. The reference board's QEMU runs inside its own network
namespace joined to this host by a veth pair (this host 10.213.7.1, the
namespace 10.213.7.2), so the board reaches the lab host only at
10.213.7.1, as a board on a lab network would. With `vars: server_bind`
the update server listens there and the update runs; without it the
server listens on 127.0.0.1, the board never reaches it, and the run says
so instead of passing. An address this host does not have is refused at
load."""
import os
import subprocess

import pytest

from conftest import LAB, SCEN, journal, runs

HOST_IP = "10.213.7.1"
NS_IP = "10.213.7.2"


def sh(*args):
    subprocess.run(args, check=True, timeout=30, capture_output=True)


@pytest.fixture
def board_netns():
    """A network namespace with a veth pair to this host; removed at the end."""
    ns = f"hil{os.getpid()}"
    host_if, ns_if = f"hv{os.getpid()}"[:15], f"nv{os.getpid()}"[:15]
    subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        sh("ip", "link", "set", ns_if, "netns", ns)
        sh("ip", "addr", "add", f"{HOST_IP}/30", "dev", host_if)
        sh("ip", "link", "set", host_if, "up")
        sh("ip", "-n", ns, "addr", "add", f"{NS_IP}/30", "dev", ns_if)
        sh("ip", "-n", ns, "link", "set", ns_if, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield ns
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, timeout=30)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


def lab_in_netns(tmp_path, ns, bind):
    """The QEMU lab whose qemu-01 runs inside ns and is told the server is at
    HOST_IP; with bind, the server listens there."""
    wrapper = tmp_path / "qemu-in-netns"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {ns} qemu-system-aarch64 "$@"\n')
    wrapper.chmod(0o755)
    text = LAB.read_text().replace("../build/", f"{LAB.parent.parent}/build/")
    text = text.replace("binary: qemu-system-aarch64", f"binary: {wrapper}")
    extra = f", server_bind: {bind}" if bind else ""
    assert text.count("server_host: 10.0.2.100}") == 2
    text = text.replace("server_host: 10.0.2.100}", f"server_host: {HOST_IP}{extra}}}")
    # QEMU's user network inside the namespace is the board's link to the
    # lab network, so it routes (restrict: off); the namespace isolates it.
    assert text.count("      timeout: 20s\n") == 1
    text = text.replace("      timeout: 20s\n", "      timeout: 20s\n      netdev: {restrict: 'off'}\n")
    lab = tmp_path / "lab.yaml"
    lab.write_text(text)
    return lab


def cut_write(tmp_path):
    """cut-write with a 40 s wait for its trigger, so the control run ends soon."""
    scenario = tmp_path / "cut-write.yaml"
    text = (SCEN / "cut-write.yaml").read_text()
    assert text.count("      off_time: 300ms\n") == 1
    scenario.write_text(text.replace("      off_time: 300ms\n",
                                     "      off_time: 300ms\n      timeout: 40s\n"))
    return scenario


def test_board_on_another_address_updates_through_server_bind(hilctl, tmp_path, refdut,
                                                              board_netns):
    out = tmp_path / "out"
    r = hilctl("--lab", lab_in_netns(tmp_path, board_netns, HOST_IP), "run", cut_write(tmp_path),
               "--board", "qemu-01", "--point", "9437184", "--out", out, timeout=900)
    assert r.returncode == 0, r.stderr
    (run,) = runs(journal(out))
    assert run["fault"]["injected"] is True
    assert run["verdict"] in ("upgraded", "rolled_back") and run["pass"] is True
    timeline = (out / run["timeline"]).read_text()
    assert f"http://{HOST_IP}:" in timeline  # what the board was told, and fetched


def test_without_server_bind_the_board_never_reaches_the_server(hilctl, tmp_path, refdut,
                                                               board_netns):
    out = tmp_path / "out"
    r = hilctl("--lab", lab_in_netns(tmp_path, board_netns, None), "run", cut_write(tmp_path),
               "--board", "qemu-01", "--point", "9437184", "--out", out, timeout=900)
    assert r.returncode == 3, r.stderr
    (run,) = runs(journal(out))
    assert run["verdict"] == "infra_error" and run["pass"] is False
    assert "the update server on 127.0.0.1:" in run["reason"]
    assert f"the board was told http://{HOST_IP}:" in run["reason"]


@pytest.mark.parametrize("addr, why", [
    ("192.0.2.55", "is not an address of this host"),
    ("0.0.0.0", "would serve bundles on every network of this host"),
    ("not-an-ip", "is not a numeric IPv4 or IPv6 address"),
])
def test_server_bind_this_host_cannot_listen_on_is_refused_at_load(hilctl, tmp_path, addr, why):
    text = LAB.read_text().replace("../build/", f"{LAB.parent.parent}/build/")
    text = text.replace("server_host: 10.0.2.100}", f"server_host: 10.0.2.100, server_bind: '{addr}'}}", 1)
    lab = tmp_path / "lab.yaml"
    lab.write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "server_bind" in t)
    for args in (["check"], ["boards"], ["run", SCEN / "cut-write.yaml", "--dry-run"]):
        r = hilctl("--lab", lab, *args)
        assert r.returncode == 2, (args, r.stderr)
        assert f"lab.yaml:{line}:" in r.stderr and why in r.stderr, r.stderr
        assert 'board "qemu-01": vars: server_bind' in r.stderr
