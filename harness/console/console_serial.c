/* harness/console/console_serial.c — the "serial" console: a UART through
 * libserialport, found by path (/dev/ttyUSB0, /dev/serial/by-id/...) or by
 * the USB serial number of its adapter.
 *
 * The name is resolved again on every connect, so an adapter that is powered
 * by the board and re-enumerates as another ttyUSBn after a power cut is
 * found again. While it is gone connect answers -ENOENT (the generic layer
 * retries until its deadline); a port that vanishes under us (read error,
 * EOF, POLLHUP) is reported as -EPIPE, which console.c logs as a gap. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <libserialport.h>

#include "lib/cfg.h"
#include "lib/clock.h"
#include "harness/console/console.h"
#include "lib/log.h"

struct serial_priv {
	const char *path;       /* borrowed from the lab file, or NULL */
	const char *usb_serial; /* borrowed from the lab file, or NULL */
	int baud, data_bits, stop_bits;
	int parity, flow;     /* indices into parity_words, flow_words */
	struct sp_port *port; /* non-NULL while connected through libserialport */
	int pty_fd;           /* >= 0 while connected to a pty (plain termios) */
	char dev[PATH_MAX];   /* the /dev node last resolved, for messages */
	bool absent_reported; /* "no such device" printed since last connect */
};

static const char *const parity_words[] = {"none", "odd", "even", "mark", "space", NULL};
static const enum sp_parity parity_values[] = {SP_PARITY_NONE, SP_PARITY_ODD, SP_PARITY_EVEN,
                                               SP_PARITY_MARK, SP_PARITY_SPACE};
static const char *const flow_words[] = {"none", "rtscts", "xonxoff", NULL};
static const enum sp_flowcontrol flow_values[] = {SP_FLOWCONTROL_NONE, SP_FLOWCONTROL_RTSCTS,
                                                  SP_FLOWCONTROL_XONXOFF};

static int serial_open(struct console *c, const struct cfg_node *settings)
{
	static const char *const keys[] = {"type",       "driver", "timeout", "path",
	                                   "usb_serial", "baud",   "parity",  "data_bits",
	                                   "stop_bits",  "flow",   NULL};
	struct serial_priv *sp;
	long long baud = 115200, data_bits = 8, stop_bits = 1;
	int parity = 0, flow = 0;
	int64_t unused_timeout;

	if (cfg_check_keys(settings, keys) < 0)
		return -EINVAL;
	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return -ENOMEM;
	if (cfg_get_str(settings, "path", false, &sp->path) < 0 ||
	    cfg_get_str(settings, "usb_serial", false, &sp->usb_serial) < 0 ||
	    cfg_get_int(settings, "baud", false, 50, 4000000, &baud) < 0 ||
	    cfg_get_enum(settings, "parity", false, parity_words, &parity) < 0 ||
	    cfg_get_int(settings, "data_bits", false, 5, 8, &data_bits) < 0 ||
	    cfg_get_int(settings, "stop_bits", false, 1, 2, &stop_bits) < 0 ||
	    cfg_get_enum(settings, "flow", false, flow_words, &flow) < 0 ||
	    cfg_get_duration(settings, "timeout", false, &unused_timeout) < 0)
		goto invalid;
	if (!sp->path == !sp->usb_serial) {
		cfg_error(settings, "needs exactly one of \"path:\" (/dev/ttyUSB0, "
		                    "/dev/serial/by-id/...) or \"usb_serial:\" (the adapter's "
		                    "USB serial number)");
		goto invalid;
	}
	sp->baud = (int)baud;
	sp->data_bits = (int)data_bits;
	sp->stop_bits = (int)stop_bits;
	sp->parity = parity;
	sp->flow = flow;
	snprintf(sp->dev, sizeof(sp->dev), "%s", sp->path ? sp->path : sp->usb_serial);
	sp->pty_fd = -1;
	c->priv = sp;
	return 0;
invalid:
	free(sp);
	return -EINVAL;
}

/* "Not there" is expected while the board is off: print it only when the
 * caller's deadline has run out, and once until the port is back. */
static int report_absent(struct console *c, int64_t deadline_ns, const char *what)
{
	struct serial_priv *sp = c->priv;

	if (clock_now_ns() < deadline_ns || sp->absent_reported) {
		hil_debug("board \"%s\": %s: %s, still waiting", c->board, what, "no such device");
		return -ENOENT;
	}
	sp->absent_reported = true;
	if (sp->usb_serial && !sp->path)
		hil_error("board \"%s\": no serial adapter with USB serial number \"%s\" "
		          "(is the adapter powered by the board? plugged in?)",
		          c->board, sp->usb_serial);
	else
		hil_error("board \"%s\": %s: no such device (is the adapter powered by the board?)",
		          c->board, what);
	return -ENOENT;
}

/* Find the one port whose adapter carries sp->usb_serial; its /dev name
 * goes to sp->dev. A multi-channel chip (FT2232/FT4232) has one serial for
 * all its ports, so several matches are refused rather than guessed. */
static int find_by_usb_serial(struct console *c, int64_t deadline_ns)
{
	struct serial_priv *sp = c->priv;
	struct sp_port **list = NULL;
	char names[512] = "";
	size_t used = 0;
	int matches = 0;

	if (sp_list_ports(&list) != SP_OK) {
		hil_error("board \"%s\": cannot list serial ports: %s", c->board,
		          strerror(sp_last_error_code()));
		return -EIO;
	}
	for (size_t i = 0; list && list[i]; i++) {
		const char *serial = sp_get_port_usb_serial(list[i]);
		const char *name = sp_get_port_name(list[i]);

		if (!serial || !name || strcmp(serial, sp->usb_serial) != 0)
			continue;
		if (matches++ == 0)
			snprintf(sp->dev, sizeof(sp->dev), "%s", name);
		if (used < sizeof(names))
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
			                         used ? ", " : "", name);
	}
	sp_free_port_list(list);
	if (matches == 0)
		return report_absent(c, deadline_ns, sp->usb_serial);
	if (matches > 1) {
		hil_error("board \"%s\": USB serial number \"%s\" matches %d ports (%s): use "
		          "path: /dev/serial/by-id/...-ifNN-port0 to pick one",
		          c->board, sp->usb_serial, matches, names);
		return -EINVAL;
	}
	return 0;
}

/* Resolve a path (by-id links included) to its /dev/tty* node:
 * libserialport 0.1.1 looks the name up under /sys/class/tty/ and does
 * not follow symlinks itself. */
static int resolve_path(struct console *c, int64_t deadline_ns)
{
	struct serial_priv *sp = c->priv;
	char resolved[PATH_MAX];

	if (!realpath(sp->path, resolved)) {
		int err = errno;

		if (err == ENOENT || err == ENOTDIR)
			return report_absent(c, deadline_ns, sp->path);
		hil_error("board \"%s\": %s: %s", c->board, sp->path, strerror(err));
		return -err;
	}
	if (strncmp(resolved, "/dev/", 5) != 0) {
		hil_error("board \"%s\": %s is %s, not a device under /dev", c->board, sp->path,
		          resolved);
		return -EINVAL;
	}
	snprintf(sp->dev, sizeof(sp->dev), "%s", resolved);
	return 0;
}

static int open_error(struct console *c, int64_t deadline_ns, int err)
{
	struct serial_priv *sp = c->priv;
	const char *shown = sp->path ? sp->path : sp->dev;

	switch (err) {
	case ENOENT:
	case ENODEV:
	case ENXIO:
		/* It went away between the lookup and the open. */
		return report_absent(c, deadline_ns, shown);
	case EACCES:
	case EPERM:
		hil_error("board \"%s\": %s: permission denied (add your user to the group that "
		          "owns it, usually dialout: sudo usermod -aG dialout $USER, then log in "
		          "again)",
		          c->board, shown);
		return -EACCES;
	case EBUSY:
		hil_error("board \"%s\": %s: busy: another program holds it (picocom, minicom, "
		          "screen, ModemManager, another hilctl?)",
		          c->board, shown);
		return -EBUSY;
	case EIO:
		hil_error("board \"%s\": %s: input/output error (no UART behind this port?)",
		          c->board, shown);
		return -EIO;
	default:
		hil_error("board \"%s\": %s: cannot open: %s", c->board, shown, strerror(err));
		return -err;
	}
}

static int config_error(struct console *c, const char *what, int err)
{
	struct serial_priv *sp = c->priv;

	hil_error("board \"%s\": %s: the port refused %s (%d baud, %d data bits, parity %s, "
	          "%d stop bits, flow %s): %s",
	          c->board, sp->dev, what, sp->baud, sp->data_bits, parity_words[sp->parity],
	          sp->stop_bits, flow_words[sp->flow], strerror(err));
	return -EINVAL;
}

/* libserialport 0.1.1 (and its master branch still) writes CRTSCTS into
 * c_iflag instead of c_cflag on Linux: sp_set_flowcontrol() neither turns
 * RTS/CTS on nor clears it when a previous program left it on (and then
 * nothing is sent while CTS is low). Put the real bit right ourselves; the
 * guest UART test checks it on a 16550. */
static int fix_rtscts(int fd, bool on)
{
	struct termios t;

	if (tcgetattr(fd, &t) < 0)
		return -errno;
	if (!!(t.c_cflag & CRTSCTS) == on && !(t.c_iflag & CRTSCTS))
		return 0;
	t.c_iflag &= ~(tcflag_t)CRTSCTS;
	if (on)
		t.c_cflag |= CRTSCTS;
	else
		t.c_cflag &= ~(tcflag_t)CRTSCTS;
	return tcsetattr(fd, TCSANOW, &t) < 0 ? -errno : 0;
}

/* Apply baud, framing and flow control; one error line names the setting. */
static int configure(struct console *c, int fd)
{
	struct serial_priv *sp = c->priv;
	int err;

	if (sp_set_baudrate(sp->port, sp->baud) != SP_OK)
		return config_error(c, "baud", sp_last_error_code());
	if (sp_set_bits(sp->port, sp->data_bits) != SP_OK)
		return config_error(c, "data_bits", sp_last_error_code());
	if (sp_set_parity(sp->port, parity_values[sp->parity]) != SP_OK)
		return config_error(c, "parity", sp_last_error_code());
	if (sp_set_stopbits(sp->port, sp->stop_bits) != SP_OK)
		return config_error(c, "stop_bits", sp_last_error_code());
	if (sp_set_flowcontrol(sp->port, flow_values[sp->flow]) != SP_OK)
		return config_error(c, "flow", sp_last_error_code());
	err = fix_rtscts(fd, flow_values[sp->flow] == SP_FLOWCONTROL_RTSCTS);
	return err < 0 ? config_error(c, "flow", -err) : 0;
}

static void drop_port(struct serial_priv *sp)
{
	if (sp->pty_fd >= 0)
		close(sp->pty_fd);
	sp->pty_fd = -1;
	if (!sp->port)
		return;
	sp_close(sp->port);
	sp_free_port(sp->port);
	sp->port = NULL;
}

/* Unix98 pty slaves (/dev/pts/N): majors 136-143. */
static bool is_pty(const char *dev)
{
	struct stat st;

	return stat(dev, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) >= 136 &&
	       major(st.st_rdev) <= 143;
}

/* A pty (a console another program exposes: socat, conserver, QEMU's
 * -serial pty) through plain termios: libserialport 0.1.1 cannot open one
 * (its modem-line ioctl fails). Baud and framing mean nothing on a pty. */
static int connect_pty(struct console *c, int64_t deadline_ns)
{
	struct serial_priv *sp = c->priv;
	struct termios t;
	int fd = open(sp->dev, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return open_error(c, deadline_ns, errno);
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
	sp->pty_fd = fd;
	c->fd = fd;
	sp->absent_reported = false;
	return 0;
}

static int serial_connect(struct console *c, int64_t deadline_ns)
{
	struct serial_priv *sp = c->priv;
	int rc, fd = -1;

	rc = sp->usb_serial && !sp->path ? find_by_usb_serial(c, deadline_ns)
	                                 : resolve_path(c, deadline_ns);
	if (rc < 0)
		return rc;
	if (sp->path && is_pty(sp->dev))
		return connect_pty(c, deadline_ns);
	if (sp_get_port_by_name(sp->dev, &sp->port) != SP_OK) {
		/* 0.1.1 answers SP_ERR_ARG when /sys/class/tty/NAME is missing:
		 * the adapter is gone again, or the node is no tty at all. */
		sp->port = NULL;
		if (access(sp->dev, F_OK) < 0)
			return report_absent(c, deadline_ns, sp->path ? sp->path : sp->dev);
		hil_error("board \"%s\": %s is not a serial port (no /sys/class/tty/ entry)",
		          c->board, sp->dev);
		return -ENOTTY;
	}
	if (sp_open(sp->port, SP_MODE_READ_WRITE) != SP_OK) {
		int err = sp_last_error_code();

		sp_free_port(sp->port);
		sp->port = NULL;
		return open_error(c, deadline_ns, err);
	}
	if (sp_get_port_handle(sp->port, &fd) != SP_OK || fd < 0) {
		hil_error("board \"%s\": %s: no file descriptor for the port", c->board, sp->dev);
		rc = -EIO;
	} else {
		rc = configure(c, fd);
	}
	if (rc < 0) {
		drop_port(sp);
		return rc;
	}
	/* Children (the command power driver) must not keep the UART open,
	 * and a second reader would steal bytes: claim it exclusively. */
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	ioctl(fd, TIOCEXCL);
	c->fd = fd;
	sp->absent_reported = false;
	return 0;
}

static bool vanished(int err)
{
	return err == EIO || err == ENXIO || err == ENODEV || err == EPIPE || err == EBADF ||
	       err == ESHUTDOWN;
}

/* A read or write on a pty: n, or -errno as libserialport would say it. */
static int pty_io(struct serial_priv *sp, ssize_t n)
{
	return n >= 0 ? (int)n : -1;
}

static ssize_t serial_read(struct console *c, void *buf, size_t len)
{
	struct serial_priv *sp = c->priv;
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	int n = sp->pty_fd >= 0 ? pty_io(sp, read(sp->pty_fd, buf, len))
	                        : (int)sp_nonblocking_read(sp->port, buf, len);

	if (n > 0)
		return n;
	if (n < 0) {
		int err = sp->pty_fd >= 0 ? errno : sp_last_error_code();

		if (err == EAGAIN || err == EINTR)
			return 0;
		if (vanished(err))
			goto gone;
		hil_error("board \"%s\": %s: read: %s", c->board, sp->dev, strerror(err));
		return -err;
	}
	/* Nothing read: a hung-up tty (adapter unplugged, board off) reads
	 * as EOF forever and polls as POLLHUP; an idle one does neither. */
	if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)))
		goto gone;
	return 0;
gone:
	hil_info("board \"%s\": %s vanished (board power off?)", c->board, sp->dev);
	return -EPIPE;
}

static ssize_t serial_write(struct console *c, const void *buf, size_t len)
{
	struct serial_priv *sp = c->priv;
	int n = sp->pty_fd >= 0 ? pty_io(sp, write(sp->pty_fd, buf, len))
	                        : (int)sp_nonblocking_write(sp->port, buf, len);
	int err;

	if (n >= 0)
		return n;
	err = sp->pty_fd >= 0 ? errno : sp_last_error_code();
	if (err == EAGAIN || err == EINTR)
		return 0;
	if (vanished(err)) {
		hil_info("board \"%s\": %s vanished (board power off?)", c->board, sp->dev);
		return -EPIPE;
	}
	hil_error("board \"%s\": %s: write: %s", c->board, sp->dev, strerror(err));
	return -err;
}

static void serial_disconnect(struct console *c)
{
	drop_port(c->priv);
	c->fd = -1;
}

static void serial_close(struct console *c)
{
	struct serial_priv *sp = c->priv;

	if (!sp)
		return;
	drop_port(sp);
	free(sp);
	c->priv = NULL;
}

const struct console_ops console_serial_ops = {
    .name = "serial",
    .open = serial_open,
    .connect = serial_connect,
    .read = serial_read,
    .write = serial_write,
    .disconnect = serial_disconnect,
    .close = serial_close,
};
