/* power/ftdi.c — the ftdi power driver: one channel of an FT245R/FT232R relay
 * board (the common 4- and 8-channel USB boards: an FTDI chip driving relay
 * coils through a ULN2803, no microcontroller) through libftdi1 in
 * asynchronous bitbang mode. Channel N is data pin D(N-1).
 *
 * Every set and status is one short USB session: open, bitbang on, read the
 * pin byte, write it back with only our channel's bit changed, close. Keeping
 * the device open between operations would lock out the other hilctl
 * processes whose boards hang on the same relay board (a libusb interface
 * claim is exclusive), and the claim held across read-modify-write is what
 * keeps two processes from undoing each other's channels. A busy device is
 * retried until the operation's deadline.
 *
 * The chip keeps driving its pins after the session ends (until it loses USB
 * power), so the relays keep their state when hilctl exits. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ftdi.h>
#include <libusb.h>

#include "lib/cfg.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "power/power.h"

#define FTDI_DEFAULT_TIMEOUT_NS (5 * NS_PER_S)
#define FTDI_BUSY_RETRY_NS (20 * NS_PER_MS)
/* Every hilctl process makes all eight pins outputs: a process that made only
 * its own pin an output would float the others' pins. */
#define FTDI_OUTPUTS 0xFF
#define USB_MAX_PORTS 7 /* USB 3 allows hub chains 7 deep */

enum ftdi_select { SELECT_SERIAL, SELECT_PORTS, SELECT_ADDRESS };

struct ftdi_relay {
	int vid, pid;
	enum ftdi_select select;
	const char *serial;
	char open_string[160]; /* "s:0x0403:0x6001:SERIAL" for ftdi_usb_open_string */
	uint8_t bus, address, ports[USB_MAX_PORTS];
	int n_ports;
	unsigned int channel;
	unsigned char mask;
	bool active_low;
	char what[200]; /* how messages name the device */
	struct ftdi_context *ctx;
};

/* ---- settings */

/* "1-1.4.2": bus 1, then the port at each hub (the name under
 * /sys/bus/usb/devices, stable while the cabling stays); "3:7": bus 3,
 * device address 7 as lsusb prints it (changes whenever the device
 * re-enumerates). */
static int parse_usb_path(const char *text, struct ftdi_relay *f)
{
	const char *s = text;
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9' || (v = strtoul(s, &end, 10)) > 255)
		return -EINVAL;
	f->bus = (uint8_t)v;
	if (*end == ':') {
		s = end + 1;
		if (*s < '0' || *s > '9' || (v = strtoul(s, &end, 10)) == 0 || v > 127 || *end)
			return -EINVAL;
		f->address = (uint8_t)v;
		f->select = SELECT_ADDRESS;
		return 0;
	}
	if (*end != '-')
		return -EINVAL;
	do {
		s = end + 1;
		if (f->n_ports == USB_MAX_PORTS || *s < '0' || *s > '9' ||
		    (v = strtoul(s, &end, 10)) == 0 || v > 255)
			return -EINVAL;
		f->ports[f->n_ports++] = (uint8_t)v;
	} while (*end == '.');
	if (*end)
		return -EINVAL;
	f->select = SELECT_PORTS;
	return 0;
}

static int parse_select(struct ftdi_relay *f, const struct cfg_node *settings)
{
	const char *usb_path = NULL;

	if (cfg_get_str(settings, "serial", false, &f->serial) < 0 ||
	    cfg_get_str(settings, "usb_path", false, &usb_path) < 0)
		return -EINVAL;
	/* Several relay boards share 0403:6001 (and so does every FT232R
	 * console cable): never guess which one is meant. */
	if (!f->serial == !usb_path) {
		cfg_error(f->serial ? cfg_get(settings, "usb_path") : settings,
		          "%s (the serial number as lsusb -v shows it, or the USB port path "
		          "like 1-1.4 under /sys/bus/usb/devices)",
		          f->serial ? "takes serial or usb_path, not both"
		                    : "needs serial or usb_path to pick the relay board");
		return -EINVAL;
	}
	if (f->serial) {
		f->select = SELECT_SERIAL;
		snprintf(f->open_string, sizeof(f->open_string), "s:0x%04x:0x%04x:%s", f->vid,
		         f->pid, f->serial);
		snprintf(f->what, sizeof(f->what), "FTDI relay board %04x:%04x serial \"%s\"",
		         f->vid, f->pid, f->serial);
		return 0;
	}
	if (parse_usb_path(usb_path, f) < 0) {
		cfg_error(cfg_get(settings, "usb_path"),
		          "\"%s\" is not a USB path: give bus-port[.port...] like 1-1.4 (as under "
		          "/sys/bus/usb/devices) or bus:device like 3:7 (as lsusb prints it)",
		          usb_path);
		return -EINVAL;
	}
	snprintf(f->what, sizeof(f->what), "FTDI relay board %04x:%04x at USB %s %s", f->vid,
	         f->pid, f->select == SELECT_PORTS ? "port" : "address", usb_path);
	return 0;
}

static int parse_settings(struct ftdi_relay *f, const struct cfg_node *settings)
{
	static const char *const keys[] = {"driver", "type",     "timeout", "vid",        "pid",
	                                   "serial", "usb_path", "channel", "active_low", NULL};
	long long vid = 0x0403, pid = 0x6001, channel;

	if (cfg_check_keys(settings, keys) < 0 ||
	    cfg_get_int(settings, "vid", false, 0, 0xFFFF, &vid) < 0 ||
	    cfg_get_int(settings, "pid", false, 0, 0xFFFF, &pid) < 0 ||
	    cfg_get_int(settings, "channel", true, 1, 8, &channel) < 0 ||
	    cfg_get_bool(settings, "active_low", false, &f->active_low) < 0)
		return -EINVAL;
	f->vid = (int)vid;
	f->pid = (int)pid;
	f->channel = (unsigned int)channel;
	f->mask = (unsigned char)(1u << (channel - 1));
	return parse_select(f, settings);
}

/* ---- one USB session */

/* Give libusb what is left of the deadline for the next transfer; at least
 * a millisecond, since libusb reads 0 as "no timeout". */
static void set_usb_timeouts(struct ftdi_context *ctx, int64_t deadline)
{
	int ms = clock_poll_ms(deadline);

	ctx->usb_read_timeout = ms > 0 ? ms : 1;
	ctx->usb_write_timeout = ms > 0 ? ms : 1;
}

/* The same before a step, which is not started once the deadline passed. */
static int arm(struct power *p, struct ftdi_relay *f, int64_t deadline)
{
	if (clock_poll_ms(deadline) <= 0) {
		hil_error(
		    "board \"%s\": %s: no answer within the timeout (%.1f s)", p->board, f->what,
		    (double)(p->timeout_ns ? p->timeout_ns : FTDI_DEFAULT_TIMEOUT_NS) / NS_PER_S);
		return -EIO;
	}
	set_usb_timeouts(f->ctx, deadline);
	return 0;
}

static bool port_path_matches(const struct ftdi_relay *f, libusb_device *dev)
{
	uint8_t ports[USB_MAX_PORTS];
	int n = libusb_get_port_numbers(dev, ports, USB_MAX_PORTS);

	return libusb_get_bus_number(dev) == f->bus && n == f->n_ports &&
	       memcmp(ports, f->ports, (size_t)n) == 0;
}

/* libftdi's "d:bus/dev" open string would take any device at that address
 * and detach its kernel driver, whatever it is; list only vid:pid devices
 * and pick ours. Returns a libftdi open code (-3: not found). */
static int open_by_path(struct ftdi_relay *f)
{
	struct ftdi_device_list *list = NULL;
	int code = ftdi_usb_find_all(f->ctx, &list, f->vid, f->pid);

	if (code < 0)
		return code;
	code = -3;
	for (struct ftdi_device_list *d = list; d; d = d->next) {
		bool match = f->select == SELECT_PORTS
		                 ? port_path_matches(f, d->dev)
		                 : libusb_get_bus_number(d->dev) == f->bus &&
		                       libusb_get_device_address(d->dev) == f->address;
		if (match) {
			code = ftdi_usb_open_dev(f->ctx, d->dev);
			break;
		}
	}
	ftdi_list_free(&list);
	return code;
}

/* libftdi's text for its last error (NULL before the first one). */
static const char *error_text(struct ftdi_relay *f)
{
	const char *why = ftdi_get_error_string(f->ctx);

	return why ? why : "unknown error";
}

static int open_error(struct power *p, struct ftdi_relay *f, int code)
{
	const char *why = error_text(f);

	/* libftdi's -3 is "not found" from a lookup but "cannot set the
	 * configuration" from ftdi_usb_open_dev; only its text tells. */
	if (code == -3 && (f->select != SELECT_SERIAL || strstr(why, "not found"))) {
		hil_error("board \"%s\": %s: not found (plugged in? lsusb -d %04x:%04x lists "
		          "what is there)",
		          p->board, f->what, f->vid, f->pid);
		return -ENODEV;
	}
	if (code == -4 || code == -8) {
		hil_error("board \"%s\": %s: cannot open it: %s (usually permission denied: "
		          "give the user the device with a udev rule for %04x:%04x, see "
		          "docs/power-ftdi.md)",
		          p->board, f->what, why, f->vid, f->pid);
		return -EACCES;
	}
	if (code == -5) {
		hil_error("board \"%s\": %s: busy: %s (another program holds it)", p->board,
		          f->what, why);
		return -EBUSY;
	}
	hil_error("board \"%s\": %s: cannot open it: %s (libftdi error %d)", p->board, f->what, why,
	          code);
	return -EIO;
}

static int session_open(struct power *p, struct ftdi_relay *f, int64_t deadline)
{
	int code, rc = arm(p, f, deadline);

	if (rc < 0)
		return rc;
	for (;;) {
		int64_t left;

		if (f->select == SELECT_SERIAL)
			code = ftdi_usb_open_string(f->ctx, f->open_string);
		else
			code = open_by_path(f);
		/* Busy: another hilctl holds it for a few milliseconds. Wait our
		 * turn, keeping a millisecond for one more try. */
		left = deadline - clock_now_ns() - NS_PER_MS;
		if (code != -5 || left <= 0)
			break;
		if (left > FTDI_BUSY_RETRY_NS)
			left = FTDI_BUSY_RETRY_NS;
		nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = (long)left}, NULL);
		/* A late wake-up still gets its try, with the shortest timeout. */
		set_usb_timeouts(f->ctx, deadline);
	}
	return code == 0 ? 0 : open_error(p, f, code);
}

static int usb_error(struct power *p, struct ftdi_relay *f, const char *what)
{
	const char *why = error_text(f);

	hil_error("board \"%s\": %s: cannot %s: %s (unplugged? dmesg tells)", p->board, f->what,
	          what, why);
	return strstr(why, "unavailable") ? -ENODEV : -EIO;
}

/* Open the device, make sure it is in bitbang mode, and read the pins the
 * chip drives. On success the caller ends the session with ftdi_usb_close(). */
static int session_begin(struct power *p, struct ftdi_relay *f, int64_t deadline,
                         unsigned char *pins)
{
	unsigned char before;
	int rc = session_open(p, f, deadline);

	if (rc < 0)
		return rc;
	/* Enabling bitbang mode on a chip already in it keeps the output latch,
	 * so other channels stay as they are. A chip that was never switched
	 * since it got power starts driving its power-up latch instead: say so,
	 * since its other channels may have switched. */
	rc = arm(p, f, deadline);
	if (rc == 0 && ftdi_read_pins(f->ctx, &before) < 0)
		rc = usb_error(p, f, "read the pins");
	if (rc == 0)
		rc = arm(p, f, deadline);
	if (rc == 0 && ftdi_set_bitmode(f->ctx, FTDI_OUTPUTS, BITMODE_BITBANG) < 0)
		rc = usb_error(p, f, "enable bitbang mode");
	if (rc == 0)
		rc = arm(p, f, deadline);
	if (rc == 0 && ftdi_read_pins(f->ctx, pins) < 0)
		rc = usb_error(p, f, "read the pins");
	if (rc < 0) {
		ftdi_usb_close(f->ctx);
		return rc;
	}
	if (*pins != before)
		hil_warn("board \"%s\": %s: pins were 0x%02x before bitbang mode and 0x%02x after: "
		         "the board was not in bitbang mode yet (first use since it got power?), "
		         "its other channels may have switched",
		         p->board, f->what, before, *pins);
	return 0;
}

static int64_t deadline_for(const struct power *p)
{
	return clock_now_ns() + (p->timeout_ns > 0 ? p->timeout_ns : FTDI_DEFAULT_TIMEOUT_NS);
}

/* ---- the ops */

static void ftdi_close_relay(struct power *p);

/* The settings only: no libusb context, no USB traffic. */
static int ftdi_check(const struct cfg_node *settings, const char *board)
{
	struct ftdi_relay f = {0};

	return parse_settings(&f, settings);
}

static int ftdi_open_relay(struct power *p, const struct cfg_node *settings)
{
	struct ftdi_relay *f = calloc(1, sizeof(*f));
	int rc;

	if (!f)
		return -ENOMEM;
	p->priv = f;
	rc = parse_settings(f, settings);
	if (rc == 0) {
		/* No USB traffic yet: each operation opens the device itself. */
		f->ctx = ftdi_new();
		if (!f->ctx) {
			hil_error("board \"%s\": cannot initialise libftdi/libusb", p->board);
			rc = -ENOMEM;
		}
	}
	if (rc < 0)
		ftdi_close_relay(p);
	return rc;
}

static int ftdi_set(struct power *p, bool on)
{
	struct ftdi_relay *f = p->priv;
	int64_t deadline = deadline_for(p);
	unsigned char pins, byte;
	int rc = session_begin(p, f, deadline, &pins);

	if (rc < 0)
		return rc;
	/* Read-modify-write: only our channel's bit changes. */
	if (on != f->active_low)
		byte = pins | f->mask;
	else
		byte = pins & (unsigned char)~f->mask;
	rc = arm(p, f, deadline);
	if (rc == 0 && ftdi_write_data(f->ctx, &byte, 1) != 1)
		rc = usb_error(p, f, "write the pins");
	ftdi_usb_close(f->ctx);
	return rc;
}

static int ftdi_get(struct power *p, enum power_state *out)
{
	struct ftdi_relay *f = p->priv;
	unsigned char pins;
	int rc = session_begin(p, f, deadline_for(p), &pins);

	*out = POWER_UNKNOWN;
	if (rc < 0)
		return rc;
	ftdi_usb_close(f->ctx);
	*out = ((pins & f->mask) != 0) != f->active_low ? POWER_ON : POWER_OFF;
	return 0;
}

static void ftdi_close_relay(struct power *p)
{
	struct ftdi_relay *f = p->priv;

	if (!f)
		return;
	if (f->ctx)
		ftdi_free(f->ctx);
	free(f);
	p->priv = NULL;
}

const struct power_ops power_ftdi_ops = {
    .name = "ftdi",
    .check = ftdi_check,
    .open = ftdi_open_relay,
    .set = ftdi_set,
    .get = ftdi_get,
    .close = ftdi_close_relay,
};
