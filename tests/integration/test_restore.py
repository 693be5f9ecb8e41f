"""A rack that restores its boards (docs/rack.md), with QEMU as the SD mux's
stand-in: each reference board boots from a plain disk image file (overlay
off) that hilctl's image writer fills with the baseline image and its bmap
before the runs that need it (storage: mux: {driver: qemu}). Nothing else
puts v1 back on the board: a run starts from v1 only because the writer put
it there, and the journal says so for every run.

CI runs RESTORE_RUNS update runs (default 20: about 3 min at -j2 here) on two
boards, the same board with restore: never (the control: run 2 fails), a
bricked board followed by a reflash and a passing run, a board whose restore
fails (taken out, its runs done by the other board), and the lab file's
checks."""
import json
import os
import pathlib
import subprocess
import time

import pytest

from conftest import ROOT, journal_runs

DATA = pathlib.Path(__file__).resolve().parent / "data"
UPDATE = DATA / "restore-update.yaml"
BRICK = DATA / "restore-brick.yaml"
REF = ROOT / "build" / "refdut"
IMAGE = REF / "good" / "disk.pristine.img"

PROBES = """\
    probes:
      version: 'hilctl-probe: version=(?<version>\\S+) slot=(?<slot>[AB]) committed=(?<committed>[01])'
      banner: '^U-Boot 20\\d\\d'
      commit: 'hilctl-agent: commit slot='
      panic: 'Kernel panic'
      phase: '^hilctl-(?:agent|app): (?<phase>[a-z]+)'
      alive: {send: 'echo hilctl-alive-$((6*7))', expect: 'hilctl-alive-42', timeout: 10s}
      evidence: ['^hilctl-boot: ']
"""


def board(name, disk, storage_extra="", overlay=False, mux_file=None):
    """One reference board whose disk is the file disk, restored by the
    qemu storage mux."""
    return f"""\
  - name: {name}
    tags: [refdut, restore]
    power:
      driver: qemu
      binary: qemu-system-aarch64
      machine: virt
      cpu: cortex-a53
      memory: 512M
      accel: tcg
      bios: {REF}/u-boot.bin
      drives:
        - {{if: pflash, unit: 1, format: raw, file: '{REF}/good/env.img', readonly: 'on'}}
        - {{if: none, id: disk0, format: raw, file: '{disk}'{', overlay: true' if overlay else ''}}}
      args: [-device, 'virtio-blk-pci,drive=disk0']
      timeout: 20s
    console: {{type: qemu}}
    network: {{driver: qemu}}
{PROBES}    vars: {{bundles: '{REF}/good/bundles', server_host: 10.0.2.100}}
    storage:
      mux: {{driver: qemu, file: '{mux_file or disk}'}}
      image: '{IMAGE}'
{storage_extra}"""


def lab(path, boards):
    path.write_text("lab: restore-test\nboards:\n" + "".join(boards))
    return path


def campaign(hilctl_bin, lab_path, out, scenarios, jobs, extra=(), timeout=900):
    t0 = time.monotonic()
    p = subprocess.run([hilctl_bin, "--lab", str(lab_path), "run", *map(str, scenarios),
                        "-j", str(jobs), "--out", str(out), *extra],
                       capture_output=True, text=True, timeout=timeout)
    return p, time.monotonic() - t0


def mapped_bytes(bmap_path):
    """The bytes bmaptool create mapped (its MappedBlocksCount x BlockSize)."""
    import xml.etree.ElementTree as ET
    root = ET.parse(bmap_path).getroot()
    return int(root.findtext("MappedBlocksCount")) * int(root.findtext("BlockSize"))


def check_reflash(run, why):
    r = run["restore"]
    assert r["action"] == "reflash" and r["ok"] is True, run
    assert why in r["why"], r
    assert r["bmap"] is True
    assert r["image_bytes"] == IMAGE.stat().st_size
    # Only the mapped ranges (the slots are mostly empty), every one read back.
    assert r["bytes_written"] == mapped_bytes(str(IMAGE) + ".bmap")
    assert r["bytes_written"] < r["image_bytes"], r
    assert r["bytes_verified"] == r["bytes_written"]
    assert r["seconds"] > 0 and r["mb_per_s"] > 0


def update_campaign(hilctl_bin, tmp_path, n_runs):
    disks = [tmp_path / "rst-01.img", tmp_path / "rst-02.img"]
    for d in disks:  # a board "found" on v2: whatever the last user left
        d.write_bytes(b"left by someone else")
    lab_path = lab(tmp_path / "lab.yaml", [board("rst-01", disks[0]), board("rst-02", disks[1])])
    out = tmp_path / "out"
    p, elapsed = campaign(hilctl_bin, lab_path, out, [UPDATE], 2,
                          ["--repeat", str(n_runs)], timeout=120 + 90 * n_runs)
    assert p.returncode == 0, p.stderr
    assert "gate: PASS" in p.stderr
    # The reports are made from the journal with its restore records.
    assert "could not read" not in p.stderr and (out / "summary.json").exists()
    runs = sorted(journal_runs(out), key=lambda r: r["id"])
    assert len(runs) == n_runs
    seen = set()
    for r in runs:
        # The first step expects v1 committed in slot A: each run got there
        # only because the writer put the image back.
        assert r["verdict"] == "upgraded" and r["pass"], r
        check_reflash(r, "state unknown" if r["board"] not in seen else
                      "the last run left it upgraded")
        seen.add(r["board"])
    assert seen == {"rst-01", "rst-02"}
    restore_s = sum(r["restore"]["seconds"] for r in runs)
    cycle_s = sum(r["duration_s"] for r in runs)
    print(f"\n{n_runs} runs at -j2 in {elapsed:.1f} s; restore {restore_s / n_runs:.2f} s of "
          f"{cycle_s / n_runs:.1f} s per run ({100 * restore_s / cycle_s:.1f} %)")
    return runs


def test_every_run_starts_from_the_baseline(hilctl_bin, run_dir, tmp_path, refdut):
    update_campaign(hilctl_bin, tmp_path, int(os.environ.get("RESTORE_RUNS", "20")))


def test_without_restore_the_second_run_finds_v2(hilctl_bin, run_dir, tmp_path, refdut):
    """The control: restore: never leaves the board as the last run left it,
    and the second run's first step fails (what every rack did before)."""
    disk = tmp_path / "rst-01.img"
    subprocess.run(["cp", "--sparse=always", str(IMAGE), str(disk)], check=True)
    lab_path = lab(tmp_path / "lab.yaml", [board("rst-01", disk, "      restore: never\n")])
    p, _ = campaign(hilctl_bin, lab_path, tmp_path / "out", [UPDATE], 1, ["--repeat", "2"])
    assert p.returncode == 3, p.stderr
    runs = sorted(journal_runs(tmp_path / "out"), key=lambda r: r["id"])
    assert [r["verdict"] for r in runs] == ["upgraded", "infra_error"]
    assert "precondition failed" in runs[1]["reason"]
    assert all(r["restore"]["action"] == "none" and r["restore"]["policy"] == "never"
               for r in runs)


def test_bricked_board_is_reflashed_and_passes(hilctl_bin, run_dir, tmp_path, refdut):
    disk = tmp_path / "rst-01.img"
    lab_path = lab(tmp_path / "lab.yaml", [board("rst-01", disk)])
    out = tmp_path / "out"
    p, _ = campaign(hilctl_bin, lab_path, out, [BRICK, UPDATE], 1)
    assert p.returncode == 0, p.stderr
    runs = sorted(journal_runs(out), key=lambda r: r["id"])
    assert [(r["scenario"], r["verdict"]) for r in runs] == [
        ("restore-brick", "bricked"), ("restore-update", "upgraded")], runs
    check_reflash(runs[0], "state unknown")
    check_reflash(runs[1], "the last run left it bricked")
    assert all(r["pass"] for r in runs)
    # The timeline of the run says how the board was restored.
    tl = (out / runs[1]["timeline"]).read_text()
    assert "restore: reflash" in tl and "restore: wrote" in tl


def test_failed_restore_takes_the_board_out(hilctl_bin, run_dir, tmp_path, refdut):
    """rst-02's card is not the size the lab file says: the writer refuses it,
    rst-02 leaves the campaign with an infra_error naming it and why, and
    rst-01 runs the rest."""
    disks = [tmp_path / "rst-01.img", tmp_path / "rst-02.img"]
    subprocess.run(["truncate", "-s", "64M", str(disks[1])], check=True)
    lab_path = lab(tmp_path / "lab.yaml", [
        board("rst-01", disks[0]), board("rst-02", disks[1], "      expect_size: 32M\n")])
    out = tmp_path / "out"
    p, _ = campaign(hilctl_bin, lab_path, out, [UPDATE], 2, ["--repeat", "3"])
    assert p.returncode == 3, p.stderr  # an infra_error: the gate is INCOMPLETE
    assert "boards lost: rst-02" in p.stderr
    runs = journal_runs(out)
    lost = [r for r in runs if r["board"] == "rst-02"]
    assert len(lost) == 1 and lost[0]["verdict"] == "infra_error" and lost[0]["board_lost"]
    assert 'board "rst-02": restore failed writing the image' in lost[0]["reason"]
    assert "size" in lost[0]["reason"]
    assert lost[0]["restore"]["ok"] is False and lost[0]["restore"]["error"]
    done = [r for r in runs if r["board"] == "rst-01"]
    assert len(done) == 2 and all(r["verdict"] == "upgraded" for r in done)
    assert disks[1].stat().st_size == 64 << 20  # nothing written to the refused card


@pytest.mark.parametrize("storage, message", [
    ("    storage:\n      mux: {driver: sdmux9}\n      image: x.img\n",
     "storage.mux.driver \"sdmux9\" is not one of command, usbsdmux, sdwire, qemu"),
    ("    storage:\n      mux: {driver: qemu, file: disk.img}\n      image: missing.img\n",
     "cannot use"),
    ("    storage:\n      mux: {driver: qemu, file: disk.img}\n      image: base.img\n"
     "      bmap: missing.bmap\n", "missing.bmap"),
    ("    storage:\n      mux: {driver: qemu, file: other.img}\n      image: base.img\n",
     "is not the file: of any of the board's power.drives"),
    ("    storage:\n      mux: {driver: qemu, file: disk.img}\n      image: base.img\n"
     "      restore: sometimes\n", "restore"),
    ("    storage:\n      mux: {driver: qemu, file: disk.img}\n      image: base.img\n"
     "      expect_size: lots\n", "\"lots\" is not a size"),
    ("    storage:\n      image: base.img\n", "needs mux:"),
])
def test_storage_section_checked_at_load(hilctl, tmp_path, storage, message):
    (tmp_path / "base.img").write_bytes(b"\0" * 4096)
    lab_path = tmp_path / "lab.yaml"
    lab_path.write_text(f"""\
boards:
  - name: rst-01
    power:
      driver: qemu
      binary: qemu-system-aarch64
      drives:
        - {{if: none, id: disk0, format: raw, file: disk.img}}
{storage}""")
    line = 1 + lab_path.read_text().splitlines().index("    storage:")
    p = hilctl("--lab", lab_path, "check")
    assert p.returncode == 2, p.stderr
    assert message in p.stderr, p.stderr
    assert f"lab.yaml:{line}" in p.stderr or f"lab.yaml:{line + 1}" in p.stderr or \
        f"lab.yaml:{line + 2}" in p.stderr or f"lab.yaml:{line + 3}" in p.stderr, p.stderr


def test_overlay_on_the_restored_drive_is_refused(hilctl, tmp_path):
    (tmp_path / "base.img").write_bytes(b"\0" * 4096)
    lab_path = lab(tmp_path / "lab.yaml", [board("rst-01", tmp_path / "disk.img", overlay=True)])
    lab_path.write_text(lab_path.read_text().replace(str(IMAGE), str(tmp_path / "base.img")))
    p = hilctl("--lab", lab_path, "check")
    assert p.returncode == 2, p.stderr
    assert "its overlay must be off" in p.stderr
