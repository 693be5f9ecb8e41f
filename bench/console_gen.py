#!/usr/bin/python3
"""bench/console_gen.py — simulated board consoles for bench-footprint: N TCP
ports on 127.0.0.1, each sending console-like text lines at a UART's rate
(default 115200 baud 8N1 = 11520 bytes/s) to whoever connects, the way a
ser2net raw port passes a busy UART through.

    console_gen.py N [--rate BYTES_PER_S] [--tick-ms MS] [--deadline S]

Prints one JSON line {"ports": [...]} when listening. Commands on stdin, one
a line: "feed" (start sending), "silent" (stop), "stats" (answers a JSON line
{"connected": n, "sent": total bytes}), "quit". It exits by itself after
--deadline seconds (default 600) or when stdin closes.

One asyncio timer for all ports: every tick each connection gets the bytes
its rate owes since it started feeding (so jitter does not change the rate).
"""
import argparse
import asyncio
import json
import sys
import time

LINE = "[%12.6f] refdut kernel: simulated console line %08d of board %03d, nothing to see\r\n"


class Port:
    def __init__(self, index):
        self.index = index
        self.writers = []
        self.line_no = 0
        self.pending = b""

    def text(self, n):
        """The next n bytes of this board's console."""
        out = self.pending
        while len(out) < n:
            self.line_no += 1
            out += (LINE % (time.monotonic(), self.line_no, self.index)).encode()
        self.pending = out[n:]
        return out[:n]


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("--rate", type=int, default=11520)
    ap.add_argument("--tick-ms", type=float, default=10.0)
    ap.add_argument("--deadline", type=float, default=600.0)
    a = ap.parse_args()
    ports, servers = [], []
    for i in range(a.n):
        p = Port(i)

        def on_client(reader, writer, p=p):
            p.writers.append(writer)
            return asyncio.sleep(0)
        srv = await asyncio.start_server(on_client, "127.0.0.1", 0)
        servers.append(srv)
        p.port = srv.sockets[0].getsockname()[1]
        ports.append(p)
    print(json.dumps({"ports": [p.port for p in ports]}), flush=True)

    state = {"feeding": False, "t0": 0.0, "sent": 0, "owed_done": {}}
    loop = asyncio.get_running_loop()
    end = loop.time() + a.deadline

    async def ticker():
        while loop.time() < end:
            await asyncio.sleep(a.tick_ms / 1000.0)
            if not state["feeding"]:
                continue
            owed = int((time.monotonic() - state["t0"]) * a.rate)
            for p in ports:
                for w in list(p.writers):
                    if w.is_closing():
                        p.writers.remove(w)
                        continue
                    done = state["owed_done"].get(id(w), 0)
                    if owed > done:
                        w.write(p.text(owed - done))
                        state["owed_done"][id(w)] = owed
                        state["sent"] += owed - done

    async def commands():
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = await reader.readline()
            cmd = line.decode().strip()
            if not line or cmd == "quit":
                return
            if cmd == "feed":
                state.update(feeding=True, t0=time.monotonic(), owed_done={})
            elif cmd == "silent":
                state["feeding"] = False
            elif cmd == "stats":
                print(json.dumps({"connected": sum(1 for p in ports for w in p.writers
                                                  if not w.is_closing()),
                                  "sent": state["sent"]}), flush=True)

    tick = asyncio.ensure_future(ticker())
    try:
        await asyncio.wait([tick, asyncio.ensure_future(commands())],
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        for s in servers:
            s.close()
        for p in ports:
            for w in p.writers:
                w.close()


if __name__ == "__main__":
    asyncio.run(main())
