"""The scenario engine and campaigns on real QEMU reference boards: a run's
verdict and journal, a seeded bug caught, bad scenario files refused, and a
campaign killed with SIGKILL that loses nothing and resumes without doing a
run twice.

The reference board is built by `make refdut` (slow the first time, cached
after); QEMU runs under TCG. Each test has its own HILCTL_RUN_DIR (conftest)."""
import json
import signal
import subprocess
import time

import pytest

from conftest import LAB, SCEN, journal, runs  # noqa: E402
from simlab import processes_mentioning  # noqa: E402

pytestmark = pytest.mark.usefixtures("refdut")


def qemu_children():
    """QEMU processes whose QMP socket lives under the given run dir."""
    out = subprocess.run(["pgrep", "-af", "qemu-system"], capture_output=True, text=True)
    return out.stdout


def test_power_cut_mid_write_rolls_back_with_evidence(hilctl, tmp_path, run_dir):
    out = tmp_path / "out"
    r = hilctl("--lab", LAB, "run", SCEN / "cut-write.yaml", "--point", "9437184",
               "--out", out, timeout=300)
    assert r.returncode == 0, r.stderr
    recs = journal(out)
    assert "campaign" in recs[0] and recs[0]["campaign"]["runs_planned"] == 1
    assert recs[-1]["end"]["complete"] is True
    (run,) = runs(recs)
    assert run["verdict"] == "rolled_back" and run["pass"] is True
    assert run["fault"]["injected"] is True and run["fault"]["kind"] == "power_cut"
    assert run["fault"]["phase"] == "write"
    assert any("version=1 slot=A committed=1" in e["d"] for e in run["evidence"])
    assert "--point '9437184'" in run["reproduce"]
    timeline = (out / run["timeline"]).read_text()
    assert "fault trigger" in timeline and '"k":"verdict"' in timeline
    # The board is left powered off: no QEMU of this test is running.
    assert str(run_dir) not in qemu_children()


def test_snapshot_before_update_boots_once_and_restores_every_later_run(hilctl, tmp_path,
                                                                        run_dir):
    scenario = tmp_path / "cut-write-snap.yaml"
    scenario.write_text((SCEN / "cut-write.yaml").read_text()
                        .replace("scenario: cut-write", "scenario: cut-write-snap")
                        + "snapshot: before-update\n")
    out = tmp_path / "out"
    r = hilctl("--lab", LAB, "run", scenario, "--board", "qemu-01",
               "--sweep", "5242880,9437184", "--bisect", "0", "--out", out, timeout=600)
    assert r.returncode == 0, r.stderr
    first, second = runs(journal(out))
    assert first["verdict"] == second["verdict"] == "rolled_back"
    assert second["fault"]["injected"] and second["fault"]["phase"] == "write"
    t1, t2 = ((out / run["timeline"]).read_text() for run in (first, second))
    # The first run boots and saves the machine just before the update starts.
    assert "snapshot saved" in t1 and "U-Boot 20" in t1.split("hilctl-update http")[0]
    # The second starts from it: no boot before the update, which still runs.
    before_update = t2.split("hilctl-update http")[0]
    assert "snapshot restored" in before_update and "U-Boot 20" not in before_update
    assert "write offset=9437184" in t2
    # The saved machine is in the board's run directory, one per board.
    assert len(list((run_dir / "qemu-01").glob("snapshot-*"))) == 1


def test_snapshot_refuses_a_power_loss_model(hilctl, tmp_path):
    scenario = tmp_path / "snap.yaml"
    scenario.write_text((SCEN / "cut-write.yaml").read_text() + "snapshot: before-update\n")
    r = hilctl("--lab", LAB, "--set", "power_loss=strict", "run", scenario, "--board", "qemu-01", "--point", "1048576",
               "--out", tmp_path / "out", timeout=120)
    assert r.returncode == 3
    assert "power-loss model \"strict\"" in r.stderr and "snapshot" in r.stderr


def test_seeded_bug_fails_the_gate(hilctl, tmp_path):
    out = tmp_path / "out"
    r = hilctl("--lab", LAB, "--set", "variant=commit-before-selftest", "run",
               SCEN / "selftest-fail.yaml", "--out", out, timeout=600)
    assert r.returncode == 1, r.stderr
    assert "gate: FAIL" in r.stderr
    (run,) = runs(journal(out))
    # The broken version marked itself good before its self-test ran.
    assert run["verdict"] == "upgraded" and run["pass"] is False


def test_update_never_tried_after_a_rollback_is_inconsistent(hilctl, tmp_path):
    """slot-left-bad keeps the slot it fell back from marked bad: the second
    update of update-after-rollback prints its flip, and the bootloader
    falls back at once. Not rolled_back: the new slot was never tried."""
    out = tmp_path / "out"
    r = hilctl("--lab", LAB, "--set", "variant=slot-left-bad", "run",
               SCEN / "update-after-rollback.yaml", "--board", "qemu-01", "--out", out,
               timeout=600)
    assert r.returncode == 1, r.stderr
    (run,) = runs(journal(out))
    assert run["verdict"] == "inconsistent" and run["pass"] is False
    assert run["reason"].startswith("flip reported, new slot never tried")
    assert "hilctl-agent: flip slot=B" in run["reason"]
    ev = [e["d"] for e in run["evidence"]]
    assert "hilctl-boot: slot=A reason=fallback bootcount=1" in ev


@pytest.mark.slow
def test_update_after_a_rollback_lands_on_the_correct_agent(hilctl, tmp_path):
    """The correct agent under the same scenario: the second update is tried
    and lands (about 50 s of board time; slow only to keep CI short)."""
    out = tmp_path / "out"
    r = hilctl("--lab", LAB, "run", SCEN / "update-after-rollback.yaml", "--board", "qemu-01",
               "--out", out, timeout=600)
    assert r.returncode == 0, r.stderr
    (run,) = runs(journal(out))
    assert run["verdict"] == "upgraded" and run["pass"] is True


VALUE_CHECK = """scenario: value-check-{name}
allowed: [rolled_back]
versions: {{old: "1", new: "2"}}
slots: {{old: A, new: B}}
oracle: {{boot_timeout: 60s, ladder: 0}}
steps:
  - power: on
  - expect: 'hilctl-probe: version=1 slot=A committed=1'
    timeout: 90s
  - recover: cycle
checks:
  - send: 'hilctl-update --probe'
    expect: 'hilctl-probe: version=(?<version>\\S+)'
    compare: {{version: old_version}}
  - send: 'cat /proc/cmdline'
    expect: 'hilctl\\.slot=(?<slot>[AB])'
    compare: {{slot: {slot}}}
"""


def test_a_check_reads_a_value_and_compares_it(hilctl, tmp_path):
    """Checks that capture a value from the board (a regex group) and compare
    it with the scenario's versions and slots: the slot the kernel booted is
    the old slot (pass); a scenario that wants the new slot fails with the
    value read as evidence."""
    ok = tmp_path / "ok.yaml"
    ok.write_text(VALUE_CHECK.format(name="ok", slot="old_slot"))
    bad = tmp_path / "bad.yaml"
    bad.write_text(VALUE_CHECK.format(name="bad", slot="new_slot"))
    out = tmp_path / "out"
    r = hilctl("--lab", LAB, "run", ok, bad, "--board", "qemu-01", "-j", "1", "--out", out,
               timeout=600)
    assert r.returncode == 1, r.stderr
    by = {run["scenario"]: run for run in runs(journal(out))}
    good = by["value-check-ok"]
    assert good["verdict"] == "rolled_back" and good["pass"] is True, good
    timeline = (out / good["timeline"]).read_text()
    assert 'slot \\"A\\" is the old_slot (A)' in timeline
    failed = by["value-check-bad"]
    assert failed["verdict"] == "inconsistent" and failed["pass"] is False
    assert 'check 2 failed: cat /proc/cmdline: slot "A" is not the new_slot (B)' in \
        failed["reason"]
    assert any('slot "A" is not the new_slot (B)' in e["d"] for e in failed["evidence"])


def test_a_board_that_never_counts_a_cut_trial_is_a_boot_loop(hilctl, tmp_path):
    """cut-every-trial cuts every trial boot at its self-test (repeat: 4):
    trial-cut-not-counted takes the count off the disk during the trial, so
    the board retries the new slot after every cut and never falls back."""
    out = tmp_path / "out"
    r = hilctl("--lab", LAB, "--set", "variant=trial-cut-not-counted", "run",
               SCEN / "cut-every-trial.yaml", "--board", "qemu-01", "--out", out, timeout=900)
    assert r.returncode == 1, r.stderr
    (run,) = runs(journal(out))
    assert run["verdict"] == "boot_loop" and run["pass"] is False, run
    assert "came again after 4 power cuts (repeat: 4)" in run["reason"]
    ev = [e["d"] for e in run["evidence"]]
    assert sum("reason=trial" in d for d in ev) >= 3, ev
    assert "4 cuts" in run["faults"][0]["trigger"]


@pytest.mark.slow
def test_a_cut_at_every_trial_boot_falls_back_on_the_correct_agent(hilctl, tmp_path):
    """The correct agent counts every attempt: three cut trials, then the
    fallback ends the repeats (about 80 s of board time)."""
    out = tmp_path / "out"
    r = hilctl("--lab", LAB, "run", SCEN / "cut-every-trial.yaml", "--board", "qemu-01",
               "--out", out, timeout=900)
    assert r.returncode == 0, r.stderr
    (run,) = runs(journal(out))
    assert run["verdict"] in ("rolled_back", "upgraded") and run["pass"] is True, run
    if run["verdict"] == "rolled_back":
        assert "3 cuts" in run["faults"][0]["trigger"], run["faults"]


def test_resumed_download_that_trusts_its_saved_hash_is_caught(hilctl, tmp_path):
    """resume-no-verify resumes an interrupted download from its saved
    offset and stream hash without reading back what reached the disk: the
    blocks the power cut lost stay lost. cut-write-retry requires the retried
    update to land (and its check reads the running slot back against the
    manifest, a shell line that needs the $${ escape)."""
    out = tmp_path / "out"
    r = hilctl("--lab", LAB, "--set", "variant=resume-no-verify", "run",
               SCEN / "cut-write-retry.yaml", "--point", "16777216", "--out", out, timeout=900)
    assert r.returncode == 1, r.stderr
    (run,) = runs(journal(out))
    assert run["pass"] is False and run["verdict"] in ("rolled_back", "inconsistent", "bricked")
    timeline = (out / run["timeline"]).read_text()
    assert "hilctl-agent: resume offset=" in timeline
    # Its own verify passed over a slot the cut had left broken.
    assert "hilctl-agent: verify ok" in timeline
    # The check read slot A back and found it whole: old version, intact.
    assert run["verdict"] == "rolled_back" and "slot-ok-42" in timeline


@pytest.mark.parametrize("text,where,what", [
    ("scenario: x\nallowed: [upgraded]\nsteps:\n  - pwer: on\n", ":4:5:", "pwer is not a known key"),
    ("scenario: x\nallowed: [fine]\nsteps: []\n", ":2:10:", '"fine" is not an end state'),
    ("scenario: x\nallowed: [upgraded]\nsteps:\n  - power: sideways\n", ":4:12:",
     '"sideways" is not one of on, off, cycle'),
    ("scenario: x\nallowed: [upgraded]\nsteps:\n  - fault: {kind: power_cut, delay: soon}\n",
     ":4:37:", 'steps.fault.delay "soon" is not a duration'),
    ("scenario: x\nallowed: [upgraded]\nsteps:\n  - fault: {kind: network}\n", ":4:12:",
     "needs down: DURATION or until: MARKER"),
    ("scenario: x\nallowed: [upgraded]\nsteps:\n  - {send: a, wait: 1s}\n", ":4:",
     "a step does one thing"),
    ("scenario: x\nallowed: [upgraded]\nsweep: {from: 5, to: 1}\nsteps: []\n", ":3:",
     "to (1) is below from (5)"),
    ("scenario: x\nallowed: [upgraded]\nsteps:\n  - fault: {kind: power_cut, write: 0}\n",
     ":4:37:", '"0" is not a write number'),
    ("scenario: x\nallowed: [upgraded]\nsteps:\n  - fault: {kind: power_cut, write: two}\n",
     ":4:37:", "not a write number"),
    ("scenario: x\nallowed: [upgraded]\nsteps:\n  - fault: {kind: power_cut, write: 3, delay: 1s}\n",
     ":4:37:", "write: N (the cut comes at a disk write) or delay:, not both"),
    ("scenario: x\nallowed: [upgraded]\nsteps:\n  - fault: {kind: network, down: 1s, write: 3}\n",
     ":4:45:", "write: N places a power cut"),
    ("scenario: x\nallowed: [upgraded]\nsnapshot: before-update\nsteps:\n  - power: on\n"
     "  - send: go\n  - fault: {kind: power_cut, write: 2}\n", ":3:11:",
     "cannot be used with a power cut at a disk write (step 3)"),
    ("scenario: x\nallowed: [upgraded]\nsteps: []\nchecks:\n"
     "  - {send: x, expect: 'slot=(?<slot>.)', compare: {slot: new_slot}}\n", ":5:",
     "compares with new_slot, which this scenario does not give"),
    ("scenario: x\nallowed: [upgraded]\nslots: {old: A, new: B}\nsteps: []\nchecks:\n"
     "  - {send: x, expect: 'slot=(.)', compare: {slot: new_slot}}\n", ":6:",
     "names group slot, which"),
    ("scenario: [x\n", ":", "malformed YAML"),
])
def test_bad_scenarios_name_file_and_line(hilctl, tmp_path, text, where, what):
    sc = tmp_path / "bad.yaml"
    sc.write_text(text)
    r = hilctl("--lab", LAB, "run", sc, "--dry-run")
    assert r.returncode == 2
    assert f"{sc}{where}" in r.stderr and what in r.stderr, r.stderr


def test_sigkill_mid_campaign_loses_nothing_and_resume_finishes(hilctl_bin, tmp_path, run_dir):
    out = tmp_path / "out"
    cmd = [hilctl_bin, "--lab", str(LAB), "run", str(SCEN / "cut-download.yaml"),
           "--out", str(out)]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    jpath = out / "journal.jsonl"
    while time.monotonic() < deadline:
        if jpath.exists() and '\n{"run":' in jpath.read_text():
            break
        time.sleep(0.2)
    else:
        p.kill()
        pytest.fail("no run finished within 300 s")
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    # Every complete line parses; the header and at least one run are there.
    text = jpath.read_text()
    done = [json.loads(l) for l in text.splitlines() if l.endswith("}")]
    assert "campaign" in done[0]
    assert len(runs(done)) >= 1
    # Nothing the campaign started outlives it (workers and QEMU die with it):
    # a worker still switching its board off holds the board's lock.
    deadline = time.monotonic() + 20
    while processes_mentioning(str(run_dir), str(out)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert str(run_dir) not in qemu_children()
    assert processes_mentioning(str(out)) == {}
    r = subprocess.run([hilctl_bin, "run", "--resume", str(out)], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    keys = [run["key"] for run in runs(journal(out))]
    assert sorted(keys) == sorted(set(keys)), "no run done twice"
    assert len(keys) == 3, "cut-download has three points: all done"


def lab_with_server_host(tmp_path, host):
    """The QEMU lab with another server_host: the address each board is told
    the update server is at (its paths made absolute, for a copy in tmp). The
    boards' network is unrestricted (restrict: off), as a lab that names an
    address outside QEMU's user network must say: restricted, the lab would
    be refused at load (test_qemu_net.py)."""
    text = LAB.read_text().replace("../build/", f"{LAB.parent.parent}/build/")
    assert text.count("server_host: 10.0.2.100") == 2
    assert text.count("      timeout: 20s\n") == 1
    text = text.replace("      timeout: 20s\n", "      timeout: 20s\n      netdev: {restrict: 'off'}\n")
    lab = tmp_path / "lab.yaml"
    lab.write_text(text.replace("server_host: 10.0.2.100", f"server_host: {host}"))
    return lab


def scenario_with_trigger_timeout(tmp_path, timeout="40s"):
    """cut-write with a shorter wait for its trigger (the test waits less)."""
    scenario = tmp_path / "cut-write.yaml"
    text = (SCEN / "cut-write.yaml").read_text()
    assert text.count("      off_time: 300ms\n") == 1
    scenario.write_text(text.replace("      off_time: 300ms\n",
                                     f"      off_time: 300ms\n      timeout: {timeout}\n"))
    return scenario


def test_board_that_cannot_reach_the_update_server_is_not_a_pass(hilctl, tmp_path):
    """Issue 14's vacuous pass, for real: the board is told an address it
    cannot reach (127.0.0.1 is the board's own loopback), its download
    fails, the power cut's trigger never comes, and the board stays on
    version 1. That used to be rolled_back (pass), gate PASS, exit 0."""
    out = tmp_path / "out"
    r = hilctl("--lab", lab_with_server_host(tmp_path, "127.0.0.1"), "run",
               scenario_with_trigger_timeout(tmp_path), "--board", "qemu-01",
               "--point", "9437184", "--out", out, timeout=600)
    assert r.returncode != 0, r.stderr
    assert "gate: PASS" not in r.stderr
    (run,) = runs(journal(out))
    assert run["pass"] is False and run["outcome"] != "pass"
    assert run["fault"]["injected"] is False
    # The lab's mistake, named: where the server listens, what the board was told.
    assert run["verdict"] == "infra_error" and r.returncode == 3
    assert "saw no request for bundle /v2" in run["reason"]
    assert "the board was told http://127.0.0.1:" in run["reason"]
    assert "is server_host (127.0.0.1) reachable from the board?" in run["reason"]
    timeline = (out / run["timeline"]).read_text()
    assert "fault not injected: its trigger never came" in timeline
    # Every report says so, and `hilctl report` gives the same gate.
    for name in ("report.xml", "report.tap", "report.html"):
        assert "saw no request for bundle /v2" in (out / name).read_text(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["gate"]["decision"] == "infra_error"
    assert "saw no request for bundle /v2" in summary["runs"][0]["reason"]
    rep = hilctl("report", out, "--out", tmp_path / "rep")
    assert rep.returncode == 3, rep.stdout + rep.stderr


def test_fault_whose_trigger_never_comes_is_not_injected(hilctl, tmp_path):
    """The server is reachable and the update runs, but the point asks for a
    write offset the agent never reaches: nothing is cut, the board
    upgrades. An allowed state, but the fault point was not tested."""
    out = tmp_path / "out"
    r = hilctl("--lab", LAB, "run", scenario_with_trigger_timeout(tmp_path, "20s"),
               "--board", "qemu-01", "--point", "999999999", "--out", out, timeout=600)
    assert r.returncode == 1, r.stderr
    assert "NOT INJECTED" in r.stderr and "not_injected" in r.stderr
    assert "gate: FAIL" in r.stderr
    (run,) = runs(journal(out))
    assert run["fault"]["injected"] is False
    assert run["verdict"] in ("upgraded", "rolled_back")
    assert run["pass"] is False and run["outcome"] == "not_injected"
    assert "fault 1 (power_cut) was not injected" in run["reason"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["gate"]["decision"] == "fail" and summary["gate"]["not_injected"] == 1
    assert summary["gate"]["judged"] == 0 and summary["gate"]["upper_bound_95"] is None
    assert summary["runs"][0]["outcome"] == "not_injected"
    assert '<error type="not_injected"' in (out / "report.xml").read_text()
    assert "not ok 1 - cut-write qemu-01 @ 999999999: not_injected" in \
        (out / "report.tap").read_text()
    assert "not_injected: tested nothing" in (out / "report.html").read_text()
