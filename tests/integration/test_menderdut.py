"""The Mender board (fixtures/menderdut) under hilctl: Debian's mender-client
3.4 in standalone mode with Mender's U-Boot integration (mender_boot_part,
upgrade_available, bootcount, bootlimit), judged by the oracle from
fixtures/lab-mender.yaml.

v2 is installed by "mender install" and is upgraded only once the lab's
commit probe reads upgrade_available=0 on part B (after "mender commit");
v3's self-test fails, the board reboots without committing, bootcount passes
bootlimit and U-Boot brings v1 back on part A. Both in one campaign (one
board, two runs). Builds build/menderdut with make menderdut when it is
missing.

Slow: the board build from an empty cache and the two runs under TCG take
longer than CI has left (figures in README.md's Mender board part);
make qualify-mender runs the whole Mender suite by hand.
"""
import subprocess

import pytest

from conftest import ROOT, SCEN as ALL_SCEN, journal_runs

SCEN = ALL_SCEN / "mender"  # the Mender board's scenarios, on its own lab

LAB = ROOT / "fixtures" / "lab-mender.yaml"


@pytest.fixture(scope="session")
def menderdut():
    subprocess.run(["make", "-C", str(ROOT), "menderdut"], check=True, timeout=1800,
                   stdout=subprocess.DEVNULL)


def lines(run):
    return [e["d"] for e in run["evidence"]]


@pytest.mark.slow
def test_mender_v2_upgraded_v3_rolled_back(hilctl, menderdut, tmp_path):
    out = tmp_path / "out"
    r = hilctl("--lab", LAB, "run", SCEN / "update.yaml", SCEN / "selftest-fail.yaml",
               "--out", out, timeout=1200)
    assert r.returncode == 0, r.stdout + r.stderr
    runs = {x["scenario"]: x for x in journal_runs(out)}
    assert set(runs) == {"mender-update", "mender-selftest-fail"}

    up = runs["mender-update"]
    assert up["verdict"] == "upgraded" and up["pass"], up["reason"]
    # committed rests on Mender's boot state read on the board (the lab's
    # commit probe: fw_printenv upgrade_available), not on the boot line
    assert "commit probe" in up["reason"], up["reason"]
    ev = lines(up)
    assert "commit probe: committed" in ev, ev
    assert "menderdut-probe: version=2 slot=B" in ev, ev
    # judged after the power cycle: U-Boot boots part 3 as committed
    assert any(l.startswith("menderdut-boot: part=3 reason=committed upgrade_available=0")
               for l in ev), ev

    down = runs["mender-selftest-fail"]
    assert down["verdict"] == "rolled_back" and down["pass"], down["reason"]
    ev = lines(down)
    # the decision lines are in the evidence: the trial of v3 on part 3, then
    # U-Boot's fallback to part 2 once bootcount passed bootlimit
    assert any(l.startswith("menderdut-boot: part=3 reason=trial") for l in ev), ev
    assert any(l.startswith("menderdut-boot: part=2 reason=fallback upgrade_available=0 bootcount=2")
               for l in ev), ev
    assert ev.index("menderdut-probe: version=3 slot=B") < ev.index("menderdut-probe: version=1 slot=A")
