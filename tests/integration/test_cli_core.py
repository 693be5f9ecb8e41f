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
    ("boards:\n  - name: a\n    power: {driver: qemu}\n    probes:\n"
     "      version: 'rauc: version=(?<version>\\S+) slot=(?<slot>\\S+)'\n",
     "lab.yaml:5:16: board \"a\": probes.version gives no way to observe a commit"),
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


ROOT_DIR = __import__("pathlib").Path(__file__).resolve().parents[2]


def plan(hilctl, *args, env=None):
    lab = ROOT_DIR / "fixtures" / "lab-qemu.yaml"
    r = hilctl("--lab", lab, "run", ROOT_DIR / "scenarios" / "cut-write.yaml",
               ROOT_DIR / "scenarios" / "cut-flip.yaml", "--dry-run", *args, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()[:-1]


def test_shards_split_the_campaign_exactly(hilctl):
    full = plan(hilctl)
    parts = [plan(hilctl, "--shard", f"{i}/3") for i in range(3)]
    assert sorted(sum(parts, [])) == sorted(full), "every run in exactly one shard"
    assert all(parts), "no shard is empty here"
    # A pure function of the campaign: asking again gives the same slice.
    assert plan(hilctl, "--shard", "1/3") == parts[1]


@pytest.mark.parametrize("env,index,count", [
    ({"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "5", "SLURM_ARRAY_TASK_COUNT": "3"}, 2, 3),
    ({"CI_NODE_INDEX": "1", "CI_NODE_TOTAL": "2"}, 0, 2),
])
def test_shard_auto_reads_the_scheduler(hilctl, env, index, count):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("SLURM_", "CI_NODE", "JOB_COMPLETION"))}
    assert plan(hilctl, "--shard", "auto", env={**e, **env}) == \
        plan(hilctl, "--shard", f"{index}/{count}", env=e)


def test_shard_auto_without_a_scheduler_is_an_error(hilctl):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("SLURM_", "CI_NODE", "JOB_COMPLETION"))}
    lab = ROOT_DIR / "fixtures" / "lab-qemu.yaml"
    r = hilctl("--lab", lab, "run", ROOT_DIR / "scenarios" / "cut-write.yaml", "--shard", "auto",
               "--dry-run", env=e)
    assert r.returncode == 2
    assert "give --shard I/N" in r.stderr
    r = hilctl("--lab", lab, "run", ROOT_DIR / "scenarios" / "cut-write.yaml", "--shard", "auto",
               "--dry-run", env={**e, "JOB_COMPLETION_INDEX": "0"})
    assert r.returncode == 2 and "--shards N" in r.stderr
