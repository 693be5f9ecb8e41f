"""A lab host shared by two real users (made here with useradd, both in group
hilctl, each running hilctl through runuser): the second user sees the
first's lock, takes the board once it is released, and reclaims it when its
holder died; a campaign asked for -j2 names the board another user holds;
a run directory that another user prepared (owned by them, or
a symlink) is refused and the file its timeline pointed at stays untouched;
$XDG_RUNTIME_DIR is used when set."""
import grp
import json
import os
import pathlib
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import hilctl_path
from simlab import wait_for

GROUP = "hilctl"
USERS = ("hilctl-ta", "hilctl-tb")


def run(*argv, **kw):
    return subprocess.run(list(map(str, argv)), capture_output=True, text=True, timeout=60,
                          **kw)


@pytest.fixture(scope="module")
def users():
    """Two local users in group hilctl; the ones made here are removed after."""
    made_group = run("getent", "group", GROUP).returncode != 0
    if made_group:
        run("groupadd", "--system", GROUP, check=True)
    made = []
    for u in USERS:
        if run("id", u).returncode != 0:
            run("useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/bin/sh",
                "--groups", GROUP, u, check=True)
            made.append(u)
        else:
            run("usermod", "-aG", GROUP, u, check=True)
    uids = {u: pwd.getpwnam(u).pw_uid for u in USERS}
    for u in USERS:  # the default run directories of a user id used before
        shutil.rmtree(f"/tmp/hilctl-{uids[u]}", ignore_errors=True)
    yield uids
    for u in USERS:
        p = pathlib.Path(f"/tmp/hilctl-{uids[u]}")
        if p.is_symlink():
            p.unlink()
        shutil.rmtree(p, ignore_errors=True)
    for u in made:  # a killed holder's shell may take a moment to go
        for _ in range(50):
            if run("userdel", u).returncode == 0:
                break
            time.sleep(0.1)
    if made_group:
        run("groupdel", GROUP)


@pytest.fixture
def lab_host(users):
    """A directory every user can read: the lab file, a 1777 parent for the
    lock directory (as /run/lock is), a private run directory per user."""
    top = pathlib.Path(tempfile.mkdtemp(prefix="hs", dir="/tmp"))
    top.chmod(0o755)
    (top / "lab.yaml").write_text("""\
lab: shared
boards:
  - name: b1
    power: {driver: command, on: ["true"], off: ["true"]}
""")
    (top / "lab.yaml").chmod(0o644)
    (top / "lockparent").mkdir()
    (top / "lockparent").chmod(0o1777)
    for u, uid in users.items():
        d = top / ("run-" + u)
        d.mkdir(mode=0o700)
        os.chown(d, uid, -1)
    yield top
    shutil.rmtree(top, ignore_errors=True)


def user_env(top, user, run_dir=True, **extra):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HILCTL_LAB": str(top / "lab.yaml"),
           "HILCTL_LOCK_DIR": str(top / "lockparent" / "hilctl"), "LANG": "C.UTF-8"}
    if run_dir:
        env["HILCTL_RUN_DIR"] = str(top / ("run-" + user))
    env.update(extra)
    return ["env", "-i", *[f"{k}={v}" for k, v in env.items()]]


def as_user(top, user, *args, **envkw):
    return run("runuser", "-u", user, "--", *user_env(top, user, **envkw), hilctl_path(), *args)


def holder_shell(top, user, script):
    """A shell of USER's that runs hilctl lock and waits on its stdin."""
    env = user_env(top, user) + [f"HILCTL={hilctl_path()}"]
    return subprocess.Popen(["runuser", "-u", user, "--", *env, "sh", "-c", script],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def ended_or_zombie(pid):
    try:
        stat_line = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat_line[stat_line.rindex(")") + 2] in "ZX"


def test_second_user_sees_the_lock_then_takes_the_board(lab_host):
    a, b = USERS
    holder = holder_shell(lab_host, a, '"$HILCTL" lock b1 && echo locked && read x && '
                                       '"$HILCTL" unlock b1 && echo released && read y')
    try:
        assert holder.stdout.readline().strip() == "locked", holder.stderr.read()
        locks = lab_host / "lockparent" / "hilctl"
        st = locks.stat()
        assert st.st_gid == grp.getgrnam(GROUP).gr_gid
        assert st.st_mode & stat.S_ISGID and st.st_mode & 0o070 == 0o070, oct(st.st_mode)
        assert not st.st_mode & stat.S_ISVTX  # members reclaim each other's stale locks

        r = as_user(lab_host, b, "boards")
        assert r.returncode == 0, r.stderr
        line = next(l for l in r.stdout.splitlines() if l.startswith("b1"))
        assert "free" not in line and "pid" in line, r.stdout
        r = as_user(lab_host, b, "power", "b1", "on")
        assert r.returncode == 3, r.stderr
        assert 'board "b1" is locked by pid' in r.stderr, r.stderr
        assert "Permission denied" not in r.stderr

        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "released", holder.stderr.read()
        r = as_user(lab_host, b, "power", "b1", "on")
        assert r.returncode == 0, r.stderr
        r = as_user(lab_host, b, "boards")
        assert "free" in next(l for l in r.stdout.splitlines() if l.startswith("b1"))
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()


def test_second_user_reclaims_the_lock_of_a_dead_holder(lab_host):
    a, b = USERS
    holder = holder_shell(lab_host, a, '"$HILCTL" lock b1 && echo locked && read x')
    try:
        assert holder.stdout.readline().strip() == "locked", holder.stderr.read()
        assert as_user(lab_host, b, "power", "b1", "on").returncode == 3
        shell = int((lab_host / "lockparent" / "hilctl" / "b1.lock").read_text().split()[0])
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
    # Until SIGKILL has ended A's shell; it may then stay a zombie until its
    # new parent reaps it, which hilctl counts as ended.
    wait_for(lambda: ended_or_zombie(shell), 10, "A's shell to end")
    r = as_user(lab_host, b, "power", "b1", "off")
    assert r.returncode == 0, r.stderr
    r = as_user(lab_host, a, "power", "b1", "off")  # and back: B's lock files are A's too
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("trap", ["foreign_owned", "symlink"])
def test_run_directory_prepared_by_another_user_is_refused(lab_host, users, trap):
    attacker, victim = USERS
    default = pathlib.Path(f"/tmp/hilctl-{users[victim]}")
    precious = lab_host / "precious.txt"
    precious.write_text("the victim's own file\n")
    os.chown(precious, users[victim], -1)
    if trap == "foreign_owned":
        (default / "b1").mkdir(parents=True)
        (default / "b1" / "timeline.jsonl").symlink_to(precious)
        for p in (default, default / "b1"):
            p.chmod(0o777)
            os.chown(p, users[attacker], -1)
    else:
        target = lab_host / "attacker-run"
        (target / "b1").mkdir(parents=True)
        (target / "b1" / "timeline.jsonl").symlink_to(precious)
        for p in (target, target / "b1"):
            p.chmod(0o777)
            os.chown(p, users[attacker], -1)
        default.symlink_to(target)
    try:
        r = as_user(lab_host, victim, "power", "b1", "on", run_dir=False)
        assert r.returncode == 3, r.stderr
        assert f"run directory {default}" in r.stderr and "refused" in r.stderr, r.stderr
        assert "symlink" in r.stderr if trap == "symlink" else "owned by uid" in r.stderr
        assert precious.read_text() == "the victim's own file\n"
    finally:
        if default.is_symlink():
            default.unlink()
        shutil.rmtree(default, ignore_errors=True)


def test_default_run_directory_is_made_private(lab_host, users):
    victim = USERS[1]
    default = pathlib.Path(f"/tmp/hilctl-{users[victim]}")
    try:
        r = as_user(lab_host, victim, "power", "b1", "on", run_dir=False)
        assert r.returncode == 0, r.stderr
        for p in (default, default / "b1"):
            st = p.lstat()
            assert stat.S_ISDIR(st.st_mode) and st.st_uid == users[victim]
            assert stat.S_IMODE(st.st_mode) == 0o700, oct(st.st_mode)
        assert (default / "b1" / "timeline.jsonl").exists()
        default.chmod(0o755)  # one that others can enter is refused too
        r = as_user(lab_host, victim, "power", "b1", "on", run_dir=False)
        assert r.returncode == 3 and "mode 0755, not 0700" in r.stderr, r.stderr
    finally:
        shutil.rmtree(default, ignore_errors=True)


def test_xdg_runtime_dir_is_used_when_set(lab_host, users):
    victim = USERS[1]
    xdg = lab_host / "xdg"
    xdg.mkdir(mode=0o700)
    os.chown(xdg, users[victim], -1)
    r = as_user(lab_host, victim, "power", "b1", "on", run_dir=False,
                XDG_RUNTIME_DIR=str(xdg))
    assert r.returncode == 0, r.stderr
    assert (xdg / "hilctl" / "b1" / "timeline.jsonl").exists()
    assert stat.S_IMODE((xdg / "hilctl").stat().st_mode) == 0o700
    assert not pathlib.Path(f"/tmp/hilctl-{users[victim]}").exists()


def test_campaign_names_the_board_another_user_holds(lab_host, tmp_path, run_dir):
    from simlab import SIM_SCENARIO, SimLab, journal_lines, lab_file
    sim = SimLab(tmp_path, [{"name": "sim-01", "console": "tcp"},
                            {"name": "sim-02", "console": "tcp"}])
    lab = lab_host / "sim-lab.yaml"
    lab_file(lab, sim)
    lab.chmod(0o644)
    holder = holder_shell(lab_host, USERS[0],
                          f'"$HILCTL" --lab {lab} lock sim-02 && echo locked && read x')
    try:
        assert holder.stdout.readline().strip() == "locked", holder.stderr.read()
        out = tmp_path / "out"
        env = {**os.environ, "HILCTL_LOCK_DIR": str(lab_host / "lockparent" / "hilctl")}
        r = subprocess.run([hilctl_path(), "--lab", str(lab), "run", str(SIM_SCENARIO),
                            "--out", str(out), "-j2"], capture_output=True, text=True,
                           timeout=300, env=env)
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
        sim.stop()
    assert r.returncode == 0, r.stderr
    said = [l for l in r.stderr.splitlines() if l.startswith("boards: ")]
    assert len(said) == 2, r.stderr  # when it starts, and again above the gate
    assert all("-j2 asked for 2, running on 1 (sim-01); not available: sim-02 (locked by pid "
               in l for l in said), said
    records, _ = journal_lines(out)
    boards = {rec["run"]["board"] for rec in records if "run" in rec}
    assert boards == {"sim-01"}
    # The journal, summary.json, the HTML report and `hilctl report` name it too.
    (head,) = [rec["campaign"] for rec in records if "campaign" in rec]
    assert head["boards"] == ["sim-01"] and head["boards_asked"] == 2
    (held,) = head["boards_unavailable"]
    assert held["board"] == "sim-02" and "lock sim-02" in held["holder"]
    assert held["pid"] > 0
    summary = json.loads((out / "summary.json").read_text())
    (held_s,) = summary["boards_unavailable"]
    assert held_s["board"] == "sim-02" and held_s["pid"] == held["pid"]
    assert held_s["boards_asked"] == 2
    said_html = ("<dt>boards not available</dt><dd>-j2 asked for 2, ran on 1 (sim-01); "
                 f"not available: sim-02 (locked by pid {held['pid']}: ")
    assert said_html in (out / "report.html").read_text()
    rep = subprocess.run([hilctl_path(), "report", str(out), "--out", str(tmp_path / "rep")],
                         capture_output=True, text=True, timeout=60)
    assert rep.returncode == 0, rep.stderr
    assert (f"boards: -j2 asked for 2, ran on 1 (sim-01); not available: sim-02 (locked by "
            f"pid {held['pid']}: ") in rep.stdout, rep.stdout
