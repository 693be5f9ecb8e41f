"""The qemu power driver and the qemu console against real QEMU (TCG), with
two small guests from tests/guest/build.sh: x86-64 and aarch64, so that
nothing in hilctl assumes one architecture.

Each test boots at most one QEMU at a time and powers it off at the end; a
safety net kills anything still running from the test's run directory."""
import json
import os
import pathlib
import re
import signal
import subprocess
import tempfile
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

LAB = ROOT / "fixtures" / "lab-qemu-guest.yaml"
GUESTS = ROOT / "build" / "guest"
ARCHS = ["x86_64", "aarch64"]
FIRST_KERNEL_LINE = re.compile(r"Linux version|Booting Linux")


@pytest.fixture(scope="session")
def guests():
    """Build (or find up to date) the two test guests once per session."""
    subprocess.run([str(ROOT / "tests" / "guest" / "build.sh")], check=True, timeout=1200)
    for arch in ARCHS:
        assert (GUESTS / arch / "kernel").stat().st_size > 0
        assert (GUESTS / arch / "initrd.img").stat().st_size > 0
    return GUESTS


def qemu_processes(run_dir):
    """Live processes whose command line names a socket in run_dir."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(run_dir).encode() in cmdline and b"-qmp" in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def wait_no_qemu(run_dir, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not qemu_processes(run_dir):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def qrun(run_dir, monkeypatch):
    """A short run directory: unix socket paths must fit in 107 bytes, and
    pytest's tmp_path is long. Everything QEMU left is killed at the end."""
    short = pathlib.Path(tempfile.mkdtemp(prefix="hq", dir="/tmp"))
    monkeypatch.setenv("HILCTL_RUN_DIR", str(short))
    yield short
    for pid in qemu_processes(short):
        os.kill(pid, signal.SIGKILL)
    subprocess.run(["rm", "-rf", str(short)], check=False)


@pytest.fixture
def lab_cli(hilctl, qrun, guests):
    """hilctl --lab fixtures/lab-qemu-guest.yaml ...; powers both guests
    off at the end."""
    def run(*args, lab=LAB, **kw):
        return hilctl("--lab", lab, *args, **kw)
    yield run
    for arch in ARCHS:
        run("power", f"guest-{arch}", "off", timeout=30)


def board_dir(qrun, arch):
    return qrun / f"guest-{arch}"


def wait_for_text(path, text, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return True
        time.sleep(0.1)
    return False


def timeline_console_lines(path):
    lines = []
    for raw in path.read_text().splitlines()[1:]:
        record = json.loads(raw)
        if record["k"] == "con":
            lines.append(record["d"])
    return lines


@pytest.mark.parametrize("arch", ARCHS)
def test_power_on_status_off(lab_cli, qrun, arch):
    board = f"guest-{arch}"
    r = lab_cli("power", board, "on", timeout=40)
    assert r.returncode == 0, r.stderr
    pid = int((board_dir(qrun, arch) / "qemu.pid").read_text())
    assert lab_cli("power", board, "status").stdout == "on\n"
    # Persisted: it booted with nobody attached; its output is in console.log.
    log = board_dir(qrun, arch) / "console.log"
    assert wait_for_text(log, f"hilctl-guest: ready arch={arch}", 90), log.read_text()[-2000:]
    # On when on: the same QEMU.
    assert lab_cli("power", board, "on").returncode == 0
    assert int((board_dir(qrun, arch) / "qemu.pid").read_text()) == pid
    # The console is a live two-way stream to the running guest's shell.
    r = lab_cli("expect", board, "answer-42", "--send", "echo answer-$((6*7))",
                "--timeout", "30")
    assert r.returncode == 0, r.stderr
    assert "matched 1: " in r.stdout
    r = lab_cli("power", board, "off", timeout=30)
    assert r.returncode == 0, r.stderr
    assert lab_cli("power", board, "status").stdout == "off\n"
    assert wait_no_qemu(qrun), qemu_processes(qrun)
    left = sorted(p.name for p in board_dir(qrun, arch).iterdir())
    assert "qmp.sock" not in left and "console.sock" not in left and "qemu.pid" not in left


@pytest.mark.parametrize("arch", ARCHS)
def test_expect_on_sees_the_kernels_first_line(lab_cli, qrun, arch):
    board = f"guest-{arch}"
    r = lab_cli("expect", board, f"hilctl-guest: ready arch={arch}", "--on",
                "--timeout", "90", timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("matched 1: ")
    # The console was connected before the CPUs ran: the first console line
    # of the timeline is the kernel's first line, nothing was lost.
    lines = timeline_console_lines(board_dir(qrun, arch) / "timeline.jsonl")
    assert lines, "no console output in the timeline"
    assert FIRST_KERNEL_LINE.search(lines[0]), lines[:3]
    log = (board_dir(qrun, arch) / "console.log").read_text(errors="replace")
    assert FIRST_KERNEL_LINE.search(log.splitlines()[0])
    assert lab_cli("power", board, "off").returncode == 0
    assert wait_no_qemu(qrun)


def test_qemu_killed_from_outside_is_off_with_a_message(lab_cli, qrun):
    board = "guest-aarch64"
    assert lab_cli("power", board, "on", timeout=40).returncode == 0
    pid = int((board_dir(qrun, "aarch64") / "qemu.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    assert wait_no_qemu(qrun)
    r = lab_cli("power", board, "status")
    assert r.returncode == 0
    assert r.stdout == "off\n"
    assert f"QEMU (pid {pid}) is gone without a power off" in r.stderr
    # Said once; the board can be powered on again.
    r = lab_cli("power", board, "status")
    assert (r.stdout, r.stderr) == ("off\n", "")
    assert lab_cli("power", board, "on", timeout=40).returncode == 0
    assert lab_cli("power", board, "status").stdout == "on\n"


def test_power_cycle_restarts_the_machine(lab_cli, qrun):
    board = "guest-x86_64"
    assert lab_cli("power", board, "on", timeout=40).returncode == 0
    first = int((board_dir(qrun, "x86_64") / "qemu.pid").read_text())
    r = lab_cli("power", board, "cycle", "--off-time", "100", timeout=60)
    assert r.returncode == 0, r.stderr
    second = int((board_dir(qrun, "x86_64") / "qemu.pid").read_text())
    assert second != first
    assert lab_cli("power", board, "status").stdout == "on\n"


def test_guest_reboot_keeps_qemu_and_guest_poweroff_is_off(lab_cli, qrun):
    board = "guest-x86_64"
    assert lab_cli("power", board, "on", timeout=40).returncode == 0
    pid = int((board_dir(qrun, "x86_64") / "qemu.pid").read_text())
    assert wait_for_text(board_dir(qrun, "x86_64") / "console.log", "hilctl-guest: ready", 90)
    # No -no-reboot: a guest reboot is the same QEMU, the console goes on.
    r = lab_cli("expect", board, "hilctl-guest: ready", "--send", "reboot -f",
                "--timeout", "90", timeout=120)
    assert r.returncode == 0, r.stderr
    assert int((board_dir(qrun, "x86_64") / "qemu.pid").read_text()) == pid
    assert lab_cli("power", board, "status").stdout == "on\n"
    # The guest powering itself off is power off, and no crash.
    r = lab_cli("expect", board, "reboot: Power down", "--send", "poweroff -f",
                "--timeout", "30", timeout=60)
    assert r.returncode == 0, r.stderr
    assert wait_no_qemu(qrun)
    r = lab_cli("power", board, "status")
    assert (r.stdout, r.stderr) == ("off\n", "")


def write_lab(tmp_path, power_lines):
    """A one-board lab (board "g") with the x86-64 guest and extra settings."""
    lab = tmp_path / "lab.yaml"
    lab.write_text(
        "boards:\n"
        "  - name: g\n"
        "    power:\n"
        "      driver: qemu\n"
        f"      kernel: {GUESTS / 'x86_64' / 'kernel'}\n"
        f"      initrd: {GUESTS / 'x86_64' / 'initrd.img'}\n"
        "      append: console=ttyS0\n"
        "      machine: q35\n"
        "      timeout: 20s\n"
        + "".join(f"      {line}\n" for line in power_lines)
        + "    console: {type: qemu}\n")
    return lab


def test_missing_qemu_binary_is_a_clear_error(hilctl, qrun, guests, tmp_path):
    lab = write_lab(tmp_path, ["binary: /nonexistent/qemu-system-x86_64"])
    r = hilctl("--lab", lab, "power", "g", "on")
    assert r.returncode in (2, 3)
    assert 'board "g": cannot run QEMU "/nonexistent/qemu-system-x86_64": No such file' in r.stderr
    assert hilctl("--lab", lab, "power", "g", "status").stdout == "off\n"


def test_bad_qemu_argument_reports_qemus_own_error(hilctl, qrun, guests, tmp_path):
    lab = write_lab(tmp_path, ["binary: qemu-system-x86_64", "args: [-no-such-option]"])
    r = hilctl("--lab", lab, "power", "g", "on")
    assert r.returncode == 3
    assert 'board "g": QEMU exited at start (exit status 1)' in r.stderr
    assert "qemu-system-x86_64: -no-such-option: invalid option" in r.stderr
    assert wait_no_qemu(qrun, 2)
    assert hilctl("--lab", lab, "power", "g", "status").stdout == "off\n"


def test_missing_kernel_reports_qemus_own_error(hilctl, qrun, guests, tmp_path):
    lab = write_lab(tmp_path, ["binary: qemu-system-x86_64"])
    lab.write_text(lab.read_text().replace(str(GUESTS / "x86_64" / "kernel"),
                                           "no-such-kernel"))
    r = hilctl("--lab", lab, "power", "g", "on")
    assert r.returncode == 3
    # Relative paths are taken from the lab file's directory.
    assert str(tmp_path / "no-such-kernel") in r.stderr
    assert wait_no_qemu(qrun, 2)


def test_bad_settings_are_configuration_errors(hilctl, qrun, guests, tmp_path):
    lab = write_lab(tmp_path, ["binary: qemu-system-x86_64", "accel: hvf"])
    r = hilctl("--lab", lab, "power", "g", "status")
    assert r.returncode == 2
    assert re.search(r"lab\.yaml:\d+:\d+: .*accel \"hvf\" is not one of auto, tcg, kvm",
                     r.stderr), r.stderr
