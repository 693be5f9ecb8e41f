"""The serial console's libserialport path on real UARTs.

libserialport 0.1.1 cannot open a pty, so the UART is QEMU's 16550: an
x86-64 guest (Debian's cloud kernel, busybox) runs tests/uart/uart_guest.c,
which opens /dev/ttyS1 through hilctl's own console code (console.c over
console_serial.c over libserialport.a). QEMU wires that UART to a unix socket;
this test is the other end of the wire. The last test plugs QEMU's
usb-serial (an FTDI) under Debian's generic kernel instead, finds it by its USB
serial number, unplugs it as a board's power cut would, and checks that the
console comes back under another ttyUSB name. tests/uart/build.sh builds the
guest (cached; it downloads three Debian packages the first time)."""
import json
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
    return {"kernel": UART_OUT / "vmlinuz", "usb_kernel": UART_OUT / "vmlinuz-usb",
            "initrd": UART_OUT / "initrd.img"}


class Guest:
    """One QEMU guest; every wait has a deadline. usb_serial=None wires the
    guest's ttyS1 to the socket; a serial number plugs QEMU's usb-serial (an
    FTDI) with that number instead, and opens QMP to unplug it."""

    def __init__(self, tmp, kernel, initrd, usb_serial=None):
        self.sock_path = str(tmp / "uart.sock")
        self.log_path = tmp / "ttyS0.log"
        self.buf = b""
        self.qmp = None
        args = ["qemu-system-x86_64", "-M", "q35", "-m", "256", "-accel", "tcg",
                "-nodefaults", "-kernel", str(kernel), "-initrd", str(initrd),
                "-serial", f"file:{self.log_path}", "-display", "none", "-no-reboot"]
        if usb_serial is None:
            args += ["-append", "console=ttyS0 panic=-1",
                     "-serial", f"unix:{self.sock_path},server=on,wait=off"]
        else:
            self.qmp_path = str(tmp / "qmp.sock")
            args += ["-append", f"console=ttyS0 panic=-1 hilctl_uart=usb:{usb_serial}",
                     "-device", "qemu-xhci,id=xhci",
                     "-chardev", f"socket,id=uart,path={self.sock_path},server=on,wait=off",
                     "-chardev", "null,id=decoy",
                     "-device", f"usb-serial,id=dut,bus=xhci.0,chardev=uart,serial={usb_serial}",
                     "-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        self.qemu = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.sock = self._connect(self.sock_path)
        if usb_serial is not None:
            self.qmp = self._connect(self.qmp_path)
            self.qmp_file = self.qmp.makefile("rw")
            self.qmp.settimeout(30)
            assert "QMP" in json.loads(self.qmp_file.readline())
            self.qmp_command("qmp_capabilities")

    def _connect(self, path):
        deadline = time.monotonic() + 10
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(path)
                return sock
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                assert self.qemu.poll() is None, f"QEMU exited: {self.qemu.stdout.read()}"
                assert time.monotonic() < deadline, f"QEMU never created {path}"
                time.sleep(0.05)

    def qmp_command(self, command, wait_event=None, **arguments):
        """Run a QMP command; with wait_event, also wait for that event."""
        self.qmp_file.write(json.dumps({"execute": command, "arguments": arguments}) + "\n")
        self.qmp_file.flush()
        answer, seen = None, wait_event is None
        while answer is None or not seen:
            msg = json.loads(self.qmp_file.readline())  # socket timeout: 30 s
            if "error" in msg:
                pytest.fail(f"QMP {command}: {msg['error']}")
            if "return" in msg:
                answer = msg["return"]
            if msg.get("event") == wait_event:
                seen = True
        return answer

    def wait_log(self, text, count=1, timeout=BOOT_DEADLINE):
        deadline = time.monotonic() + timeout
        while self.log().count(text) < count:
            assert time.monotonic() < deadline, f"guest log never showed {text!r}:\n{self.log()}"
            time.sleep(0.1)

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
        if self.qmp:
            self.qmp_file.close()
            self.qmp.close()
        if self.qemu.poll() is None:
            self.qemu.kill()
            self.qemu.wait(timeout=10)
        self.qemu.stdout.close()


@pytest.fixture
def guest(guest_images, tmp_path):
    g = Guest(tmp_path, guest_images["kernel"], guest_images["initrd"])
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


def test_usb_uart_vanishes_and_is_found_again_by_serial_under_another_name(
        guest_images, tmp_path):
    g = Guest(tmp_path, guest_images["usb_kernel"], guest_images["initrd"],
              usb_serial="HILCTL-UART-1")
    try:
        g.handshake()
        assert g.command("N") == "N /dev/ttyUSB0"
        assert g.command("X 4") == "X 4"
        g.send(b"\0on\xff")
        assert g.read_exact(4) == b"\xff\x90\x91\0"

        # Board power cut: the adapter leaves the bus, the tty hangs up.
        g.qmp_command("device_del", wait_event="DEVICE_DELETED", id="dut")
        g.wait_log("uart-guest: usb:HILCTL-UART-1 vanished (gap)")
        # Another adapter takes ttyUSB0 while this one is away...
        g.qmp_command("device_add", driver="usb-serial", id="other", bus="xhci.0",
                      chardev="decoy", serial="OTHER-2", **{"always-plugged": True})
        g.wait_log("now attached to ttyUSB0", count=2)
        time.sleep(1)  # the console keeps looking for its own serial number
        assert "uart-guest: usb:HILCTL-UART-1 back" not in g.log()

        # ...so when power returns, ours re-enumerates as ttyUSB1.
        g.qmp_command("device_add", driver="usb-serial", id="dut", bus="xhci.0",
                      chardev="uart", serial="HILCTL-UART-1")
        while g.read_line() != "GAP BACK":
            pass
        assert g.command("N") == "N /dev/ttyUSB1"
        assert g.command("X 3") == "X 3"
        g.send(b"abc")
        assert g.read_exact(3) == bytes(b ^ 0xFF for b in b"abc")
        # console.c marked the gap on the timeline: vanished, then back.
        assert g.command("G") == "G 2"
        log = g.quit()
        assert "attached to ttyUSB1" in log
    finally:
        g.stop()
