"""The command power driver through the CLI, against a real script that plays
a relay board (data/cmd_relay.sh keeps each channel's state in a file):
on, off, status by regex and by exit code, cycle order and off time, {board}
in the argv, a failing and a hanging relay tool, a missing program."""
import os
import pathlib
import signal
import time

import pytest

RELAY = pathlib.Path(__file__).resolve().parent / "data" / "cmd_relay.sh"


def lab_text(relay_dir, timeout="5s"):
    return f"""\
boards:
  - name: rpi4-01
    power:
      driver: command
      timeout: {timeout}
      on: [{RELAY}, {relay_dir}, "{{board}}", "on"]
      off: [{RELAY}, {relay_dir}, "{{board}}", "off"]
      status: [{RELAY}, {relay_dir}, "{{board}}", status]
      status_on: '^relay rpi4-01: on$'
      status_off: '^relay rpi4-01: off$'
  - name: rpi4-02
    power:
      driver: command
      timeout: {timeout}
      on: [{RELAY}, {relay_dir}, "{{board}}", "on"]
      off: [{RELAY}, {relay_dir}, "{{board}}", "off"]
      status: [{RELAY}, {relay_dir}, "{{board}}", get]
  - name: rpi4-03
    power:
      driver: command
      on: [{RELAY}, {relay_dir}, "{{board}}", "on"]
      off: [{RELAY}, {relay_dir}, "{{board}}", "off"]
  - name: rpi4-04
    power:
      driver: command
      on: [hilctl-test-no-such-relay-tool, "on"]
      off: [hilctl-test-no-such-relay-tool, "off"]
"""


@pytest.fixture
def relay(tmp_path):
    d = tmp_path / "relay"
    d.mkdir()
    return d


@pytest.fixture
def lab(tmp_path, relay):
    p = tmp_path / "lab.yaml"
    p.write_text(lab_text(relay))
    return p


def history(relay):
    path = relay / "history"
    if not path.exists():
        return []
    return [line.split() for line in path.read_text().splitlines()]


def status(hilctl, lab, board):
    r = hilctl("--lab", lab, "power", board, "status")
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_on_off_switch_the_relay_and_status_reads_it_back(hilctl, lab, relay):
    assert status(hilctl, lab, "rpi4-01") == "unknown"  # never switched: no guess
    r = hilctl("--lab", lab, "power", "rpi4-01", "on")
    assert r.returncode == 0, r.stderr
    assert (relay / "relay-rpi4-01").read_text() == "on\n"
    assert status(hilctl, lab, "rpi4-01") == "on"
    r = hilctl("--lab", lab, "power", "rpi4-01", "off")
    assert r.returncode == 0, r.stderr
    assert (relay / "relay-rpi4-01").read_text() == "off\n"
    assert status(hilctl, lab, "rpi4-01") == "off"
    assert [h[1:] for h in history(relay)] == [["rpi4-01", "on"], ["rpi4-01", "off"]]


def test_status_by_exit_code(hilctl, lab, relay):
    r = hilctl("--lab", lab, "power", "rpi4-02", "status")
    assert r.returncode == 3  # exit 2 from the tool: it cannot tell, and says why
    assert 'board "rpi4-02": status command' in r.stderr
    assert "exited with status 2: relay rpi4-02 was never switched" in r.stderr
    assert hilctl("--lab", lab, "power", "rpi4-02", "on").returncode == 0
    assert status(hilctl, lab, "rpi4-02") == "on"
    assert hilctl("--lab", lab, "power", "rpi4-02", "off").returncode == 0
    assert status(hilctl, lab, "rpi4-02") == "off"


def test_no_status_command_is_unknown(hilctl, lab, relay):
    assert hilctl("--lab", lab, "power", "rpi4-03", "on").returncode == 0
    assert status(hilctl, lab, "rpi4-03") == "unknown"


def test_cycle_switches_off_then_on_after_the_off_time(hilctl, lab, relay):
    assert hilctl("--lab", lab, "power", "rpi4-01", "on").returncode == 0
    r = hilctl("--lab", lab, "power", "rpi4-01", "cycle", "--off-time", "400")
    assert r.returncode == 0, r.stderr
    h = history(relay)
    assert [x[2] for x in h] == ["on", "off", "on"]
    off_at, on_at = float(h[1][0]), float(h[2][0])
    assert on_at - off_at >= 0.4
    assert status(hilctl, lab, "rpi4-01") == "on"


def test_board_name_selects_the_channel(hilctl, lab, relay):
    assert hilctl("--lab", lab, "power", "rpi4-01", "on").returncode == 0
    assert hilctl("--lab", lab, "power", "rpi4-02", "off").returncode == 0
    assert (relay / "relay-rpi4-01").read_text() == "on\n"
    assert (relay / "relay-rpi4-02").read_text() == "off\n"


def test_failing_relay_tool_is_infrastructure_error_with_its_message(hilctl, lab, relay):
    (relay / "fail").touch()
    r = hilctl("--lab", lab, "power", "rpi4-01", "on")
    assert r.returncode == 3
    assert r.stderr.startswith('hilctl: board "rpi4-01": on command "')
    assert "exited with status 1: usbrelay: no relay board found on the USB bus" in r.stderr
    assert history(relay) == []


def test_hanging_relay_tool_is_killed_at_the_timeout(hilctl, tmp_path, relay):
    lab = tmp_path / "lab-fast.yaml"
    lab.write_text(lab_text(relay, timeout="500ms"))
    (relay / "hang").touch()
    start = time.monotonic()
    r = hilctl("--lab", lab, "power", "rpi4-01", "off", timeout=30)
    took = time.monotonic() - start
    assert r.returncode != 0
    assert 'board "rpi4-01": off command' in r.stderr
    assert "did not finish within 500 ms; killed it" in r.stderr
    assert "opening relay board" in r.stderr
    assert took < 5
    # The tool's child went with it (the whole process group is killed).
    pid = int((relay / "hung.pid").read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(") ")[1].startswith("Z"):
                    break  # killed; waits for its new parent to reap it
        except FileNotFoundError:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        pytest.fail(f"relay tool's child {pid} survived the timeout")


def test_missing_program_is_named(hilctl, lab):
    r = hilctl("--lab", lab, "power", "rpi4-04", "on")
    assert r.returncode == 2
    assert ('board "rpi4-04": cannot run the on command "hilctl-test-no-such-relay-tool": '
            "No such file or directory") in r.stderr
