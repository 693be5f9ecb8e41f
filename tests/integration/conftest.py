"""Shared fixtures for the integration tests: where hilctl is, a private run
directory per test, helpers to run the CLI with a deadline, the reference
board built once, and the journal read back."""
import json
import os
import subprocess
import pathlib
import shutil
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
LAB = ROOT / "fixtures" / "lab-qemu.yaml"  # the QEMU lab of reference boards
SCEN = ROOT / "scenarios"


def hilctl_path():
    return os.environ.get("HILCTL", str(ROOT / "build" / "hilctl"))


@pytest.fixture
def hilctl_bin():
    path = hilctl_path()
    assert os.access(path, os.X_OK), f"{path} missing: run make first"
    return path


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    """Each test gets its own board state and lock directories."""
    # Unix socket paths must fit 107 bytes: keep the run dir short.
    d = pathlib.Path(tempfile.mkdtemp(prefix="hr", dir="/tmp"))
    monkeypatch.setenv("HILCTL_RUN_DIR", str(d))
    monkeypatch.setenv("HILCTL_LOCK_DIR", str(tmp_path / "locks"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def hilctl(hilctl_bin, run_dir):
    """Run hilctl with a deadline; returns CompletedProcess (text)."""
    def run(*args, timeout=60, check=False, **kw):
        return subprocess.run([hilctl_bin, *map(str, args)], capture_output=True,
                              text=True, timeout=timeout, check=check, **kw)
    return run


@pytest.fixture(scope="session")
def refdut():
    """The reference board images (make refdut: slow the first time, cached after)."""
    subprocess.run(["make", "-C", str(ROOT), "refdut"], check=True, timeout=3600,
                   stdout=subprocess.DEVNULL)


def jsonl(path):
    """Every record of a JSON-lines file (blank lines skipped)."""
    return [json.loads(l) for l in pathlib.Path(path).read_text().splitlines() if l.strip()]


def journal(out):
    """Every record of OUT/journal.jsonl."""
    return jsonl(pathlib.Path(out) / "journal.jsonl")


def runs(records):
    return [r["run"] for r in records if "run" in r]


def journal_runs(out):
    return runs(journal(out))


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: waits out a real deadline for minutes (make check-slow, not make check)")
