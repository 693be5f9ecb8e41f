"""hilctl explore on the reference board (real QEMU, TCG): a whole v1→v2
update recorded with every disk write logged, its crash states enumerated
and a bounded number of them booted through the oracle on two boards.

- the correct agent (variant good): every booted state ends upgraded or
  rolled back, and every flush boundary of the recorded log is a state of
  the enumeration (booted or not);
- the seeded bug "rename without fsync" (variant no-fsync) is found, and the
  failure's reproduce command rebuilds that disk and fails the same way.

The reference board is built by `make refdut`. Budgets (--max-states) keep
each test within a few minutes on a loaded 2-core machine."""
import pathlib
import shlex
import struct

import pytest

from conftest import LAB, SCEN, jsonl  # noqa: E402

SCENARIO = SCEN / "explore-v2.yaml"
pytestmark = pytest.mark.usefixtures("refdut")
ALLOWED = {"upgraded", "rolled_back"}


def log_entries(path):
    """The recorded write log, read independently of hilctl (dm-log-writes:
    a superblock, then per entry a header sector and its data sectors)."""
    data = pathlib.Path(path).read_bytes()
    magic, version, n, sector = struct.unpack_from("<QQQI", data, 0)
    assert magic == 0x6a736677736872 and version == 1
    entries, pos = [], sector
    for _ in range(n):
        start, count, flags, _len = struct.unpack_from("<QQQQ", data, pos)
        entries.append((start, count, flags))
        pos += sector * (1 + (0 if flags & 4 else count))
    assert pos <= len(data)
    return entries


def explore(hilctl, out, *args, variant="good", timeout=900):
    return hilctl("--lab", LAB, "--set", "variant=" + variant, "explore", SCENARIO,
                  "--out", out, *args, timeout=timeout)


def test_good_agent_survives_every_booted_crash_state(hilctl, tmp_path):
    out = tmp_path / "good"
    r = explore(hilctl, out, "-j", "2", "--max-states", "10")
    assert r.returncode == 0, r.stdout + r.stderr
    recs = jsonl(out / "journal.jsonl")
    head = recs[0]["explore"]
    states = [x["state"] for x in recs if "state" in x]
    assert recs[-1]["end"]["booted"] == len(states) == 10
    assert {s["verdict"] for s in states} <= ALLOWED, states
    assert all(s["pass"] for s in states)
    # The recording was a whole update: the new version committed.
    assert head["record_verdict"] == "upgraded"
    phases = jsonl(out / "record" / "phases.jsonl")
    names = [p["phase"] for p in phases]
    for name in ("download", "write", "verify", "bootfiles", "flip", "reboot", "boot",
                 "selftest", "commit"):
        assert name in names, names
    assert [p["at"] for p in phases] == sorted(p["at"] for p in phases)
    # Every flush boundary of the log is a state of the enumeration.
    entries = log_entries(out / "record" / "write.log")
    assert head["log"]["entries"] == len(entries)
    flushes = [i for i, (_, _, flags) in enumerate(entries) if flags & 1]
    assert head["log"]["flushes"] == len(flushes) and len(flushes) > 10
    enumerated = jsonl(out / "states.jsonl")
    assert len(enumerated) == head["states"]
    prefixes = {s["sel"] for s in enumerated}
    missing = [f + 1 for f in flushes if str(f + 1) not in prefixes]
    assert not missing, missing
    # The first states booted are the phase changes, spread over the update.
    assert states[0]["class"] in ("phase", "subset") and states[0]["n"] == 1
    assert len({s["phase"] for s in states}) >= 4
    # The summary on stdout names what was booted.
    assert "10 booted" in r.stdout and "distinct" in r.stdout
    # A selection past the recorded log is refused before anything boots.
    n = len(entries)
    r = hilctl("--lab", LAB, "explore", SCENARIO, "--from", out, "--only", "%d+%d" % (n, n + 5),
               "--out", tmp_path / "bad", timeout=120)
    assert r.returncode == 2 and "past the log" in r.stderr, r.stderr


def test_explore_under_a_sub_sector_flash_tear_model(hilctl, tmp_path):
    """With the lab's power-loss model torn at 16 bytes with zeros past the
    tear (the reference lab's ${tear} and ${tear_fill}), the recording and
    the enumeration are the same: every flush boundary is a state, and the
    good agent survives the states booted."""
    out = tmp_path / "tear"
    r = hilctl("--lab", LAB, "--set", "power_loss=torn", "--set", "tear=16", "--set",
               "tear_fill=zero", "explore", SCENARIO, "--out", out, "-j", "2",
               "--max-states", "4", timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    recs = jsonl(out / "journal.jsonl")
    head = recs[0]["explore"]
    states = [x["state"] for x in recs if "state" in x]
    assert recs[-1]["end"]["booted"] == len(states) == 4
    assert {s["verdict"] for s in states} <= ALLOWED, states
    assert head["record_verdict"] == "upgraded"
    entries = log_entries(out / "record" / "write.log")
    assert head["log"]["entries"] == len(entries)
    flushes = [i for i, (_, _, flags) in enumerate(entries) if flags & 1]
    prefixes = {s["sel"] for s in jsonl(out / "states.jsonl")}
    assert not [f + 1 for f in flushes if str(f + 1) not in prefixes]


def test_rename_without_fsync_is_found_and_reproduced(hilctl, tmp_path):
    out = tmp_path / "nofsync"
    r = explore(hilctl, out, "-j", "2", "--max-states", "16", variant="no-fsync")
    assert r.returncode == 1, r.stdout + r.stderr
    states = [x["state"] for x in jsonl(out / "journal.jsonl") if "state" in x]
    failed = [s for s in states if not s["pass"]]
    assert failed, states
    bad = failed[0]
    assert bad["verdict"] not in ALLOWED and bad["verdict"] != "infra_error"
    assert "reproduce:" in r.stdout and bad["reproduce"] in r.stdout
    # A lost write is what breaks it: a subset of one flush epoch.
    assert "+" in bad["sel"], bad
    argv = shlex.split(bad["reproduce"])
    assert argv[0] == "hilctl" and "--only" in argv and bad["sel"] in argv
    r2 = hilctl(*argv[1:], timeout=600)
    assert r2.returncode == 1, r2.stdout + r2.stderr
    (again,) = [x["state"] for x in jsonl(argv[argv.index("--out") + 1] + "/journal.jsonl")
                if "state" in x]
    assert again["hash"] == bad["hash"] and again["sel"] == bad["sel"]
    assert again["verdict"] == bad["verdict"]
