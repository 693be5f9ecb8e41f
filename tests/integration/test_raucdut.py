"""The RAUC board (fixtures/raucdut) under hilctl: Debian's rauc 1.8 with
RAUC's U-Boot boot chooser, judged by the oracle from fixtures/lab-rauc.yaml.

v2 is installed by "rauc install" and is upgraded only once rauc marked slot B
good; v3's self-test fails, rauc marks B bad and the boot chooser brings v1
back on slot A. Both in one campaign (one board, two runs). Builds
build/raucdut with make raucdut when it is missing (about a minute from an
empty cache, seconds afterwards).
"""
import pathlib
import subprocess

import pytest

from conftest import ROOT, SCEN, journal_runs

LAB = ROOT / "fixtures" / "lab-rauc.yaml"


@pytest.fixture(scope="session")
def raucdut():
    subprocess.run(["make", "-C", str(ROOT), "raucdut"], check=True, timeout=1800,
                   stdout=subprocess.DEVNULL)


def lines(run):
    return [e["d"] for e in run["evidence"]]


def test_rauc_v2_upgraded_v3_rolled_back(hilctl, raucdut, tmp_path):
    out = tmp_path / "out"
    r = hilctl("--lab", LAB, "run", SCEN / "rauc" / "update.yaml", SCEN / "rauc" / "selftest-fail.yaml",
               "--out", out, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    runs = {x["scenario"]: x for x in journal_runs(out)}
    assert set(runs) == {"rauc-update", "rauc-selftest-fail"}

    up = runs["rauc-update"]
    assert up["verdict"] == "upgraded" and up["pass"], up["reason"]
    # committed rests on rauc's own mark-good line for slot B, not on the boot
    assert "marked slot rootfs.1 as good" in up["reason"]
    ev = lines(up)
    assert "raucdut-probe: version=2 slot=B" in ev
    assert any(l.startswith("raucdut-boot: slot=B order=B A") for l in ev), ev

    down = runs["rauc-selftest-fail"]
    assert down["verdict"] == "rolled_back" and down["pass"], down["reason"]
    ev = lines(down)
    # the decision lines are in the evidence: rauc's mark-bad, then the boot
    # chooser leaving B (no attempts left) for A
    assert "rauc status: marked slot rootfs.1 as bad" in ev, ev
    assert any(l.startswith("raucdut-boot: slot=A order=A ") and l.endswith("B_LEFT=0")
               for l in ev), ev
    assert ev.index("raucdut-probe: version=3 slot=B") < ev.index("raucdut-probe: version=1 slot=A")
