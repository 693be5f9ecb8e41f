/* tests/uart/uart_guest.c — runs inside the x86-64 test guest and drives a
 * real UART (the 16550 at /dev/ttyS1, or a USB serial adapter named by its
 * serial number as "usb:SERIAL") through hilctl's own console code:
 * console_open/console_connect/console_read/console_write_all from
 * harness/console/console.c over console_serial.c, i.e. over libserialport.
 *
 * The host test talks to it through QEMU's socket at the other end of the
 * UART. Commands are ASCII lines; some are followed by raw bytes:
 *   H                 -> "HELLO hilctl-uart\n"
 *   Y TOKEN           -> "SYNCED TOKEN\n"              (resynchronise)
 *   X N + N bytes     -> "X N\n" + each byte inverted  (echo with a transform)
 *   S N SEED          -> N bytes of xorshift32(SEED)   (guest -> host stream)
 *   R N SEED + N bytes-> "R OK N\n" | "R BAD AT OFF\n" (host -> guest stream)
 *   T                 -> the port's termios as libserialport left it
 *   C BAUD PARITY DATA STOP FLOW -> reopen with these settings, "C OK\n"
 *   D                 -> disconnect and connect again, "D OK\n"
 *   N                 -> "N /dev/ttyUSB1": the node open now
 *   G                 -> "G COUNT": gap events on the timeline so far
 *   Q                 -> "BYE\n", exit
 * A gap (the port vanished, -EPIPE) is reported on stdout (the guest's
 * ttyS0 log) and the port is connected again. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "lib/cfg.h"
#include "lib/clock.h"
#include "harness/console/console.h"
#include "lib/log.h"
#include "lib/timeline.h"

/* Only the serial type lives in the guest: console.c's table needs the
 * other two names, which nothing here opens. */
static int absent_open(struct console *c, const struct cfg_node *s)
{
	return -ENOSYS;
}
const struct console_ops console_tcp_ops = {.name = "tcp", .open = absent_open};
const struct console_ops console_qemu_ops = {.name = "qemu", .open = absent_open};

#define IDLE_LIMIT_NS (120 * NS_PER_S) /* host gone: stop, let init power off */
#define IO_DEADLINE_NS (60 * NS_PER_S)

struct guest {
	struct console con;
	struct cfg_node *settings;
	const char *dev;
	char line[256];
	size_t line_len;
	enum { LINE, XFORM, VERIFY } mode;
	size_t left, offset;
	uint32_t prng;
	long bad_at;
	bool quit;
};

static uint8_t xorshift_next(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return (uint8_t)(*x >> 24);
}

static void dump_file(const char *path)
{
	char text[2048];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return;
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	printf("%s", text);
}

/* Tell the guest log why a write did not go out: what is still queued and
 * what the UART's modem lines say (a stalled transmitter shows here). */
static void write_failed(struct guest *g, int rc)
{
	int queued = -1, lines = 0;

	ioctl(g->con.fd, TIOCOUTQ, &queued);
	ioctl(g->con.fd, TIOCMGET, &lines);
	printf("uart-guest: write failed: %s; %d bytes queued, CTS %d DSR %d CD %d\n",
	       strerror(-rc), queued, !!(lines & TIOCM_CTS), !!(lines & TIOCM_DSR),
	       !!(lines & TIOCM_CD));
	dump_file("/proc/tty/driver/serial");
}

static void say(struct guest *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct guest *g, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	n = console_write_all(&g->con, buf, (size_t)n, clock_now_ns() + IO_DEADLINE_NS);
	if (n < 0)
		write_failed(g, n);
}

static int open_port(struct guest *g, const char *baud, const char *parity, const char *data,
                     const char *stop, const char *flow)
{
	struct timeline *tl = g->con.tl;
	char yaml[512];
	int rc;

	console_close(&g->con);
	cfg_free(g->settings);
	/* "usb:SERIAL" finds the adapter by its USB serial number. */
	snprintf(yaml, sizeof(yaml),
	         "type: serial\n%s: %s\nbaud: %s\nparity: %s\ndata_bits: %s\n"
	         "stop_bits: %s\nflow: %s\n",
	         strncmp(g->dev, "usb:", 4) ? "path" : "usb_serial",
	         strncmp(g->dev, "usb:", 4) ? g->dev : g->dev + 4, baud, parity, data, stop, flow);
	g->settings = cfg_load_buf("uart-guest", yaml, strlen(yaml));
	if (!g->settings)
		return -EINVAL;
	rc = console_open(&g->con, "uart-guest", "/tmp", g->settings);
	g->con.tl = tl; /* console_open starts from a clean struct */
	if (rc == 0)
		rc = console_connect(&g->con, clock_now_ns() + 30 * NS_PER_S);
	printf("uart-guest: %s %s %s%s%s flow %s: %s\n", g->dev, baud, data,
	       parity[0] == 'n'   ? "n"
	       : parity[0] == 'o' ? "o"
	                          : "e",
	       stop, flow, rc ? strerror(-rc) : "connected");
	fflush(stdout);
	return rc;
}

static void report_termios(struct guest *g)
{
	struct termios t;
	static const struct {
		speed_t code;
		long baud;
	} speeds[] = {{B9600, 9600},   {B19200, 19200},   {B38400, 38400},
	              {B57600, 57600}, {B115200, 115200}, {B230400, 230400}};
	long ispeed = -1, ospeed = -1;
	int bits;

	if (tcgetattr(g->con.fd, &t) < 0) {
		say(g, "T ERR %s\n", strerror(errno));
		return;
	}
	for (size_t i = 0; i < sizeof(speeds) / sizeof(speeds[0]); i++) {
		if (cfgetispeed(&t) == speeds[i].code)
			ispeed = speeds[i].baud;
		if (cfgetospeed(&t) == speeds[i].code)
			ospeed = speeds[i].baud;
	}
	switch (t.c_cflag & CSIZE) {
	case CS5:
		bits = 5;
		break;
	case CS6:
		bits = 6;
		break;
	case CS7:
		bits = 7;
		break;
	default:
		bits = 8;
		break;
	}
	say(g,
	    "T ispeed=%ld ospeed=%ld bits=%d parity=%s stop=%d crtscts=%d ixon=%d ixoff=%d "
	    "icanon=%d echo=%d opost=%d icrnl=%d clocal=%d\n",
	    ispeed, ospeed, bits,
	    !(t.c_cflag & PARENB)  ? "none"
	    : (t.c_cflag & PARODD) ? "odd"
	                           : "even",
	    (t.c_cflag & CSTOPB) ? 2 : 1, !!(t.c_cflag & CRTSCTS), !!(t.c_iflag & IXON),
	    !!(t.c_iflag & IXOFF), !!(t.c_lflag & ICANON), !!(t.c_lflag & ECHO),
	    !!(t.c_oflag & OPOST), !!(t.c_iflag & ICRNL), !!(t.c_cflag & CLOCAL));
}

/* Which /dev node the console has open now (it changes when a USB
 * adapter comes back under another name). */
static void report_node(struct guest *g)
{
	char link[64], node[256];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", g->con.fd);
	n = readlink(link, node, sizeof(node) - 1);
	node[n > 0 ? n : 0] = '\0';
	say(g, "N %s\n", node);
}

/* How many "gap" events console.c wrote to the timeline. */
static void report_gaps(struct guest *g)
{
	char line[1024];
	int gaps = 0;
	FILE *f;

	timeline_flush(g->con.tl);
	f = fopen("/tmp/uart-guest.timeline", "r");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "\"k\":\"gap\""))
			gaps++;
	if (f)
		fclose(f);
	say(g, "G %d\n", gaps);
}

static void send_stream(struct guest *g, size_t n, uint32_t seed)
{
	uint8_t buf[4096];

	while (n) {
		size_t chunk = n < sizeof(buf) ? n : sizeof(buf);

		for (size_t i = 0; i < chunk; i++)
			buf[i] = xorshift_next(&seed);
		int rc = console_write_all(&g->con, buf, chunk, clock_now_ns() + IO_DEADLINE_NS);

		if (rc < 0) {
			write_failed(g, rc);
			return;
		}
		n -= chunk;
	}
}

static void command(struct guest *g, char *line)
{
	char a[5][32];
	unsigned long n = 0, seed = 0;
	char tok[64];

	if (strcmp(line, "H") == 0) {
		say(g, "HELLO hilctl-uart\n");
	} else if (sscanf(line, "Y %63s", tok) == 1) {
		say(g, "SYNCED %s\n", tok);
	} else if (sscanf(line, "X %lu", &n) == 1) {
		say(g, "X %lu\n", n);
		g->mode = n ? XFORM : LINE;
		g->left = n;
	} else if (sscanf(line, "S %lu %lu", &n, &seed) == 2) {
		send_stream(g, n, (uint32_t)seed);
	} else if (sscanf(line, "R %lu %lu", &n, &seed) == 2) {
		g->mode = n ? VERIFY : LINE;
		g->left = n;
		g->offset = 0;
		g->bad_at = -1;
		g->prng = (uint32_t)seed;
		if (!n)
			say(g, "R OK 0\n");
	} else if (strcmp(line, "N") == 0) {
		report_node(g);
	} else if (strcmp(line, "G") == 0) {
		report_gaps(g);
	} else if (strcmp(line, "T") == 0) {
		report_termios(g);
	} else if (sscanf(line, "C %31s %31s %31s %31s %31s", a[0], a[1], a[2], a[3], a[4]) == 5) {
		if (open_port(g, a[0], a[1], a[2], a[3], a[4]) == 0)
			say(g, "C OK\n");
	} else if (strcmp(line, "D") == 0) {
		console_disconnect(&g->con);
		if (console_connect(&g->con, clock_now_ns() + 30 * NS_PER_S) == 0)
			say(g, "D OK\n");
	} else if (strcmp(line, "Q") == 0) {
		say(g, "BYE\n");
		tcdrain(g->con.fd);
		g->quit = true;
	} else {
		say(g, "? %s\n", line);
	}
}

/* Raw bytes of an X or R command; returns how many of buf it used. */
static size_t raw_bytes(struct guest *g, const uint8_t *buf, size_t len)
{
	size_t n = len < g->left ? len : g->left;

	if (g->mode == XFORM) {
		uint8_t out[4096];

		for (size_t i = 0; i < n; i++)
			out[i] = (uint8_t)~buf[i];
		console_write_all(&g->con, out, n, clock_now_ns() + IO_DEADLINE_NS);
	} else {
		for (size_t i = 0; i < n; i++, g->offset++)
			if (xorshift_next(&g->prng) != buf[i] && g->bad_at < 0)
				g->bad_at = (long)g->offset;
	}
	g->left -= n;
	if (g->left == 0) {
		if (g->mode == VERIFY && g->bad_at >= 0)
			say(g, "R BAD AT %ld\n", g->bad_at);
		else if (g->mode == VERIFY)
			say(g, "R OK %zu\n", g->offset);
		g->mode = LINE;
	}
	return n;
}

static void feed(struct guest *g, const uint8_t *buf, size_t len)
{
	while (len && !g->quit) {
		size_t used = 1;

		if (g->mode != LINE) {
			used = raw_bytes(g, buf, len);
		} else if (buf[0] == '\n') {
			g->line[g->line_len] = '\0';
			g->line_len = 0;
			command(g, g->line);
		} else if (buf[0] != '\r' && g->line_len < sizeof(g->line) - 1) {
			g->line[g->line_len++] = (char)buf[0];
		}
		buf += used;
		len -= used;
	}
}

int main(int argc, char **argv)
{
	struct guest g = {.dev = argc > 1 ? argv[1] : "/dev/ttyS1"};
	int64_t last_input = clock_now_ns();
	uint8_t buf[4096];

	setvbuf(stdout, NULL, _IOLBF, 0);
	log_set_level(LOG_INFO);
	if (open_port(&g, "115200", "none", "8", "1", "none") < 0)
		return 2;
	g.con.tl = timeline_open("/tmp/uart-guest.timeline", "uart-guest");
	while (!g.quit && clock_now_ns() - last_input < IDLE_LIMIT_NS) {
		struct pollfd pfd = {.fd = g.con.fd, .events = POLLIN};
		int64_t t;
		ssize_t n;

		poll(&pfd, 1, 1000);
		n = console_read(&g.con, buf, sizeof(buf), &t);
		if (n > 0) {
			last_input = t;
			feed(&g, buf, (size_t)n);
		} else if (n == -EPIPE) {
			printf("uart-guest: %s vanished (gap), connecting again\n", g.dev);
			if (console_connect(&g.con, clock_now_ns() + IDLE_LIMIT_NS) < 0)
				return 3;
			printf("uart-guest: %s back\n", g.dev);
			/* Input that raced the reconnect belongs to no command. */
			g.line_len = 0;
			g.mode = LINE;
			say(&g, "GAP BACK\n");
		} else if (n < 0) {
			return 3;
		}
	}
	printf("uart-guest: %s after %llu bytes read\n", g.quit ? "done" : "idle, giving up",
	       (unsigned long long)g.con.bytes_read);
	timeline_close(g.con.tl);
	console_close(&g.con);
	cfg_free(g.settings);
	return g.quit ? 0 : 1;
}
