#!/usr/bin/python3
"""bench/bench_slurm.py — what Slurm costs a campaign (make bench-slurm): the
dispatch overhead per shard, and how long a dead lab host's shards take to
run again.

The cluster is the one tests/integration/test_slurm.py starts (a real Slurm:
munged, slurmctld and three `slurmd -N host1..3` on 127.0.0.1, with
SchedulerParameters=batch_sched_delay=0 and SlurmdTimeout=10), over six
simulated boards (tests/integration/sim_lab.py: two per host, a raw TCP console
and a `command` power switch; the simulator stamps the first console byte
after each power-on).

Dispatch: each round submits fixtures/slurm/hilctl-shard.sbatch as an array of
6 shards of a 6-run campaign (one run per shard, one shard per board, so none
waits for a board). Per shard: submit (wall clock just before sbatch) to the
shard's first console byte = Slurm's dispatch + hilctl's start-up + the board
lookup (scontrol) + power on + console connect; split at the journal header
(written once the board is known); and for scale, the same array of bare
tasks (`date`): Slurm's own dispatch. BENCH_SLURM_ROUNDS (5).

Requeue (BENCH_SLURM_REQUEUE=1): a 6-shard campaign of 18 runs; when host2's
two shards have each journaled a run, host2 dies (its slurmd and every process
of its tasks, SIGKILL). Measured: kill to the tasks being back in the queue
(scontrol polled every 0.5 s), and kill to the first console byte of a
requeued shard, released with `scontrol update JobId=… StartTime=now` as soon
as it is queued (without that, Slurm 22.05 holds it about two minutes more).
"""
import datetime
import json
import os
import sys
import time

import benchlib as B

sys.path.insert(0, os.path.join(B.ROOT, "tests", "integration"))
from sim_lab import SimLab  # noqa: E402
from slurm_cluster import SlurmCluster  # noqa: E402

SBATCH = os.path.join(B.ROOT, "fixtures", "slurm", "hilctl-shard.sbatch")
HOSTS = ["host1", "host2", "host3"]


def iso_ts(s):
    return datetime.datetime.strptime(s.replace("Z", "+0000"),
                                      "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def headers(out):
    got = {}
    for name in sorted(os.listdir(out)):
        if name.startswith("journal-") and name.endswith(".jsonl"):
            with open(os.path.join(out, name)) as f:
                lines = [json.loads(x) for x in f.read().splitlines() if x.strip()]
            got[name] = lines
    return got


def first_byte_after(lab, board, t):
    times = [ht for ht, b, what in lab.history() if b == board and what == "first-byte" and ht >= t]
    return min(times) if times else None


def submit(lab, slurm, out, shards, scenario):
    os.makedirs(out)
    t = time.time()
    r = slurm.run("sbatch", "--parsable", "--array=0-%d" % (shards - 1),
                  "--output=%s/slurm-%%A_%%a.out" % out, SBATCH, "--lab", str(lab.lab), "run",
                  str(scenario), "--out", out, env=lab.env)
    return t, r.stdout.strip().split(";")[0]


def wait_done(slurm, job, timeout):
    try:
        B.wait_for(lambda: not slurm.run("squeue", "-h", "-j", job, check=False).stdout.strip(),
                   timeout, "array job %s finished" % job, tick=0.2)
    except TimeoutError:
        print(slurm.run("squeue", "-j", job, "-o", "%A %i %T %r %N %S", check=False).stdout,
              file=sys.stderr)
        raise


def dispatch(sec, lab, slurm, base, rounds):
    six = os.path.join(base, "six.yaml")
    with open(lab.scenario) as f:
        text = f.read().replace("to: 18,", "to: 6,")
    with open(six, "w") as f:
        f.write(text)
    total, to_header, header_to_byte = [], [], []
    for r in range(rounds):
        out = os.path.join(base, "dispatch-%d" % r)
        t_submit, job = submit(lab, slurm, out, 6, six)
        wait_done(slurm, job, 120)
        for name, recs in headers(out).items():
            head = recs[0]["campaign"]
            t_head = iso_ts(head["started"])
            t_byte = first_byte_after(lab, head["boards"][0], t_submit)
            if t_byte is None:
                sec.note("round %d: %s: no console byte seen" % (r, name))
                continue
            total.append(t_byte - t_submit)
            to_header.append(t_head - t_submit)
            header_to_byte.append(t_byte - t_head)
    sec.figure("dispatch overhead per shard: submit to first console byte (median / p90)",
               "%.2f / %.2f" % (B.median(total), B.pct(total, 90)), "s",
               "sbatch of a 6-shard array on 6 free boards, %d rounds (%d shards): wall clock "
               "before sbatch to the simulated board's first console byte" % (rounds, len(total)))
    bare = []
    for r in range(rounds):
        out = os.path.join(base, "bare-%d" % r)
        os.makedirs(out)
        t = time.time()
        job = slurm.run("sbatch", "--parsable", "--array=0-5", "--gres=board:1",
                        "--output=%s/%%a.out" % out, "--wrap", "date +%s.%N").stdout.strip()
        wait_done(slurm, job, 120)
        for i in range(6):
            with open(os.path.join(out, "%d.out" % i)) as f:
                bare.append(float(f.read().split()[0]) - t)
    sec.figure("  Slurm alone: submit to a bare task's first command (median / p90)",
               "%.2f / %.2f" % (B.median(bare), B.pct(bare, 90)), "s",
               "the same array (6 tasks, --gres=board:1) running `date +%s.%N`, same rounds")
    sec.figure("  of it: submit to journal header (Slurm dispatch, hilctl start, board lookup)",
               "%.2f" % B.median(to_header), "s", "median; the header is written once the "
               "task knows its board (scontrol -o show job -d)")
    sec.figure("  of it: journal header to first console byte (power on, console)",
               "%.3f" % B.median(header_to_byte), "s", "median")
    return {"total_s": total, "to_header_s": to_header, "header_to_byte_s": header_to_byte,
            "bare_task_s": bare}


def requeue(sec, lab, slurm, base):
    out = os.path.join(base, "requeue")
    _, job = submit(lab, slurm, out, 6, lab.scenario)

    def host2_busy():
        running = slurm.running_on("host2")
        started = [n for n, rs in headers(out).items() if "-host2-" in n and len(rs) >= 2]
        return running if len(running) == 2 and len(started) == 2 else None
    victims = B.wait_for(host2_busy, 120, "host2 running two shards", tick=0.2)
    dead = {v[0] for v in victims}
    t_kill = time.time()
    slurm.kill_host("host2")
    t_queued = None
    try:
        def released():
            nonlocal t_queued
            jobs = slurm.jobs(job)
            back = [j for j in dead if jobs.get(j, {}).get("JobState") == "PENDING"
                    and int(jobs[j].get("Restarts", "0")) >= 1]
            if back and t_queued is None:
                t_queued = time.time()
            for j in back:
                slurm.run("scontrol", "update", "JobId=%s" % j, "StartTime=now", check=False)
            return len(back) == len(dead)
        B.wait_for(released, 180, "host2's shards requeued", tick=0.5)
        wait_done(slurm, job, 240)
    finally:
        slurm.start_host("host2")
    again = [rs for n, rs in headers(out).items() if "-a2-" in n]
    t_bytes = [first_byte_after(lab, rs[0]["campaign"]["boards"][0],
                                iso_ts(rs[0]["campaign"]["started"])) for rs in again]
    t_bytes = [t for t in t_bytes if t]
    sec.figure("a dead host's shards back in the queue", "%.1f" % (t_queued - t_kill), "s",
               "SIGKILL of host2's slurmd and its tasks to their JobState=PENDING with "
               "Restarts=1 (SlurmdTimeout=10; scontrol polled every 0.5 s)")
    if t_bytes:
        sec.figure("a dead host's shard running again elsewhere", "%.1f" % (min(t_bytes) - t_kill),
                   "s", "kill to the first console byte of the first requeued attempt, "
                   "released with scontrol update StartTime=now as soon as it was queued")
    return {"kill_to_queued_s": t_queued - t_kill,
            "kill_to_first_byte_s": [t - t_kill for t in t_bytes]}


def main():
    if os.geteuid() != 0:
        print("bench-slurm: slurmd runs as root; run it as root", file=sys.stderr)
        sys.exit(2)
    B.need(B.HILCTL, "run make first")
    rounds = B.env_int("BENCH_SLURM_ROUNDS", 5)
    do_requeue = B.env_int("BENCH_SLURM_REQUEUE", 1)
    sec = B.Section("slurm", "Slurm: dispatch overhead per shard, requeue after a host dies")
    sec.param(BENCH_SLURM_ROUNDS=rounds, BENCH_SLURM_REQUEUE=do_requeue, hosts=3,
              boards_per_host=2)
    base = B.private_dir("slurm")
    env, _ = B.hil_env("slurm-hil")
    lab = SimLab(os.path.join(base, "lab"), B.HILCTL, HOSTS, boards_per_host=2, points=18,
                 env={"HILCTL": B.HILCTL, "HILCTL_LOCK_DIR": env["HILCTL_LOCK_DIR"],
                      "HILCTL_RUN_DIR": env["HILCTL_RUN_DIR"]})
    raw = {}
    try:
        with SlurmCluster(os.path.join(base, "slurm"), lab.gres) as slurm:
            raw["dispatch"] = dispatch(sec, lab, slurm, base, rounds)
            if do_requeue:
                raw["requeue"] = requeue(sec, lab, slurm, base)
    finally:
        lab.stop()
    sec.note("Slurm 22.05 (Debian) on one machine, three slurmd -N on 127.0.0.1; simulated "
             "boards, so the figures are Slurm's and hilctl's own cost, not a board's boot")
    sec.save(raw)


if __name__ == "__main__":
    main()
