"""A real Slurm on this machine, for tests and benchmarks: munged with its own
key and socket, slurmctld, and one `slurmd -N hostN` per simulated lab host,
all on 127.0.0.1 with their own ports and state under one directory.

    with SlurmCluster(tmpdir, {"host1": gres_lines, ...}) as sc:
        sc.run("sbatch", ...)     # SLURM_CONF and the munge socket are set

Nothing here is hilctl: it is the lab's scheduler as Debian ships it
(slurmctld, slurmd, slurm-client, munge). stop() ends every daemon it
started (by pid) and every task process the slurmds left behind."""
import os
import pathlib
import signal
import socket
import subprocess
import time

SBIN = "/usr/sbin"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, timeout, step=0.1):
    """Poll check() until it returns something true; fail naming what."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(step)


def descendants(pid):
    """Every process below pid (read from /proc)."""
    children = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(p))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class SlurmCluster:
    def __init__(self, base, hosts, cpus=2, task_prolog=None, extra_conf=""):
        """hosts: {name: [gres.conf lines for that host]} (from hilctl gres)."""
        self.base = pathlib.Path(base)
        self.hosts = hosts
        self.cpus = cpus
        self.task_prolog = task_prolog
        self.extra_conf = extra_conf
        self.procs = {}      # name -> Popen of a daemon in the foreground
        self.conf = self.base / "etc" / "slurm.conf"
        self.munge_socket = self.base / "munge" / "munge.socket"
        self.env = dict(os.environ, SLURM_CONF=str(self.conf))

    # ---- set up ----
    def write_config(self):
        for d in ("etc", "munge", "ctld", "spool", "log"):
            (self.base / d).mkdir(parents=True, exist_ok=True)
        os.chmod(self.base / "munge", 0o700)
        key = self.base / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        self.ctld_port = free_port()
        nodes, gres = [], []
        for name, lines in self.hosts.items():
            port = free_port()
            nodes.append(f"NodeName={name} NodeHostname={socket.gethostname()} "
                         f"NodeAddr=127.0.0.1 Port={port} CPUs={self.cpus} "
                         f"Gres=board:{len(lines)} State=UNKNOWN")
            gres += lines
        b = self.base
        prolog = f"TaskProlog={self.task_prolog}\n" if self.task_prolog else ""
        self.conf.write_text(f"""\
ClusterName=hiltest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={self.ctld_port}
AuthType=auth/munge
AuthInfo=socket={self.munge_socket}
SlurmUser=root
SlurmdUser=root
StateSaveLocation={b}/ctld
SlurmdSpoolDir={b}/spool/%n
SlurmctldPidFile={b}/ctld/slurmctld.pid
SlurmdPidFile={b}/spool/slurmd-%n.pid
SlurmctldLogFile={b}/log/slurmctld.log
SlurmdLogFile={b}/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
MpiDefault=none
GresTypes=board
SchedulerParameters=batch_sched_delay=0
SlurmdTimeout=10
ReturnToService=2
JobCompType=jobcomp/filetxt
JobCompLoc={b}/log/jobcomp.txt
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
{prolog}{self.extra_conf}
{chr(10).join(nodes)}
PartitionName=lab Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
        (self.base / "etc" / "gres.conf").write_text("\n".join(gres) + "\n")

    def start(self):
        self.write_config()
        m = self.base / "munge"
        self.procs["munged"] = subprocess.Popen(
            [f"{SBIN}/munged", "--foreground", "--force", f"--socket={self.munge_socket}",
             f"--key-file={m}/munge.key", f"--pid-file={m}/munged.pid",
             f"--seed-file={m}/munged.seed", f"--log-file={m}/munged.log"],
            stdout=subprocess.DEVNULL, stderr=open(m / "munged.err", "w"))
        wait_for("munged's socket", self.munge_socket.exists, 10)
        self.procs["slurmctld"] = subprocess.Popen(
            [f"{SBIN}/slurmctld", "-D", "-i"], env=self.env,
            stdout=subprocess.DEVNULL, stderr=open(self.base / "log" / "ctld.err", "w"))
        wait_for("slurmctld answering", lambda: self.run("scontrol", "ping", check=False)
                 .stdout.count("UP") > 0, 20, step=0.2)
        for name in self.hosts:
            self.start_host(name)
        wait_for("every node idle", self.all_idle, 30, step=0.2)
        return self

    def start_host(self, name):
        self.procs[f"slurmd-{name}"] = subprocess.Popen(
            [f"{SBIN}/slurmd", "-D", "-N", name], env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.base / "log" / f"slurmd-{name}.err", "a"))

    def all_idle(self):
        r = self.run("sinfo", "-h", "-N", "-o", "%N %t", check=False)
        states = dict(line.split() for line in r.stdout.splitlines() if line.strip())
        return len(states) == len(self.hosts) and all(s == "idle" for s in states.values())

    # ---- use ----
    def run(self, *args, check=True, timeout=30, **kw):
        return subprocess.run(list(args), env={**self.env, **kw.pop("env", {})},
                              capture_output=True, text=True, check=check, timeout=timeout,
                              **kw)

    def jobs(self, job_id):
        """{task job id: {field: value}} of every task of an array job
        (scontrol -o show job, one record per task)."""
        r = self.run("scontrol", "-o", "show", "job", str(job_id), check=False)
        out = {}
        for line in r.stdout.splitlines():
            rec = dict(f.split("=", 1) for f in line.split() if "=" in f)
            if "JobId" in rec:
                out[rec["JobId"]] = rec
        return out

    def kill_host(self, name):
        """The host dies: its slurmd and every task it started, at once.
        Returns the pids killed."""
        slurmd = self.procs.pop(f"slurmd-{name}")
        steps = []
        for job_id, rec in self.running_on(name):
            for p in os.listdir("/proc"):
                if p.isdigit() and f"[{job_id}." in cmdline(int(p)) and \
                        cmdline(int(p)).startswith("slurmstepd"):
                    steps.append(int(p))
        victims = [slurmd.pid] + steps + [d for s in steps for d in descendants(s)]
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        slurmd.wait(timeout=10)
        return victims

    def running_on(self, node):
        r = self.run("squeue", "-h", "-w", node, "-t", "R", "-o", "%A %N", check=False)
        return [tuple(line.split()) for line in r.stdout.splitlines() if line.strip()]

    # ---- tear down ----
    def stop(self):
        # Tasks first (scancel), then the daemons, then anything a slurmd left.
        try:
            self.run("scancel", "--user", "root", check=False, timeout=10)
        except (subprocess.TimeoutExpired, OSError):
            pass
        stray = []
        for name, p in self.procs.items():
            if name.startswith("slurmd-"):
                stray += [d for d in descendants(p.pid)]
        for pid in self.stepds():
            stray += [pid] + descendants(pid)
        for name in sorted(self.procs, key=lambda n: n == "munged"):
            p = self.procs[name]
            if p.poll() is None:
                p.terminate()
        for name, p in self.procs.items():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        for pid in stray:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.procs = {}

    def stepds(self):
        """slurmstepd processes reading this cluster's config (ours only)."""
        out = []
        for p in os.listdir("/proc"):
            if not p.isdigit() or not cmdline(int(p)).startswith("slurmstepd"):
                continue
            try:
                with open(f"/proc/{p}/environ", "rb") as f:
                    if f"SLURM_CONF={self.conf}".encode() in f.read():
                        out.append(int(p))
            except OSError:
                pass
        return out

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()
