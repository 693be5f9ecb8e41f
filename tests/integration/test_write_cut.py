"""A power cut at a disk write (`write: N` in a power_cut fault) on the real
reference board: the disk the board boots after the cut holds the log up to
that write and nothing after it (60 writes before "flip slot=" the old slot
still runs), under model "all" on a lab without power_loss:; the seeded
state-inplace bug, whose window is one or two disk writes that a time-based
cut practically never hits, is caught, and the failing run's rerun
command carries the --set that chose the variant. Scenario files that misuse
write: are refused with file:line in test_engine.py. See docs/power-loss.md."""
import json
import re
import shlex

import pytest

from conftest import LAB, SCEN, journal_runs  # noqa: E402

pytestmark = pytest.mark.usefixtures("refdut")


def runs_by_point(out):
    return {run["point"]: run for run in journal_runs(out)}


def test_a_cut_at_a_write_keeps_the_log_up_to_that_write_only(hilctl, tmp_path):
    out = tmp_path / "out"
    r = hilctl("--lab", LAB, "run", SCEN / "cut-flip-writes.yaml", "--sweep", "-1,-60",
               "--bisect", "0", "-j", "2", "--out", out, timeout=900)
    assert r.returncode == 0, r.stderr
    runs = runs_by_point(out)
    # 60 writes before "flip slot=" the agent is still copying the boot
    # files: the disk that boots has no new boot state, so the old slot
    # runs. (A time-based cut at that marker always comes after the flip.)
    assert runs["-60"]["verdict"] == "rolled_back", runs["-60"]["reason"]
    for point, run in runs.items():
        fault = run["fault"]
        assert fault["injected"] is True and fault["phase"] in ("bootfiles", "flip")
        events = [json.loads(l) for l in (out / run["timeline"]).read_text().splitlines()]
        note = next(e["d"] for e in events if "power cut at disk write #" in e.get("d", ""))
        nth = int(note.split("#")[1].split()[0])
        seen = int(re.search(r"\((\d+) seen now\)", note)[1])
        assert nth == seen + int(point), note
        assert f"write {point} (#{nth} of the disk)" in fault["trigger"], fault["trigger"]
        # The lab has no power_loss: model: the run logs with "all", and the
        # disk is rebuilt from the log up to that write; later ones are gone.
        loss = next(e["d"] for e in events if e.get("k") == "power_loss")
        m = re.search(r"cut after write (\d+) \((\d+) entries of (\d+)\), model all", loss)
        assert m and int(m[1]) == nth, loss
        assert int(m[2]) < int(m[3]), loss


def test_state_rewritten_in_place_is_caught_by_a_cut_at_a_write(hilctl, tmp_path):
    # The count at the marker is the one hilctl reads when the line arrives;
    # a loaded host reads it late, after the board's next writes (the umount
    # and the reboot after the flip: 3 and more were seen at load 8), so the
    # points cover the last six writes before "flip slot=" (docs/power-loss.md).
    out = tmp_path / "out"
    r = hilctl("--lab", LAB, "--set", "variant=state-inplace", "run",
               SCEN / "cut-flip-writes.yaml", "--sweep", "-1,-2,-3,-4,-5,-6", "--bisect", "0",
               "-j", "2", "--out", out, timeout=900)
    assert r.returncode == 1, r.stderr
    caught = [run for run in runs_by_point(out).values() if not run["pass"]]
    assert caught, "no cut landed inside the in-place state write"
    for run in caught:
        assert run["verdict"] == "inconsistent", run["reason"]
        assert "state unreadable" in (out / run["timeline"]).read_text()
        # The failing run kept its post-fault disk: reproduce boots it, and
        # the rerun from scratch carries the --set that chose the variant.
        assert run["reproduce"] == f"hilctl reproduce {out} {run['id']}"
        argv = shlex.split(run["rerun"])
        assert argv[argv.index("--set") + 1] == "variant=state-inplace"
        assert argv[argv.index("--point") + 1] == run["point"]
