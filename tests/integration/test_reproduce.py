"""Failing runs that replay exactly (issue 18): a run of a seeded variant
that fails keeps the disk its board booted after the power cut
(runs/NNNN-BOARD/crash-disk.qcow2), a passing run keeps nothing, the
journal's reproduce command is `hilctl reproduce DIR ID` and the rerun from
scratch is named apart; `hilctl reproduce` boots that very disk through the
oracle, says so, and gets the run's verdict again, twice, without touching
the kept file. The 10-replay figure is in README ("Replaying a failing
run"). See docs/journal.md."""
import hashlib

import pytest

from conftest import LAB, SCEN, journal_runs  # noqa: E402

pytestmark = pytest.mark.usefixtures("refdut")


def short_scenario(tmp_path):
    """cut-bootfiles-writes with a short oracle: a bricked board is judged
    after 2 x 20 s instead of 3 x 60 s, so the replays stay short."""
    text = (SCEN / "cut-bootfiles-writes.yaml").read_text()
    text = text.replace("scenario: cut-bootfiles-writes", "scenario: cut-bootfiles-writes-short")
    path = tmp_path / "cut-bootfiles-writes-short.yaml"
    path.write_text(text + "oracle: {boot_timeout: 20s, ladder: 1}\n")
    return path


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_failing_run_keeps_its_crash_disk_and_replays_its_verdict(hilctl, tmp_path):
    # Boot files overwritten in place: a cut in the last writes of the copy
    # leaves a torn boot.scr (bricked). Which of the last writes the cut hits
    # drifts with the host's load, so three points; one failure is enough.
    out = tmp_path / "out"
    r = hilctl("--lab", LAB, "--set", "variant=bootfiles-inplace", "run", short_scenario(tmp_path),
               "--sweep", "-4,-3,-5", "--bisect", "0", "--max-failures", "1", "--seed", "7",
               "--out", out, timeout=900)
    assert r.returncode in (0, 1), r.stderr
    runs = journal_runs(out)
    for run in runs:
        disk = out / run["timeline"].replace("timeline.jsonl", "crash-disk.qcow2")
        if run["pass"]:
            # A passing run keeps nothing, and reproduce says there is nothing.
            assert "replay" not in run and not disk.exists()
            assert run["reproduce"].startswith("hilctl --lab ")
    failed = [run for run in runs if not run["pass"]]
    assert failed, "no cut landed in the in-place boot file copy: " + str(
        [(run["point"], run["verdict"]) for run in runs])
    run = failed[0]
    assert run["reproduce"] == f"hilctl reproduce {out} {run['id']}"
    assert " run " in run["rerun"] and f"--point '{run['point']}'" in run["rerun"]
    disk = out / run["replay"]["disk"]
    assert disk.exists() and (out / (run["replay"]["disk"] + ".base")).exists()
    kept = digest(disk)
    for _ in range(2):
        rep = hilctl("reproduce", out, run["id"], timeout=600)
        assert rep.returncode == 1, rep.stdout + rep.stderr
        assert "replays the recorded crash state" in rep.stdout
        assert str(disk) in rep.stdout
        assert f"verdict: {run['verdict']} (NOT allowed" in rep.stdout, rep.stdout
        assert "same verdict" in rep.stdout
        assert "rerun from scratch" in rep.stdout
    assert digest(disk) == kept  # booted, never written
    # Each replay has its own timeline, none of them the run's.
    assert len(list((out / "reproduce").glob(f"{run['id']}-*/timeline.jsonl"))) == 2
    passed = [run for run in runs if run["pass"]]
    if passed:
        rep = hilctl("reproduce", out, passed[0]["id"])
        assert rep.returncode == 2 and "kept no disk" in rep.stderr


def test_reproduce_refuses_a_run_without_a_kept_disk(hilctl, tmp_path):
    # No QEMU: a journal whose run passed (nothing kept) and one whose kept
    # disk was deleted. Both are usage errors (exit 2), before any board.
    out = tmp_path / "out"
    out.mkdir()
    rerun = "hilctl --lab lab.yaml run s.yaml --board qemu-01 --point '3' --seed 1"
    (out / "journal.jsonl").write_text(
        '{"campaign": {"format": 1, "id": "c"}}\n'
        '{"run": {"id": 1, "key": "s/3", "scenario": "s", "board": "qemu-01", "point": "3",'
        ' "verdict": "upgraded", "pass": true, "outcome": "pass", "reproduce": "%s"}}\n'
        '{"run": {"id": 2, "key": "s/4", "scenario": "s", "board": "qemu-01", "point": "4",'
        ' "verdict": "bricked", "pass": false, "reproduce": "hilctl reproduce %s 2",'
        ' "rerun": "%s", "replay": {"disk": "runs/0002-qemu-01/crash-disk.qcow2",'
        ' "lab": "%s", "sets": [], "scenario": "%s"}}}\n'
        % (rerun, out, rerun, LAB, SCEN / "cut-reboot.yaml"))
    r = hilctl("reproduce", out, "1")
    assert r.returncode == 2 and "run 1 (pass) kept no disk" in r.stderr, r.stderr
    assert rerun in r.stderr
    r = hilctl("reproduce", out, "2")
    assert r.returncode == 2 and "crash-disk.qcow2: No such file" in r.stderr, r.stderr
    r = hilctl("reproduce", out, "9")
    assert r.returncode == 2 and "no run 9" in r.stderr, r.stderr
    r = hilctl("reproduce", out)
    assert r.returncode == 2 and "usage: hilctl reproduce DIR RUN" in r.stderr
