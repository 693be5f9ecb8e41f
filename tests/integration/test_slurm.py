"""A campaign on a real Slurm (Debian's slurmctld, slurmd, munge) on this
machine: three `slurmd -N hostN` stand for three lab hosts with two boards
each, the boards are GRES written by `hilctl gres`, and the shards run as an
array from fixtures/slurm/hilctl-shard.sbatch. The boards are simulated
(sim_lab.py, data/sim_board.py: a raw TCP console and a command-driven power
switch printing the reference board's markers), so a run takes about a second.

Shown here: every run of the campaign is in the merged report exactly once,
no board served two tasks at once (from the journals' own timestamps), a
host that dies mid-campaign has its shards requeued and the merged gate
still counts every run once, and a task that cannot tell its board refuses
to start."""
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import shutil

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from conftest import ROOT, hilctl_path  # noqa: E402
from sim_lab import SimLab  # noqa: E402
from slurm_cluster import SlurmCluster, wait_for  # noqa: E402

HOSTS = ["host1", "host2", "host3"]
SBATCH = ROOT / "fixtures" / "slurm" / "hilctl-shard.sbatch"


class Rack(SimLab):
    """The simulated lab (six boards on three hosts) and Slurm over it."""

    def __init__(self, base):
        super().__init__(base, hilctl_path(), HOSTS, boards_per_host=2, points=18,
                         env={"HILCTL": hilctl_path(), "HILCTL_LOCK_DIR": str(base / "locks"),
                              "HILCTL_RUN_DIR": str(base / "run")})
        self.slurm = SlurmCluster(base / "slurm", self.gres)

    def submit(self, out, shards, *extra):
        r = self.slurm.run("sbatch", "--parsable", f"--array=0-{shards - 1}",
                           f"--output={out}/slurm-%A_%a.out", *extra, str(SBATCH),
                           "--lab", str(self.lab), "run", str(self.scenario), "--out", str(out),
                           env=self.env)
        return r.stdout.strip().split(";")[0]

    def wait_done(self, job, timeout):
        wait_for(f"array job {job} finished",
                 lambda: not self.slurm.run("squeue", "-h", "-j", job, check=False).stdout.strip(),
                 timeout, step=0.3)


@pytest.fixture(scope="module")
def rack():
    base = pathlib.Path(tempfile.mkdtemp(prefix="hs", dir="/tmp"))
    r = None
    try:
        r = Rack(base)
        with r.slurm:
            yield r
    finally:
        if r:
            r.stop()
        shutil.rmtree(base, ignore_errors=True)


def journals(out):
    """{file name: [records]} of every shard journal in out."""
    got = {}
    for p in sorted(pathlib.Path(out).glob("journal-*.jsonl")):
        got[p.name] = [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
    return got


def planned_keys(rack):
    r = rack.hilctl("run", rack.scenario, "--dry-run", "--out", rack.base / "plan")
    assert r.returncode == 0, r.stderr
    return sorted(line for line in r.stdout.splitlines() if "/point=" in line)


def merge(rack, out):
    r = rack.hilctl("report", "--merge", "--out", out / "merged", out)
    summary = json.loads((out / "merged" / "summary.json").read_text())
    for run in summary["runs"]:
        if run["verdict"] == "infra_error":  # say why, should the gate not pass
            r.stdout += f"\n{run['board']} {run['key']}: {run['reason']}"
    return r, summary


def board_intervals(recs_by_file):
    """(board, start, end, file) of every attempt that ran, from its journal:
    the header's start to its end record or its last run's end."""
    from datetime import datetime

    def t(s):
        return datetime.strptime(s.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()

    out = []
    for name, recs in recs_by_file.items():
        head = recs[0]["campaign"]
        start = t(head["started"])
        end = start
        for rec in recs[1:]:
            if "run" in rec:
                end = max(end, t(rec["run"]["started"]))
            if "end" in rec:
                end = max(end, t(rec["end"]["finished"]))
        for b in head["boards"]:
            out.append((b, start, end, name))
    return out


def assert_no_board_shared(recs_by_file):
    iv = sorted(board_intervals(recs_by_file))
    for (b1, s1, e1, f1), (b2, s2, e2, f2) in zip(iv, iv[1:]):
        if b1 == b2:
            assert s2 >= e1, f"board {b1} used by {f1} and {f2} at once"


def test_a_task_that_cannot_tell_its_board_refuses_to_start(rack, tmp_path):
    # No --gres: Slurm gives the task no board, so it must not pick one.
    out = tmp_path / "nogres"
    out.mkdir()
    r = rack.slurm.run("sbatch", "--parsable", "--array=0-1", f"--output={out}/%a.out",
                       "--wrap", f"{hilctl_path()} --lab {rack.lab} run {rack.scenario} "
                       f"--out {out} --shard auto; echo exit=$?", env=rack.env)
    job = r.stdout.strip()
    rack.wait_done(job, 60)
    for i in range(2):
        text = (out / f"{i}.out").read_text()
        assert "was given no board: submit it with --gres=board:1" in text, text
        assert "exit=2" in text, text
    assert not list(out.glob("journal*")), "a refused shard wrote no journal"
    history = rack.sim_dir / "history"
    assert not history.exists() or " on\n" not in history.read_text(), "no board powered"


def test_taskprolog_exports_the_index_of_the_tasks_own_board(rack, tmp_path):
    # fixtures/slurm/taskprolog.sh run inside array tasks (as slurmd would run
    # a TaskProlog): its export names the IDX of the task's own record.
    out = tmp_path / "prolog"
    out.mkdir()
    prolog = ROOT / "fixtures" / "slurm" / "taskprolog.sh"
    r = rack.slurm.run("sbatch", "--parsable", "--array=0-3", "--gres=board:1",
                       f"--output={out}/%a.out", "--wrap",
                       f"sh {prolog}; echo job=$SLURM_JOB_ID; "
                       "scontrol -o show job -d $SLURM_JOB_ID", env=rack.env)
    rack.wait_done(r.stdout.strip(), 60)
    for i in range(4):
        lines = (out / f"{i}.out").read_text().splitlines()
        export, job = lines[0], lines[1].split("=")[1]
        own = [line for line in lines[2:] if line.startswith(f"JobId={job} ")]
        assert len(own) == 1
        idx = own[0].split("GRES=board:1(IDX:")[1].split(")")[0]
        assert export == f"export HILCTL_GRES_IDX={idx}"


def test_campaign_over_three_hosts_counts_every_run_once(rack, tmp_path):
    out = tmp_path / "camp"
    out.mkdir()
    job = rack.submit(out, 9)
    rack.wait_done(job, 150)
    recs = journals(out)
    assert len(recs) == 9, sorted(recs)
    hosts = set()
    for name, rs in recs.items():
        head, end = rs[0]["campaign"], rs[-1].get("end")
        assert end and end["complete"], f"{name} did not finish: {rs[-1]}"
        assert name.startswith(f"journal-s{head['shard']['index']}of9-a1-{head['host']}-")
        assert rack.boards[head["boards"][0]] == head["host"], "the board is one of its host's"
        for rec in rs[1:-1]:
            run = rec["run"]
            assert (run["host"], run["board"], run["shard"]["index"]) == \
                (head["host"], head["boards"][0], head["shard"]["index"])
        hosts.add(head["host"])
    assert hosts == set(HOSTS)
    assert_no_board_shared(recs)
    r, summary = merge(rack, out)
    assert r.returncode == 0, r.stdout + r.stderr
    keys = [run["key"] for run in summary["runs"]]
    assert sorted(keys) == planned_keys(rack), "every planned run exactly once"
    assert summary["gate"]["decision"] == "pass"
    assert [s["status"] for s in summary["shards"]] == ["complete"] * 9


def test_a_dead_host_has_its_shards_requeued_and_counted_once(rack, tmp_path):
    out = tmp_path / "dead"
    # hilctl submit this time (the sbatch script above): the same array.
    r = rack.hilctl("submit", "--shards", "6", "--", "run", rack.scenario, "--out", out,
                    env={"SLURM_CONF": str(rack.slurm.conf)})
    assert r.returncode == 0, r.stderr
    job = r.stdout.strip()
    assert f"hilctl report --merge --out {out}/merged {out}" in r.stderr
    slurm = rack.slurm
    # Wait until host2's two shards have each journaled a run, then the host dies.
    def host2_busy():
        running = slurm.running_on("host2")
        recs = journals(out)
        started = [n for n, rs in recs.items() if "-host2-" in n and len(rs) >= 2]
        return len(running) == 2 and len(started) == 2 and running
    victims = wait_for("host2 running two shards", host2_busy, 90, step=0.2)
    killed_at = time.time()
    slurm.kill_host("host2")
    dead_ids = {v[0] for v in victims}
    try:
        # slurmctld notices (SlurmdTimeout=10), requeues the tasks and holds
        # them for a while: release each as soon as it is back in the queue.
        def requeued():
            jobs = slurm.jobs(job)
            waiting = [j for j in dead_ids if jobs.get(j, {}).get("JobState") == "PENDING"
                       and int(jobs[j].get("Restarts", "0")) >= 1]
            for j in waiting:
                slurm.run("scontrol", "update", f"JobId={j}", "StartTime=now", check=False)
            return len(waiting) == len(dead_ids)
        wait_for("host2's shards requeued", requeued, 90, step=0.5)
        rack.wait_done(job, 120)
    finally:
        slurm.start_host("host2")
    recs = journals(out)
    dead = {n: rs for n, rs in recs.items() if "-host2-" in n}
    assert len(dead) == 2 and all("end" not in rs[-1] for rs in dead.values()), \
        "host2's attempts were cut off without an end record"
    again = {n: rs for n, rs in recs.items() if "-a2-" in n}
    assert len(again) == 2, sorted(recs)
    for rs in again.values():
        assert rs[0]["campaign"]["host"] != "host2" and rs[-1]["end"]["complete"]
    requeue_s = min(
        __import__("datetime").datetime.strptime(
            rs[0]["campaign"]["started"].replace("Z", "+0000"),
            "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() for rs in again.values()) - killed_at
    print(f"host killed to first requeued shard started: {requeue_s:.1f} s")
    assert_no_board_shared(recs)
    r, summary = merge(rack, out)
    assert r.returncode == 0, r.stdout + r.stderr
    keys = [run["key"] for run in summary["runs"]]
    assert sorted(keys) == planned_keys(rack), "every planned run exactly once"
    shards = summary["shards"]
    assert [s["status"] for s in shards] == ["complete"] * 6
    assert sorted(s["attempts"] for s in shards) == [1, 1, 1, 1, 2, 2]
    assert summary["gate"]["decision"] == "pass"
    wait_for("host2 back in service", slurm.all_idle, 30, step=0.5)


def test_outside_slurm_shards_take_free_boards_by_lock(rack, tmp_path):
    # Two shards at once on host1 (two boards) take one board each.
    out = tmp_path / "desk"
    env = {**os.environ, **rack.env, "HILCTL_HOST": "host1"}
    procs = [subprocess.Popen([hilctl_path(), "--lab", str(rack.lab), "run", str(rack.scenario),
                               "--out", str(out), "--shard", f"{i}/9", "--board", "auto"],
                              env=env, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    boards = sorted(rs[0]["campaign"]["boards"][0] for rs in journals(out).values())
    assert boards == ["sim-1a", "sim-1b"]
    # With both boards held (here by a shell's hilctl lock), a shard says so
    # and stops: exit 3, the lab is busy, retry later.
    holder = subprocess.Popen(["sh", "-c", f"{hilctl_path()} --lab {rack.lab} lock sim-1a && "
                               f"{hilctl_path()} --lab {rack.lab} lock sim-1b && echo held && "
                               "exec sleep 60"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        third = rack.hilctl("run", rack.scenario, "--out", out, "--shard", "2/9", "--board",
                            "auto", env={"HILCTL_HOST": "host1"})
    finally:
        holder.kill()
        holder.wait()
    assert third.returncode == 3, third.stderr
    assert "all 2 boards of host host1 that fit are locked" in third.stderr
