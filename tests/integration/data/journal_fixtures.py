"""Hand-made campaign directories that follow docs/journal.md, for the report
tests and the report screenshot (the campaign runner writes real ones).

    python3 tests/integration/data/journal_fixtures.py demo DIR   # a qualification-like campaign that fails
    python3 tests/integration/data/journal_fixtures.py pass DIR   # the same lab, every run allowed
    python3 tests/integration/data/journal_fixtures.py shards DIR # 4 shards, shard 2 missing

Each campaign directory holds journal.jsonl and runs/NNNN-BOARD/timeline.jsonl.
Console bytes are written the way lib/timeline.c and the journal writer do
it: every byte outside printable ASCII (and < > &) as \\u00XX of its value.
"""
import json
import os
import random
import sys

VERDICTS = ["upgraded", "rolled_back", "bricked", "boot_loop", "hung", "inconsistent",
            "infra_error"]


def esc_bytes(data):
    """A JSON string body for arbitrary bytes, as lib/timeline.c writes it."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    out = []
    for b in data:
        c = chr(b)
        if c in '"\\':
            out.append("\\" + c)
        elif c == "\t":
            out.append("\\t")
        elif 0x20 <= b < 0x7f and c not in "<>&":
            out.append(c)
        else:
            out.append("\\u%04x" % b)
    return "".join(out)


def bytes_field(data):
    """A JSON value (quoted) holding console bytes one code point per byte."""
    return '"' + esc_bytes(data) + '"'


class Timeline:
    """Writes one run's timeline file."""

    def __init__(self, path, board):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.f = open(path, "w")
        self.f.write('{"hilctl_timeline":1,"board":"%s","wall":"2026-11-25T01:22:40.001Z",'
                     '"t0":123456789}\n' % board)
        self.t = 0.0

    def at(self, t):
        self.t = max(self.t, t)
        return self

    def rec(self, kind, data, dt=0.0):
        self.t += dt
        self.f.write('{"t":%.9f,"k":"%s","d":%s}\n' % (self.t, kind, bytes_field(data)))
        return self.t

    def con(self, line, dt=0.01):
        return self.rec("con", line, dt)

    def close(self):
        self.f.close()


UBOOT = [
    "", "U-Boot 2023.01+dfsg-2 (Jan 05 2023 - 11:00:00 +0000)", "",
    "DRAM:  256 MiB", "Core:  51 devices, 14 uclasses, devicetree: board",
    "Flash: 64 MiB", "Loading Environment from Flash... OK",
    "In:    pl011@9000000", "Out:   pl011@9000000", "Err:   pl011@9000000",
    "Net:   eth0: virtio-net#32", "Hit any key to stop autoboot:  0",
]
KERNEL = [
    "[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x410fd034]",
    "[    0.000000] Linux version 6.1.0-27-cloud-arm64 (debian-kernel@lists.debian.org)",
    "[    0.000000] Machine model: linux,dummy-virt",
    "[    0.000000] efi: UEFI not found.",
    "[    0.000000] Kernel command line: console=ttyAMA0 root=/dev/vda2 rauc.slot=A",
    "[    0.152311] virtio_blk virtio1: [vda] 262144 512-byte logical blocks",
    "[    0.161920]  vda: vda1 vda2 vda3 vda4",
    "[    0.412233] i6300esb: Intel 6300ESB WatchDog Timer Driver v0.05",
    "[    0.530771] Run /init as init process",
    "\x1b[0;32m  OK  \x1b[0m] Mounted data partition /data.",
]


def boot(tl, slot, version, committed=True, first=False):
    tl.rec("power", "on", 0.0)
    for line in UBOOT:
        tl.con(line, 0.03)
    tl.con("Booting slot %s (boot_count=%d)" % (slot, 0 if committed else 1), 0.05)
    tl.rec("marker", "slot %s selected" % slot, 0.0)
    for line in KERNEL:
        tl.con(line, 0.09)
    tl.con("hilctl-probe: version=%d slot=%s committed=%d" % (version, slot, int(committed)),
           0.2)
    tl.rec("marker", "probe: version=%d" % version, 0.0)


def update(tl, stop_at):
    """The agent's update path; stops when tl.t passes stop_at (the fault)."""
    steps = [("hilctl-update: downloading http://10.0.2.2:8080/v2/bundle (8388608 bytes)",
              "download")]
    steps += [("hilctl-update: write offset %d" % (i * 1048576), "write") for i in range(8)]
    steps += [("hilctl-update: verify sha256 ok", "verify"),
              ("hilctl-update: copy boot files (kernel, initrd, boot.scr)", "bootfiles"),
              ("hilctl-update: boot flag -> slot B (trial, bootlimit=3)", "flip"),
              ("hilctl-update: rebooting into slot B", "reboot")]
    for text, phase in steps:
        if tl.t + 0.45 > stop_at:
            return phase
        tl.con(text, 0.45)
        if phase in ("download", "verify", "flip") or text.endswith(" 0"):
            tl.rec("marker", text.split(": ", 1)[1][:40], 0.0)
    return "done"


SCENARIOS = [
    # name, number of points, step (ms), fault kind
    ("cut-during-download", 8, 250, "power_cut"),
    ("cut-during-write", 24, 250, "power_cut"),
    ("cut-during-verify", 8, 100, "power_cut"),
    ("cut-during-bootfile-copy", 10, 50, "power_cut"),
    ("cut-during-flip", 16, 25, "power_cut"),
    ("cut-during-trial-boot", 12, 500, "power_cut"),
    ("cut-during-commit", 8, 50, "power_cut"),
    ("net-drop-mid-download", 10, 300, "network"),
    ("hang-before-commit", 6, 1000, "hang"),
    ("double-fault", 12, 400, "power_cut"),
]


def run_record(run_id, key, scenario, board, point, fault, verdict, allowed, reason, evidence,
               duration, timeline, seed=42):
    rec = {"run": {
        "id": run_id, "key": key, "scenario": scenario, "board": board, "seed": seed,
        "point": point, "fault": fault, "faults": [fault] if fault else [],
        "verdict": verdict, "allowed": allowed, "pass": verdict in allowed and verdict != "infra_error",
        "reason": "@@REASON@@", "evidence": "@@EVIDENCE@@",
        "started": "2026-11-25T01:%02d:%02d.000Z" % (22 + run_id // 60, run_id % 60),
        "duration_s": round(duration, 3), "timeline": timeline,
        "reproduce": "hilctl run scenarios/%s.yaml --lab fixtures/lab-qemu.yaml --board %s "
                     "--point %s --seed %d --out repro" % (scenario, board, point, seed)}}
    text = json.dumps(rec, separators=(",", ":"))
    ev = "[" + ",".join('{"t":%.6f,"k":"%s","d":%s}' % (t, k, bytes_field(d))
                        for t, k, d in evidence) + "]"
    return text.replace('"@@REASON@@"', bytes_field(reason)).replace('"@@EVIDENCE@@"', ev)


def campaign_record(cid, runs_planned, shard=(0, 1, 1), resumed=False, host="lab-host-1",
                    scenarios=None):
    rec = {"campaign": {
        "format": 1, "id": cid, "hilctl_version": "0.3-demo",
        "started": "2026-11-25T01:22:33.123Z", "host": host, "lab": "fixtures/lab-qemu.yaml",
        "boards": ["qemu-01", "qemu-02"],
        "scenarios": scenarios or [s[0] for s in SCENARIOS], "seed": 42,
        "descriptions": {s[0]: "A %s fault swept over %d points, %d ms apart." % (s[3], s[1], s[2])
                         for s in SCENARIOS},
        "runs_planned": runs_planned,
        "command": "hilctl qualify --lab fixtures/lab-qemu.yaml --out " + cid,
        "shard": {"index": shard[0], "count": shard[1], "attempt": shard[2]}}}
    if resumed:
        rec["campaign"]["resumed"] = True
    return json.dumps(rec)


def simulate(d, tl, scenario, kind, point_ms, failing):
    """Play one run into timeline tl; returns (verdict, reason, evidence)."""
    boot(tl, "A", 1)
    fault_at = tl.t + point_ms / 1000.0
    if kind == "network":
        tl.con("hilctl-update: downloading http://10.0.2.2:8080/v2/bundle (8388608 bytes)", 0.4)
        tl.at(fault_at).rec("network", "link down (set_link virtio-net off)", 0.0)
        tl.rec("fault", "network: link down 5 s", 0.0)
        tl.rec("server", "GET /v2/bundle 206 (stalled 2 s)", 0.3)
        tl.con("hilctl-update: http: connection timed out, retry 1/5", 2.0)
        tl.rec("network", "link up", 3.0)
        tl.con("hilctl-update: resuming at offset 3145728", 0.5)
        update(tl, 1e9)
        boot(tl, "B", 2, committed=False)
        tl.con("hilctl-update: self-test passed, marking slot B good", 0.5)
        ev = [(tl.con("hilctl-probe: version=2 slot=B committed=1", 0.2), "con",
               "hilctl-probe: version=2 slot=B committed=1")]
        return "upgraded", "new version 2 runs from slot B, committed", ev, fault_at
    phase = update(tl, fault_at)
    tl.at(fault_at)
    if kind == "hang":
        tl.rec("fault", "hang: SIGSTOP hilctl-update", 0.0)
        tl.con("i6300esb: watchdog did not stop!", 4.0)
        tl.rec("power", "off (watchdog reset)", 0.01)
    else:
        tl.rec("fault", "power_cut (phase %s)" % phase, 0.0)
        tl.rec("power", "off", 0.0)
        tl.t += 2.0
    if failing == "bricked":
        tl.rec("power", "on", 0.0)
        for line in UBOOT[:7]:
            tl.con(line, 0.03)
        tl.con("** Unable to read file boot.scr **", 0.1)
        tl.con(b"bootstate: \xff\xfe\x00\x00 bad magic, no valid slot", 0.05)
        e1 = tl.con("=> ", 0.05)
        for i in range(2):
            tl.rec("power", "cycle", 20.0)
            tl.con("U-Boot 2023.01+dfsg-2 (Jan 05 2023 - 11:00:00 +0000)", 0.5)
            tl.con("** Unable to read file boot.scr **", 0.1)
        e2 = tl.con("=> ", 0.05)
        ev = [(e1 - 0.05, "con", b"bootstate: \xff\xfe\x00\x00 bad magic, no valid slot"),
              (e2, "con", "=> ")]
        tl.rec("verdict", "bricked", 20.0)
        return ("bricked", "no boot to the probe after 2 power cycles (U-Boot stops at its "
                "prompt: boot state unreadable)", ev, fault_at)
    if failing == "boot_loop":
        for i in range(4):
            boot_t = tl.rec("power", "on", 0.1)
            for line in UBOOT[1:4]:
                tl.con(line, 0.03)
            tl.con("Booting slot B (boot_count=%d)" % (i + 1), 0.05)
            tl.con("[    0.530771] Kernel panic - not syncing: VFS: Unable to mount root fs", 0.6)
            tl.con("[    0.531002] ---[ end Kernel panic ]---", 0.01)
        ev = [(boot_t + 0.14, "con", "Booting slot B (boot_count=4)"),
              (tl.t, "con", "[    0.531002] ---[ end Kernel panic ]---")]
        tl.rec("verdict", "boot_loop", 0.5)
        return ("boot_loop", "U-Boot banner 4 times without a probe: boot_count never "
                "falls back (bootlimit ignored)", ev, fault_at)
    if phase in ("reboot", "done") or (kind == "hang" and point_ms > 3000):
        boot(tl, "B", 2, committed=False)
        tl.con("hilctl-update: self-test passed, marking slot B good", 0.6)
        t = tl.con("hilctl-probe: version=2 slot=B committed=1", 0.2)
        tl.rec("verdict", "upgraded", 0.1)
        return "upgraded", "new version 2 runs from slot B, committed", [
            (t, "con", "hilctl-probe: version=2 slot=B committed=1")], fault_at
    boot(tl, "A", 1)
    t = tl.t
    tl.rec("verdict", "rolled_back", 0.1)
    return "rolled_back", "old version 1 runs from slot A, committed", [
        (t, "con", "hilctl-probe: version=1 slot=A committed=1")], fault_at


def demo(d, failing=True, seed=7, shards=1, missing=()):
    """A qualification-like campaign: 10 scenarios, 2 boards; with failing,
    a seeded bug bricks three flip points and loops one trial boot. With
    shards > 1 the runs go to one journal per shard (journal-sI.jsonl), and
    the shards in missing never ran."""
    rnd = random.Random(seed)
    os.makedirs(d, exist_ok=True)
    cid = "20261125T012233Z-qualify-42"
    lines = [campaign_record(cid, sum(s[1] for s in SCENARIOS))]
    per_shard = [[campaign_record(cid, 0, shard=(k, shards, 1), host="lab-host-%d" % (k + 1))]
                 for k in range(shards)]
    run_id = 0
    bad = {("cut-during-flip", 7): "bricked", ("cut-during-flip", 8): "bricked",
           ("cut-during-flip", 9): "bricked", ("cut-during-trial-boot", 5): "boot_loop"}
    for scenario, n, step, kind in SCENARIOS:
        for i in range(n):
            run_id += 1
            board = "qemu-0%d" % (1 + (i % 2))
            point_ms = 200 + step * i + (0 if scenario != "cut-during-flip" else 4200)
            point = "%dms" % point_ms
            rel = "runs/%04d-%s/timeline.jsonl" % (run_id, board)
            tl = Timeline(os.path.join(d, rel), board)
            failing_as = bad.get((scenario, i)) if failing else None
            if failing and scenario == "double-fault" and i == 4:
                verdict, reason = "infra_error", "QEMU exited (signal 9) during recovery: not the board"
                ev = [(tl.con("qemu-system-aarch64: terminating on signal 9", 3.0), "note",
                       "qemu-01: QMP socket closed")]
                fault_at = 1.0
            else:
                verdict, reason, ev, fault_at = simulate(d, tl, scenario, kind, point_ms,
                                                         failing_as)
            tl.close()
            fault = {"kind": kind, "trigger": "marker 'hilctl-update: write offset' + %s" % point,
                     "injected": True, "at_s": round(fault_at, 6),
                     "latency_us": int(rnd.gauss(320, 60) if kind == "power_cut"
                                       else rnd.gauss(2100, 400)),
                     "phase": "write"}
            allowed = ["upgraded", "rolled_back"]
            rec = run_record(run_id, "%s/point=%s" % (scenario, point), scenario, board,
                             point, fault, verdict, allowed, reason, ev,
                             tl.t + rnd.uniform(0.5, 2.0), rel)
            lines.append(rec)
            per_shard[run_id % shards].append(rec)
    if failing:
        lines.append(json.dumps({"window": {"scenario": "cut-during-flip", "board": "qemu-02",
                                            "last_pass": "4550ms", "first_fail": "4575ms",
                                            "verdict": "bricked", "runs": 5}}))
        lines.append(json.dumps({"window": {"scenario": "cut-during-trial-boot",
                                            "board": "qemu-02", "last_pass": "2450ms",
                                            "first_fail": "2700ms", "verdict": "boot_loop",
                                            "runs": 3}}))
    end = json.dumps({"end": {"finished": "2026-11-25T02:31:07.000Z", "runs_done": run_id,
                              "complete": True, "interrupted": None}})
    lines.append(end)
    if shards == 1:
        with open(os.path.join(d, "journal.jsonl"), "w") as f:
            f.write("\n".join(lines) + "\n")
        return d
    for k in range(shards):
        if k not in missing:
            with open(os.path.join(d, "journal-s%d.jsonl" % k), "w") as f:
                f.write("\n".join(per_shard[k] + [end]) + "\n")
    return d


if __name__ == "__main__":
    what, where = sys.argv[1], sys.argv[2]
    if what == "shards":
        demo(where, failing=False, shards=4, missing=(2,))
    else:
        demo(where, failing=(what == "demo"))
