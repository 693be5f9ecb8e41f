#!/usr/bin/python3
"""sim_board.py — simulated boards for tests that need many boards but not
their insides (the Slurm tests, the dispatch benchmark): each board is a raw
TCP console (what ser2net serves) on 127.0.0.1 and a power switch driven by
hilctl's `command` power driver through a FIFO.

    sim_board.py DIR NAME=PORT...      serve the boards until SIGTERM

Power on: the board prints the reference board's markers (a U-Boot banner,
its version probe, then the update agent's "write offset=N" lines for N = 1..
20, one every 50 ms) and waits. Power off: it falls silent at once. hilctl
connects a TCP console after switching power on, so a board switched on with
nobody connected starts talking when somebody connects (a UART whose first
bytes nobody reads would lose them; the tests are not about that). The lab
file switches it with

    power: {driver: command, on: [sh, -c, 'echo on > DIR/{board}.ctl'],
            off: [sh, -c, 'echo off > DIR/{board}.ctl']}
    console: {type: tcp, port: PORT}

Every power change and the first console byte after each power-on are
appended to DIR/history as "UNIX_TIME BOARD on|off|first-byte", so a test
can check who used which board when, and a benchmark when a board spoke.
One process serves every board (one select loop), so a test with six boards
costs one small Python process."""
import os
import selectors
import signal
import socket
import sys
import time

LINES = (["U-Boot 2023.01 (sim)", "hilctl-probe: version=1 slot=A committed=1", "refdut# ",
          "hilctl-agent: download"] +
         [f"hilctl-agent: write offset={n}" for n in range(1, 21)])
STEP = 0.05


class Board:
    def __init__(self, sel, d, name, port):
        self.name, self.d, self.client, self.on, self.queue = name, d, None, False, []
        self.first_pending = False
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(4)
        sel.register(self.listener, selectors.EVENT_READ, ("accept", self))
        path = os.path.join(d, f"{name}.ctl")
        if not os.path.exists(path):
            os.mkfifo(path)
        self.ctl = os.open(path, os.O_RDWR | os.O_NONBLOCK)
        sel.register(self.ctl, selectors.EVENT_READ, ("ctl", self))
        self.ctl_buf = b""

    def history(self, what):
        with open(os.path.join(self.d, "history"), "a") as f:
            f.write(f"{time.time():.6f} {self.name} {what}\n")

    def power(self, on):
        self.history("on" if on else "off")
        self.on = on
        self.queue = []
        self.first_pending = on
        if on and self.client:
            self.boot()

    def boot(self):
        now = time.monotonic()
        self.queue = [(now + i * STEP, line) for i, line in enumerate(LINES)]

    def send_due(self, now):
        while self.queue and self.queue[0][0] <= now:
            _, line = self.queue.pop(0)
            if self.client:
                try:
                    self.client.sendall(line.encode() + (b"" if line.endswith("# ") else b"\r\n"))
                    if self.first_pending:
                        self.first_pending = False
                        self.history("first-byte")
                except OSError:
                    self.client = None


def main():
    d = sys.argv[1]
    sel = selectors.DefaultSelector()
    boards = [Board(sel, d, *(lambda n, p: (n, int(p)))(*a.split("="))) for a in sys.argv[2:]]
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    with open(os.path.join(d, "ready"), "w") as f:
        f.write(str(os.getpid()))
    while not stop:
        due = [b.queue[0][0] for b in boards if b.queue]
        timeout = max(0.0, min(due) - time.monotonic()) if due else 1.0
        for key, _ in sel.select(timeout):
            kind, b = key.data
            if kind == "accept":
                conn, _ = b.listener.accept()
                if b.client:  # a new hilctl replaces a stale one (kickolduser)
                    sel.unregister(b.client)
                    b.client.close()
                b.client = conn
                sel.register(conn, selectors.EVENT_READ, ("client", b))
                if b.on and b.first_pending and not b.queue:
                    b.boot()
            elif kind == "client":
                try:
                    data = key.fileobj.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
                    if b.client is key.fileobj:
                        b.client = None
            elif kind == "ctl":
                b.ctl_buf += os.read(b.ctl, 4096)
                while b"\n" in b.ctl_buf:
                    word, b.ctl_buf = b.ctl_buf.split(b"\n", 1)
                    if word.strip() in (b"on", b"off"):
                        b.power(word.strip() == b"on")
        now = time.monotonic()
        for b in boards:
            b.send_due(now)


if __name__ == "__main__":
    main()
