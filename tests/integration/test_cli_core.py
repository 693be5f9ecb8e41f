"""The core CLI as a user meets it: lab-file errors that point at the line,
board listing, and board locks between processes."""
import os
import subprocess
import sys
import textwrap

import pytest

LAB = """\
lab: desk
boards:
  - name: rpi4-01
    tags: [rpi4, arm64]
    power:
      driver: command
      on: [/bin/true]
      off: [/bin/true]
    console:
      type: tcp
      port: 7001
  - name: rpi4-03
    power:
      driver: gpoi
"""


def write(tmp_path, text, name="lab.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_help_lists_every_command(hilctl):
    r = hilctl("--help")
    assert r.returncode == 0
    for cmd in ("boards", "power", "console", "expect", "lock", "unlock"):
        assert cmd in r.stdout
    for cmd in ("boards", "power", "console", "expect", "lock", "unlock"):
        r = hilctl(cmd, "--help")
        assert r.returncode == 0, cmd
        assert r.stdout.startswith("usage: hilctl"), cmd


def test_unknown_driver_names_file_line_column_and_choices(hilctl, tmp_path):
    lab = write(tmp_path, LAB)
    r = hilctl("--lab", lab, "boards")
    assert r.returncode == 2
    assert (f'{lab}:14:15: board "rpi4-03": power.driver "gpoi" is not one of '
            "gpio, ftdi, qemu, pdudaemon, command") in r.stderr


@pytest.mark.parametrize("text,expect", [
    ("boards: [", "malformed YAML"),
    ("", "empty"),
    ("boards:\n  - name: a\n    power: {driver: qemu}\n  - name: a\n    power: {driver: qemu}\n",
     'board "a" is listed twice'),
    ("boards:\n  - name: a\n    powr: {driver: qemu}\n", "powr is not a known key"),
    ("boards:\n  - name: a\n", "needs a power: mapping"),
    ("boards:\n  - name: a\n    power: {driver: qemu}\n    console: {type: uart}\n",
     '"uart" is not one of serial, tcp, qemu'),
    ("boards:\n  - name: ../etc\n    power: {driver: qemu}\n", "not a usable board name"),
    ("\x00\xff\xfe garbage", ""),
])
def test_bad_lab_files_fail_cleanly(hilctl, tmp_path, text, expect):
    lab = tmp_path / "lab.yaml"
    lab.write_bytes(text.encode("latin-1"))
    r = hilctl("--lab", lab, "boards")
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("hilctl: ")
    assert expect in r.stderr
    assert r.stderr.count("\n") == 1, "one line that names the problem"


def test_missing_lab_file_is_named(hilctl, tmp_path):
    r = hilctl("--lab", tmp_path / "nope.yaml", "boards")
    assert r.returncode == 2
    assert "nope.yaml: No such file or directory" in r.stderr


def test_boards_lists_wiring_and_tags(hilctl, tmp_path):
    lab = write(tmp_path, LAB.split("  - name: rpi4-03")[0])
    r = hilctl("--lab", lab, "boards")
    assert r.returncode == 0, r.stderr
    line = [l for l in r.stdout.splitlines() if l.startswith("rpi4-01")][0]
    assert line.split()[:4] == ["rpi4-01", "command", "tcp", "rpi4,arm64"]
    assert line.endswith("free")


def test_unknown_board_is_a_usage_error(hilctl, tmp_path):
    lab = write(tmp_path, LAB.split("  - name: rpi4-03")[0])
    r = hilctl("--lab", lab, "power", "rpi9", "status")
    assert r.returncode == 2
    assert 'no board "rpi9"' in r.stderr


def test_lock_conflict_names_holder_and_stale_lock_is_reclaimed(hilctl, hilctl_bin, tmp_path):
    lab = write(tmp_path, LAB.split("  - name: rpi4-03")[0])
    # A holder process that lives until we end it.
    holder = subprocess.Popen(["sleep", "60"])
    try:
        r = hilctl("--lab", lab, "lock", "rpi4-01", "--pid", holder.pid)
        assert r.returncode == 0, r.stderr
        r = hilctl("--lab", lab, "boards")
        assert f"pid {holder.pid} (sleep 60)" in r.stdout
        r = hilctl("--lab", lab, "lock", "rpi4-01")
        assert r.returncode == 1
        assert f'board "rpi4-01" is locked by pid {holder.pid} (sleep 60)' in r.stderr
        r = hilctl("--lab", lab, "unlock", "rpi4-01")
        assert r.returncode == 1, "only the holder or --force may unlock"
    finally:
        holder.kill()
        holder.wait()
    # The holder died: its lock is stale and the next taker gets the board.
    r = hilctl("--lab", lab, "lock", "rpi4-01")
    assert r.returncode == 0, r.stderr
    r = hilctl("--lab", lab, "unlock", "rpi4-01")
    assert r.returncode == 0
    r = hilctl("--lab", lab, "boards")
    assert r.stdout.splitlines()[1].endswith("free")


def test_lock_held_by_this_shell_lets_its_commands_through(hilctl_bin, tmp_path, run_dir):
    lab = write(tmp_path, LAB.split("  - name: rpi4-03")[0])
    script = f"""
        set -e
        {hilctl_bin} --lab {lab} lock rpi4-01
        {hilctl_bin} --lab {lab} lock rpi4-01      # again, same shell: fine
        {hilctl_bin} --lab {lab} boards | grep -q "pid $$"
        {hilctl_bin} --lab {lab} unlock rpi4-01
    """
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
