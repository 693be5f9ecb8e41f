#!/usr/bin/python3
"""sim_lab.py — simulated boards for the lab-fault and soak tests: fast,
deterministic stand-ins for a rack, so that hundreds of runs fit in minutes.

    sim_lab.py CONFIG.json

CONFIG: {"dir": STATE_DIR, "boards": [BOARD, ...]}, each BOARD
    {"name": N, "console": "tcp", "port": P}     a raw TCP console (as ser2net serves)
    {"name": N, "console": "pty", "link": PATH}  a pty whose slave PATH links to (a USB-UART)

Power is a file, STATE_DIR/N.power ("on"/"off"), written by sim_power.sh
(the command power driver's on/off/status, or pdudaemon's localcmdline);
the lab polls it every few ms. STATE_DIR/N.unplug (created by a test) pulls
the console out for good: the pty's master is closed and its link removed,
or the TCP listener and connection are closed. STATE_DIR/ready appears when
every console listens.

A board boots to "hilctl-probe: version=V slot=S committed=C" and a prompt
"sim# ". It answers:
    sim-factory-reset          back to version 1 on slot A, then reboot
    hilctl-update ...          download start, write offset=0..7340032 (1 MiB
                               steps), flip, reboot into version 2 on trial,
                               commit
    echo hilctl-alive-$((6*7)) hilctl-alive-42
A power cut drops everything in flight; what was flipped stays flipped.
Output made while no client is connected waits for one (a ser2net buffer),
and is dropped at power off."""
import errno
import json
import os
import pty
import selectors
import socket
import sys
import time
import tty

STEP_S = 0.01
WRITE_S = 0.15  # per MiB written: a power cut (a command, ~0.1 s here) lands near its point
BOOT_S = 0.03
WRITE_STEPS = 8


class Board:
    def __init__(self, lab, cfg):
        self.lab, self.name, self.cfg = lab, cfg["name"], cfg
        self.power_path = os.path.join(lab.dir, self.name + ".power")
        self.unplug_path = os.path.join(lab.dir, self.name + ".unplug")
        self.powered = False
        self.version, self.slot, self.committed = "1", "A", True
        self.timers = []  # (when, fn)
        self.out = b""
        self.inbuf = b""
        self.client = None
        self.listener = None
        self.master = None
        self.unplugged = False
        self.pty_idle = False  # nobody holds the slave: poll it on ticks, not in select
        if cfg["console"] == "tcp":
            self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.listener.bind(("127.0.0.1", cfg["port"]))
            self.listener.listen(4)
            self.listener.setblocking(False)
            lab.sel.register(self.listener, selectors.EVENT_READ, ("accept", self))
        else:
            self.master, slave = pty.openpty()
            tty.setraw(slave)
            name = os.ttyname(slave)
            os.close(slave)  # hilctl opens it; the master keeps the pty alive
            os.set_blocking(self.master, False)
            link = cfg["link"]
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(name, link)
            lab.sel.register(self.master, selectors.EVENT_READ, ("pty", self))

    # ---- console ----
    def say(self, text):
        if self.powered:
            self.out += text.encode()
            self.flush()

    def flush(self):
        if not self.out:
            return
        try:
            if self.client is not None:
                n = self.client.send(self.out)
            elif self.master is not None:
                n = os.write(self.master, self.out)
            else:
                return
            self.out = self.out[n:]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self.drop_client()

    def drop_client(self):
        if self.client is not None:
            self.lab.sel.unregister(self.client)
            self.client.close()
            self.client = None

    def on_input(self, data):
        self.inbuf += data
        while b"\n" in self.inbuf:
            line, self.inbuf = self.inbuf.split(b"\n", 1)
            self.command(line.decode(errors="replace").strip("\r"))

    def command(self, line):
        if not self.powered:
            return
        if line == "sim-factory-reset":
            self.version, self.slot, self.committed = "1", "A", True
            self.say("sim: factory reset\r\n")
            self.after(STEP_S, self.boot)
        elif line.startswith("hilctl-update"):
            self.update()
        elif line == "echo hilctl-alive-$((6*7))":
            self.say("hilctl-alive-42\r\nsim# ")
        else:
            self.say("sim# ")

    # ---- the board ----
    def after(self, delay, fn):
        self.timers.append((time.monotonic() + delay, fn))

    def boot(self):
        self.timers = []
        self.say("U-Boot 2023.01-sim\r\n")
        self.say(f"hilctl-probe: version={self.version} slot={self.slot} "
                 f"committed={int(self.committed)}\r\n")
        if not self.committed:
            self.after(STEP_S * 2, self.commit)
        else:
            self.say("sim# ")

    def commit(self):
        self.committed = True
        self.say(f"hilctl-agent: commit slot={self.slot}\r\nsim# ")

    def update(self):
        t = STEP_S
        self.after(t, lambda: self.say("hilctl-agent: download start\r\n"))
        for i in range(WRITE_STEPS):
            t += WRITE_S
            self.after(t, lambda i=i: self.say(f"hilctl-agent: write offset={i * 1048576}\r\n"))
        t += STEP_S
        self.after(t, self.flip)

    def flip(self):
        self.version, self.slot, self.committed = "2", "B", False
        self.say("hilctl-agent: flip slot=B\r\nsim: rebooting\r\n")
        self.after(STEP_S, self.boot)

    def set_power(self, on):
        if on == self.powered:
            return
        self.powered = on
        self.timers = []
        self.inbuf = b""
        if on:
            self.after(BOOT_S, self.boot)
        else:
            self.out = b""

    def unplug(self):
        self.unplugged = True
        self.drop_client()
        if self.listener is not None:
            self.lab.sel.unregister(self.listener)
            self.listener.close()
            self.listener = None
        if self.master is not None:
            if not self.pty_idle:
                self.lab.sel.unregister(self.master)
            os.close(self.master)
            self.master = None
            try:
                os.unlink(self.cfg["link"])
            except FileNotFoundError:
                pass

    def tick(self, now):
        try:
            with open(self.power_path) as f:
                self.set_power(f.read().strip() == "on")
        except FileNotFoundError:
            self.set_power(False)
        if self.pty_idle and self.master is not None:
            self.pty_idle = False
            self.lab.sel.register(self.master, selectors.EVENT_READ, ("pty", self))
        if not self.unplugged and os.path.exists(self.unplug_path):
            self.unplug()
        due = [t for t in self.timers if t[0] <= now]
        self.timers = [t for t in self.timers if t[0] > now]
        for _, fn in sorted(due, key=lambda t: t[0]):
            fn()
        self.flush()


class Lab:
    def __init__(self, cfg):
        self.dir = cfg["dir"]
        self.sel = selectors.DefaultSelector()
        self.boards = [Board(self, b) for b in cfg["boards"]]

    def run(self):
        open(os.path.join(self.dir, "ready"), "w").close()
        while True:
            for key, _ in self.sel.select(0.005):
                what, b = key.data
                if what == "accept":
                    try:
                        conn, _ = b.listener.accept()
                    except OSError:
                        continue
                    conn.setblocking(False)
                    b.drop_client()
                    b.client = conn
                    self.sel.register(conn, selectors.EVENT_READ, ("conn", b))
                elif what == "conn":
                    try:
                        data = b.client.recv(4096)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        b.drop_client()
                    else:
                        b.on_input(data)
                elif what == "pty":
                    try:
                        data = os.read(b.master, 4096)
                    except BlockingIOError:
                        continue
                    except OSError as e:
                        if e.errno != errno.EIO:
                            raise
                        # EIO: nobody holds the slave; it would wake select at once
                        self.sel.unregister(b.master)
                        b.pty_idle = True
                        continue
                    if data:
                        b.on_input(data)
            now = time.monotonic()
            for b in self.boards:
                b.tick(now)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        Lab(json.load(f)).run()
