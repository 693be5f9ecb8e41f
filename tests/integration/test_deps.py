"""The install step a fresh machine runs (issue 14): fixtures/refdut/deps.sh
waits for apt's locks held by another apt (unattended-upgrades, a second
CI job) up to APT_LOCK_WAIT seconds, then installs; past the deadline it
fails with apt's own message. The lock is held the way apt holds it
(fcntl locks on the lists and dpkg lock files). Needs root and the
network to Debian's mirrors, as `make deps` does."""
import os
import subprocess
import sys
import time

import pytest

from conftest import ROOT

HOLD = r"""
import fcntl, os, sys, time
fds = []
for p in ["/var/lib/apt/lists/lock", "/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock"]:
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o640)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    fds.append(fd)
print("held", flush=True)
time.sleep(float(sys.argv[1]))
"""


def hold_apt_locks(seconds):
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(seconds)], stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def deps(wait_s):
    # make is installed on any machine that runs this: the install is a no-op
    # once apt has the lock, so the test measures only the wait.
    return subprocess.run(["sh", str(ROOT / "fixtures" / "refdut" / "deps.sh"), "make"],
                          env={**os.environ, "APT_LOCK_WAIT": str(wait_s)},
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(autouse=True)
def root_only():
    assert os.geteuid() == 0, "deps.sh installs packages: run as root (CI does)"


def test_deps_waits_for_apt_held_by_another_process():
    holder = hold_apt_locks(8)
    t0 = time.monotonic()
    try:
        r = deps(120)
    finally:
        holder.kill()
        holder.wait()
    assert r.returncode == 0, r.stdout + r.stderr
    assert time.monotonic() - t0 >= 7  # it waited for the lock, it did not fail at once
    assert "deps: host packages installed" in r.stdout


def test_deps_gives_up_at_its_deadline_with_apts_reason():
    holder = hold_apt_locks(60)
    t0 = time.monotonic()
    try:
        r = deps(3)
    finally:
        holder.kill()
        holder.wait()
    assert r.returncode != 0
    assert time.monotonic() - t0 < 50
    assert "lock" in r.stderr.lower() and "deps: error:" in r.stderr, r.stderr
