"""The serial console's libserialport path on a real UART.

libserialport 0.1.1 cannot open a pty, so the UART is QEMU's 16550: an
x86-64 guest (Debian's cloud kernel, busybox) runs tests/uart/uart_guest.c,
which opens /dev/ttyS1 through hilctl's own console code (console.c over
console_serial.c over libserialport.a). QEMU wires that UART to a unix socket;
this test is the other end of the wire. tests/uart/build.sh builds the guest
(cached; it downloads two Debian packages the first time)."""
import os
import pathlib
import random
import re
import socket
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
UART_OUT = pathlib.Path(os.environ.get("HILCTL_UART_OUT", ROOT / "build" / "uart"))
BOOT_DEADLINE = 90  # s, TCG on 2 shared cores; a boot takes about 3 s
IO_DEADLINE = 60


def xorshift_bytes(seed, n):
    """The guest's stream: xorshift32, top byte of each state."""
    x, out = seed, bytearray(n)
    for i in range(n):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = x >> 24
    return bytes(out)


@pytest.fixture(scope="module")
def guest_images():
    subprocess.run([str(ROOT / "tests" / "uart" / "build.sh")], check=True, timeout=900)
    return UART_OUT / "vmlinuz", UART_OUT / "initrd.img"


class Guest:
    """One QEMU guest; every wait has a deadline."""

    def __init__(self, tmp, kernel, initrd):
        self.sock_path = str(tmp / "ttyS1.sock")
        self.log_path = tmp / "ttyS0.log"
        self.buf = b""
        self.qemu = subprocess.Popen(
            ["qemu-system-x86_64", "-M", "q35", "-m", "256", "-accel", "tcg", "-nodefaults",
             "-kernel", str(kernel), "-initrd", str(initrd),
             "-append", "console=ttyS0 panic=-1",
             "-serial", f"file:{self.log_path}",
             "-serial", f"unix:{self.sock_path},server=on,wait=off",
             "-display", "none", "-no-reboot"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(self.sock_path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.sock.close()
                assert self.qemu.poll() is None, f"QEMU exited: {self.qemu.stdout.read()}"
                assert time.monotonic() < deadline, "QEMU never created its socket"
                time.sleep(0.05)

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _fill(self, deadline, must=True):
        left = deadline - time.monotonic()
        if left <= 0:
            assert not must, f"guest did not answer in time; have {self.buf[-200:]!r}\n{self.log()}"
            return
        self.sock.settimeout(min(left, 1.0))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return
        assert data, f"UART socket closed; guest log:\n{self.log()}"
        self.buf += data

    def read_exact(self, n, timeout=IO_DEADLINE):
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_line(self, timeout=IO_DEADLINE):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace")

    def send(self, data):
        self.sock.settimeout(IO_DEADLINE)
        self.sock.sendall(data)

    def handshake(self):
        """Poke until the guest program answers, then drop whatever stale
        bytes were queued before it opened the port."""
        hello = b"HELLO hilctl-uart\n"
        deadline = time.monotonic() + BOOT_DEADLINE
        while hello not in self.buf:
            assert self.qemu.poll() is None, f"guest stopped:\n{self.log()}"
            assert time.monotonic() < deadline, f"guest program never answered:\n{self.log()}"
            self.send(b"\nH\n")
            poke = time.monotonic() + 0.5
            while time.monotonic() < poke and hello not in self.buf:
                self._fill(poke, must=False)
        token = "%08x" % random.getrandbits(32)
        self.send(f"Y {token}\n".encode())
        while True:
            if self.read_line() == f"SYNCED {token}":
                return

    def command(self, line):
        self.send(line.encode() + b"\n")
        return self.read_line()

    def termios(self):
        reply = self.command("T")
        assert reply.startswith("T "), reply
        return dict(kv.split("=") for kv in reply[2:].split())

    def quit(self):
        assert self.command("Q") == "BYE"
        try:
            self.qemu.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"guest did not power off:\n{self.log()}")
        return self.log()

    def stop(self):
        self.sock.close()
        if self.qemu.poll() is None:
            self.qemu.kill()
            self.qemu.wait(timeout=10)
        self.qemu.stdout.close()


@pytest.fixture
def guest(guest_images, tmp_path):
    g = Guest(tmp_path, *guest_images)
    try:
        g.handshake()
        yield g
    finally:
        g.stop()


def test_uart_opens_ttyS1_through_libserialport_raw_115200_8n1(guest):
    t = guest.termios()
    assert (t["ispeed"], t["ospeed"], t["bits"], t["parity"], t["stop"]) == \
        ("115200", "115200", "8", "none", "1")
    assert (t["crtscts"], t["ixon"], t["ixoff"]) == ("0", "0", "0")
    # libserialport's raw mode: no line editing, echo or newline mangling.
    assert (t["icanon"], t["echo"], t["opost"], t["icrnl"], t["clocal"]) == \
        ("0", "0", "0", "0", "1")
    log = guest.quit()
    assert "uart-guest: /dev/ttyS1 115200 8n1 flow none: connected" in log
    assert "hilctl-uart: uart-guest exit status 0" in log


def test_uart_echo_with_transform_carries_every_byte_value(guest):
    payload = bytes(range(256)) * 4 + b"\0\0\r\n\r\x11\x13\x03\x04\x1a\xff"
    assert guest.command(f"X {len(payload)}") == f"X {len(payload)}"
    guest.send(payload)
    echoed = guest.read_exact(len(payload))
    assert echoed == bytes(b ^ 0xFF for b in payload)
    guest.quit()


def test_uart_long_stream_from_guest_arrives_intact(guest):
    n, seed = 256 * 1024, 0x1234567
    guest.send(f"S {n} {seed}\n".encode())
    t0 = time.monotonic()
    got = guest.read_exact(n, timeout=120)
    rate = n / max(time.monotonic() - t0, 1e-6)
    assert got == xorshift_bytes(seed, n), "stream differs at byte %d" % next(
        i for i, (a, b) in enumerate(zip(got, xorshift_bytes(seed, n))) if a != b)
    print(f"guest -> host: {n} bytes at {rate / 1024:.0f} KiB/s")
    guest.quit()


def test_uart_long_stream_to_guest_arrives_intact(guest):
    n, seed = 256 * 1024, 0xC0FFEE
    guest.send(f"R {n} {seed}\n".encode())
    guest.send(xorshift_bytes(seed, n))
    assert guest.read_line(timeout=120) == f"R OK {n}"
    guest.quit()


@pytest.mark.parametrize("baud,parity,bits,stop,flow,expect", [
    ("9600", "even", "7", "2", "rtscts",
     {"ispeed": "9600", "ospeed": "9600", "bits": "7", "parity": "even", "stop": "2",
      "crtscts": "1", "ixon": "0", "ixoff": "0"}),
    ("57600", "odd", "8", "1", "xonxoff",
     {"ispeed": "57600", "ospeed": "57600", "bits": "8", "parity": "odd", "stop": "1",
      "crtscts": "0", "ixon": "1", "ixoff": "1"}),
])
def test_uart_lab_file_settings_reach_the_port(guest, baud, parity, bits, stop, flow, expect):
    assert guest.command(f"C {baud} {parity} {bits} {stop} {flow}") == "C OK"
    t = guest.termios()
    assert {k: t[k] for k in expect} == expect
    # Back to 8N1 and still a clean 8-bit channel.
    assert guest.command("C 115200 none 8 1 none") == "C OK"
    assert guest.command("X 4") == "X 4"
    guest.send(b"\0\x7f\x80\xff")
    assert guest.read_exact(4) == b"\xff\x80\x7f\0"
    guest.quit()


def test_uart_disconnect_and_connect_again_keeps_the_stream(guest):
    for _ in range(3):
        assert guest.command("D") == "D OK"
        assert guest.command("X 3") == "X 3"
        guest.send(b"abc")
        assert guest.read_exact(3) == bytes(b ^ 0xFF for b in b"abc")
    log = guest.quit()
    assert re.search(r"uart-guest: done after \d+ bytes read", log)
