"""A soak: one long campaign on two simulated boards (data/sim_lab.py), with
the harness's processes watched from /proc while it runs. It must end with
0 hangs, every run in the journal once, no process left behind, no file
descriptor leaked by the campaign or its workers (the most open at the
start equals the most open at the end), and flat memory (RSS in the last
10 % of runs within 10 % + 1 MiB of the first 10 %).

CI runs 32 runs (about 40 s); `make soak` runs 500 (SOAK_RUNS) and
prints the figures. The figures also go to OUT/soak.json."""
import json
import os
import pathlib
import subprocess
import time

from simlab import (SIM_SCENARIO, SimLab, fd_count, journal_lines, lab_file, processes_mentioning,
                    rss_kib, runs, wait_for)

RUN_DEADLINE_S = 30  # one sim run takes 2-3 s; longer is a hang


def children(pid):
    kids = []
    for d in pathlib.Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, split after ')'
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            kids.append(int(d.name))
    return kids


def journal_run_count(out):
    try:
        return (out / "journal.jsonl").read_text().count('\n{"run":')
    except OSError:
        return 0


def window(samples, lo, hi, key, pick=max):
    """The largest (or, with pick=min, the smallest) value of key among
    samples taken while the journal held lo <= runs < hi."""
    vals = [s[key] for s in samples if lo <= s["runs"] < hi and s[key] is not None]
    return pick(vals) if vals else None


def test_soak(hilctl_bin, tmp_path, run_dir):
    total = int(os.environ.get("SOAK_RUNS", "32"))
    total -= total % 4  # 4 points per repeat
    sim = SimLab(tmp_path, [{"name": "sim-01", "console": "tcp"},
                            {"name": "sim-02", "console": "tcp"}])
    try:
        lab = lab_file(tmp_path / "lab.yaml", sim)
        out = tmp_path / "out"
        needles = (str(out), str(run_dir))
        procs_before = len(processes_mentioning(*needles))
        t0 = time.monotonic()
        p = subprocess.Popen([hilctl_bin, "--lab", str(lab), "run", str(SIM_SCENARIO), "-j2",
                              "--repeat", str(total // 4), "--out", str(out)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        samples = []
        deadline = t0 + total * RUN_DEADLINE_S / 2 + 60
        while p.poll() is None:
            assert time.monotonic() < deadline, "the campaign hung"
            workers = children(p.pid)
            n = journal_run_count(out)
            for pid, role in [(p.pid, "main")] + [(w, "worker") for w in workers]:
                samples.append({"runs": n, "role": role, "pid": pid, "fds": fd_count(pid),
                                "rss": rss_kib(pid)})
            time.sleep(0.2)
        err = p.stderr.read()
        elapsed = time.monotonic() - t0
        assert p.returncode == 0, err
        # Every run in the journal, once; none hung or took too long.
        records, tail = journal_lines(out)
        assert tail == ""
        done = runs(records)
        assert len(done) == total and len({r["key"] for r in done}) == total
        assert records[-1]["end"]["complete"] is True
        assert all(r["verdict"] in ("upgraded", "rolled_back") for r in done)
        longest = max(r["duration_s"] for r in done)
        assert longest < RUN_DEADLINE_S
        # No process left behind.
        wait_for(lambda: len(processes_mentioning(*needles)) == procs_before, 20,
                 "the campaign's processes to end")
        # fds and RSS: first 10 % of the runs against the last 10 %.
        tenth = max(total // 10, 2)
        figures = {"runs": total, "seconds": round(elapsed, 1), "longest_run_s": longest,
                   "processes_before": procs_before,
                   "processes_after": len(processes_mentioning(*needles))}
        for role in ("main", "worker"):
            mine = [s for s in samples if s["role"] == role]
            # fds: the resting count (the fewest seen), since a sample can
            # land while a run holds a connection open; a leak raises it.
            # (from the first finished run on: before it the process is still
            # opening its journal and pipes)
            first = {"fds": window(mine, 1, tenth, "fds", min), "rss": window(mine, 0, tenth, "rss")}
            last = {"fds": window(mine, total - tenth, total, "fds", min),
                    "rss": window(mine, total - tenth, total, "rss")}
            figures[role] = {"fds_first": first["fds"], "fds_last": last["fds"],
                             "rss_kib_first": first["rss"], "rss_kib_last": last["rss"]}
            assert None not in first.values() and None not in last.values(), (role, figures)
            assert last["fds"] <= first["fds"], f"{role} leaks file descriptors: {figures}"
            assert last["rss"] <= first["rss"] * 1.1 + 1024, f"{role} RSS grows: {figures}"
        (out / "soak.json").write_text(json.dumps(figures, indent=1))
        print("\nsoak:", json.dumps(figures))
    finally:
        sim.stop()
