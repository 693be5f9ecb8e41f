"""The faithful power-loss model on real QEMU (docs/power-loss.md).

- A real blklogwrites log, replayed whole onto the base image by `hilctl wlog
  build`, gives QEMU's own final image byte for byte.
- The seeded bug "rename without fsync" (refdut variant no-fsync: its writes
  are issued but never flushed before the reboot) is found by a power-cut
  sweep under the strict model, and not by the same sweep with plain QEMU
  quit; the good agent passes the same sweep under strict (no false alarm).

The reference board is built by `make refdut`; QEMU runs under TCG. The
sweep uses scenarios/cut-reboot.yaml with a shorter boot timeout and no
power-cycle ladder, so that a brick is called in 40 s instead of minutes."""
import json
import socket
import subprocess
import time

import pytest

from conftest import LAB, ROOT, SCEN, journal_runs  # noqa: E402

OUT = ROOT / "build" / "refdut"

pytestmark = pytest.mark.usefixtures("refdut")


def qmp_quit(path, deadline):
    """QMP capabilities, then quit (QEMU closes its disks cleanly)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(max(1, deadline - time.monotonic()))
    s.connect(str(path))
    f = s.makefile("rw")
    f.readline()  # greeting
    for cmd in ("qmp_capabilities", "quit"):
        f.write(json.dumps({"execute": cmd}) + "\n")
        f.flush()
        f.readline()
    s.close()


def test_replaying_a_real_log_gives_qemus_own_image(hilctl, run_dir):
    base = OUT / "good" / "disk.pristine.img"
    overlay, log = run_dir / "ov.qcow2", run_dir / "w.log"
    console, qmp = run_dir / "console.txt", run_dir / "qmp.sock"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "raw",
                    str(overlay)], check=True, timeout=60)
    log.write_bytes(b"")
    drive = ("if=none,id=disk0,driver=blklogwrites,file.driver=qcow2,"
             f"file.file.filename={overlay},log.driver=file,log.filename={log},"
             "log.cache.no-flush=on,log-sector-size=512,log-super-update-interval=1")
    qemu = subprocess.Popen(
        ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a53", "-m", "512", "-nodefaults",
         "-display", "none", "-bios", str(OUT / "u-boot.bin"),
         "-drive", f"if=pflash,unit=1,format=raw,file={OUT / 'good' / 'env.img'},readonly=on",
         "-drive", drive, "-device", "virtio-blk-pci,drive=disk0",
         "-serial", f"file:{console}", "-qmp", f"unix:{qmp},server=on,wait=off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 150
        # A boot writes the boot state (U-Boot), mounts /data, marks the slot good.
        while time.monotonic() < deadline and qemu.poll() is None:
            if console.exists() and "hilctl-probe:" in console.read_text(errors="replace"):
                break
            time.sleep(0.5)
        assert "hilctl-probe:" in console.read_text(errors="replace"), "the board did not boot"
        qmp_quit(qmp, deadline)
        qemu.wait(timeout=60)
    finally:
        if qemu.poll() is None:
            qemu.kill()
            qemu.wait()
    r = hilctl("wlog", "show", log)
    assert r.returncode == 0, r.stderr
    stats = dict(line.split() for line in r.stdout.splitlines())
    assert int(stats["writes"]) >= 3 and int(stats["flushes"]) >= 1, r.stdout
    replay = run_dir / "replay.qcow2"
    r = hilctl("wlog", "build", log, "--base", base, "--model", "all", "--out", replay,
               timeout=120)
    assert r.returncode == 0, r.stderr
    cmp = subprocess.run(["qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", str(replay),
                          str(overlay)], capture_output=True, text=True, timeout=120)
    assert cmp.returncode == 0 and "identical" in cmp.stdout, cmp.stdout + cmp.stderr
    # And the log is not trivially empty of effect: the base differs.
    cmp = subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "qcow2", str(base),
                          str(overlay)], capture_output=True, text=True, timeout=120)
    assert cmp.returncode == 1, cmp.stdout


def lab_with_three_boards(tmp_path):
    """fixtures/lab-qemu.yaml with absolute paths and a third board."""
    text = LAB.read_text().replace("../build/refdut", str(OUT))
    third = text[text.index("  - name: qemu-02"):].replace("qemu-02", "qemu-03")
    lab = tmp_path / "lab.yaml"
    lab.write_text(text.rstrip("\n") + "\n\n" + third)
    return lab


def sweep_scenario(tmp_path):
    text = (SCEN / "cut-reboot.yaml").read_text()
    text += "oracle: {boot_timeout: 40s, ladder: 0}\n"
    path = tmp_path / "cut-reboot.yaml"
    path.write_text(text)
    return path


def start(hilctl_bin, lab, scenario, out, board, variant, model, seed=1):
    return subprocess.Popen([hilctl_bin, "--lab", str(lab), "--set", f"variant={variant}",
                             "--set", f"power_loss={model}", "run", str(scenario),
                             "--board", board, "--sweep", "0,300", "--bisect", "0",
                             "--seed", str(seed),
                             "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc, timeout=600):
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def test_rename_without_fsync_found_under_strict_not_under_quit(hilctl_bin, tmp_path, run_dir):
    lab, scenario = lab_with_three_boards(tmp_path), sweep_scenario(tmp_path)
    # One sweep (points 0 and 300 ms after the agent's last word) per board,
    # at once: no-fsync under strict, no-fsync under quit, good under strict.
    strict = start(hilctl_bin, lab, scenario, tmp_path / "strict", "qemu-01", "no-fsync",
                   "strict")
    quit = start(hilctl_bin, lab, scenario, tmp_path / "quit", "qemu-02", "no-fsync", "quit")
    good = start(hilctl_bin, lab, scenario, tmp_path / "good", "qemu-03", "good", "strict")
    (src, stext), (qrc, qtext), (grc, gtext) = finish(strict), finish(quit), finish(good)

    # Plain QEMU quit keeps every issued write: the bug stays hidden.
    assert qrc == 0, qtext
    assert [r["verdict"] for r in journal_runs(tmp_path / "quit")] == ["upgraded"] * 2, qtext
    # The good agent under strict: no false alarm.
    assert grc == 0, gtext
    good_runs = journal_runs(tmp_path / "good")
    assert len(good_runs) == 2 and all(r["pass"] for r in good_runs), gtext

    # Strict keeps a random half of the unflushed writes: the FAT, boot.scr's
    # directory entry and its data disagree in about 5 cuts of 8. A sweep
    # that found nothing is run again with other seeds (at most twice).
    outs = [tmp_path / "strict"]
    for seed in (2, 3):
        if src != 0:
            break
        outs.append(tmp_path / f"strict{seed}")
        src, stext = finish(start(hilctl_bin, lab, scenario, outs[-1], "qemu-01", "no-fsync",
                                  "strict", seed))
    assert src == 1, stext
    failed = [(out, r) for out in outs for r in journal_runs(out) if not r["pass"]]
    assert failed, stext
    out, run = failed[0]
    assert run["verdict"] in ("bricked", "boot_loop", "inconsistent"), run
    timeline = (out / run["timeline"]).read_text()
    assert '"k":"power_loss"' in timeline and "model strict" in timeline, timeline[-2000:]
    assert "dropped" in timeline
