"""A power cut at a disk write (`write: N` in a power_cut fault) on the real
reference board: the disk the board boots after the cut holds the writes up
to that one and none after, so two neighbouring cuts inside the boot-state
write end differently; the seeded state-inplace bug, which a time-based cut
practically never hits, is caught at the first point and the run's reproduce
command carries the --set that chose the variant; scenario files that misuse
write: are refused with file:line. See docs/power-loss.md."""
import json
import pathlib
import re
import shlex
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
LAB = ROOT / "fixtures" / "lab-qemu.yaml"
SCEN = ROOT / "scenarios"


@pytest.fixture(scope="module", autouse=True)
def refdut():
    subprocess.run(["make", "-C", str(ROOT), "refdut"], check=True, timeout=3600,
                   stdout=subprocess.DEVNULL)


def journal_runs(out):
    recs = [json.loads(l) for l in (pathlib.Path(out) / "journal.jsonl").read_text().splitlines()]
    return {r["run"]["point"]: r["run"] for r in recs if "run" in r}


def test_a_cut_at_a_write_keeps_the_log_up_to_that_write_only(hilctl, tmp_path):
    out = tmp_path / "out"
    r = hilctl("--lab", LAB, "run", SCEN / "cut-flip-writes.yaml", "--sweep", "-1,-60",
               "--bisect", "0", "-j", "2", "--out", out, timeout=900)
    assert r.returncode == 0, r.stderr
    runs = journal_runs(out)
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
    # a loaded host may read it a write or two late, so the points cover the
    # last three writes before "flip slot=" (docs/power-loss.md).
    out = tmp_path / "out"
    r = hilctl("--lab", LAB, "--set", "variant=state-inplace", "run",
               SCEN / "cut-flip-writes.yaml", "--sweep", "-1,-2,-3", "--bisect", "0",
               "-j", "2", "--out", out, timeout=900)
    assert r.returncode == 1, r.stderr
    caught = [run for run in journal_runs(out).values() if not run["pass"]]
    assert caught, "no cut landed inside the in-place state write"
    for run in caught:
        assert run["verdict"] == "inconsistent", run["reason"]
        assert "state unreadable" in (out / run["timeline"]).read_text()
        argv = shlex.split(run["reproduce"])
        assert argv[argv.index("--set") + 1] == "variant=state-inplace"
        assert argv[argv.index("--point") + 1] == run["point"]


BAD = "scenario: x\nallowed: [upgraded]\nsteps:\n"


@pytest.mark.parametrize("text,where,what", [
    (BAD + "  - fault: {kind: power_cut, write: 0}\n", ":4:37:", '"0" is not a write number'),
    (BAD + "  - fault: {kind: power_cut, write: two}\n", ":4:37:", "not a write number"),
    (BAD + "  - fault: {kind: power_cut, write: 3, delay: 1s}\n", ":4:37:",
     "write: N (the cut comes at a disk write) or delay:, not both"),
    (BAD + "  - fault: {kind: network, down: 1s, write: 3}\n", ":4:45:",
     "write: N places a power cut"),
    ("scenario: x\nallowed: [upgraded]\nsnapshot: before-update\nsteps:\n  - power: on\n"
     "  - send: go\n  - fault: {kind: power_cut, write: 2}\n", ":3:11:",
     "cannot be used with a power cut at a disk write (step 3)"),
])
def test_bad_write_cuts_name_file_and_line(hilctl, tmp_path, text, where, what):
    sc = tmp_path / "bad.yaml"
    sc.write_text(text)
    r = hilctl("--lab", LAB, "run", sc, "--dry-run")
    assert r.returncode == 2
    assert f"{sc}{where}" in r.stderr and what in r.stderr, r.stderr
