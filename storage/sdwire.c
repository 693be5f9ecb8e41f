/* storage/sdwire.c — the sdwire storage driver: the SDWire SD mux (Samsung /
 * Tizen design, Badgerd's SDWireC), an FTDI FT200X behind a small USB hub
 * with the card reader beside it. After `sd-mux-ctrl --init` the FT200X
 * enumerates as 04e8:6001 with product "sd-wire" (factory state 0403:6015),
 * each with its own serial number. The mux is CBUS0 in libftdi1's CBUS
 * bitbang mode, ftdi_set_bitmode(ctx, mask, BITMODE_CBUS = 0x20), where the
 * high nibble of mask sets the direction of CBUS3..0 and the low nibble their
 * level: 0xF1 puts the card on the host (CBUS0 = 1), 0xF0 on the board.
 *
 * Every switch is one short USB session (new, open by VID/PID/serial, set the
 * bitmode, close, free), so no claim is held between switches; the FT200X
 * keeps its pins until it loses power. The card's block device is found in
 * sysfs: the USB device with this VID/PID/serial, its hub (the parent
 * directory), and the mass-storage sibling under that hub whose SCSI disk has
 * a block/ entry. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ftdi.h>

#include "lib/cfg.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "storage/blockdev.h"
#include "storage/storage.h"

#define SDWIRE_VID 0x04e8
#define SDWIRE_PID 0x6001
#define SDWIRE_TO_HOST 0xF1  /* CBUS3..0 outputs, CBUS0 high */
#define SDWIRE_TO_BOARD 0xF0 /* CBUS3..0 outputs, CBUS0 low */
#define SDWIRE_DEFAULT_TIMEOUT_NS (5 * NS_PER_S)

struct sdwire {
	int vid, pid;
	const char *serial;
};

static const char *const keys[] = {"driver", "timeout", "serial", "vid", "pid", NULL};

static int parse(const struct cfg_node *settings, struct sdwire *w)
{
	long long vid = SDWIRE_VID, pid = SDWIRE_PID;

	w->serial = NULL;
	if (cfg_check_keys(settings, keys) < 0 ||
	    cfg_get_str(settings, "serial", true, &w->serial) < 0 ||
	    cfg_get_int(settings, "vid", false, 0, 0xFFFF, &vid) < 0 ||
	    cfg_get_int(settings, "pid", false, 0, 0xFFFF, &pid) < 0)
		return -EINVAL;
	if (!w->serial[0]) {
		cfg_error(cfg_get(settings, "serial"),
		          "needs the SDWire's serial number (sd-mux-ctrl --list shows it): several "
		          "SDWires share 04e8:6001");
		return -EINVAL;
	}
	w->vid = (int)vid;
	w->pid = (int)pid;
	return 0;
}

static int sdwire_check(const struct cfg_node *settings)
{
	struct sdwire w;

	return parse(settings, &w);
}

static int sdwire_open(struct storage *s, const struct cfg_node *settings)
{
	struct sdwire *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	if (parse(settings, w) < 0) {
		free(w);
		return -EINVAL;
	}
	s->priv = w;
	return 0;
}

static const char *error_text(struct ftdi_context *ctx)
{
	const char *why = ftdi_get_error_string(ctx);

	return why ? why : "unknown error";
}

static int open_error(struct storage *s, struct sdwire *w, struct ftdi_context *ctx, int code)
{
	if (code == -3) {
		hil_error("board \"%s\": SDWire %04x:%04x serial \"%s\": not found (plugged in? "
		          "lsusb -d %04x:%04x; a new SDWire is 0403:6015 until sd-mux-ctrl --init)",
		          s->board, w->vid, w->pid, w->serial, w->vid, w->pid);
		return -ENODEV;
	}
	if (code == -4 || code == -8) {
		hil_error("board \"%s\": SDWire serial \"%s\": cannot open it: %s (usually "
		          "permission denied: a udev rule for %04x:%04x, see docs/storage.md)",
		          s->board, w->serial, error_text(ctx), w->vid, w->pid);
		return -EACCES;
	}
	if (code == -5) {
		hil_error("board \"%s\": SDWire serial \"%s\": busy: %s (another program holds it)",
		          s->board, w->serial, error_text(ctx));
		return -EBUSY;
	}
	hil_error("board \"%s\": SDWire serial \"%s\": cannot open it: %s (libftdi error %d)",
	          s->board, w->serial, error_text(ctx), code);
	return -EIO;
}

static int switch_to(struct storage *s, unsigned char mask)
{
	struct sdwire *w = s->priv;
	int64_t timeout = s->timeout_ns ? s->timeout_ns : SDWIRE_DEFAULT_TIMEOUT_NS;
	int ms = (int)(timeout / NS_PER_MS), code, rc = 0;
	struct ftdi_context *ctx = ftdi_new();

	if (!ctx) {
		hil_error("board \"%s\": SDWire: ftdi_new failed (out of memory?)", s->board);
		return -ENOMEM;
	}
	ctx->usb_read_timeout = ms > 0 ? ms : 1;
	ctx->usb_write_timeout = ms > 0 ? ms : 1;
	code = ftdi_usb_open_desc_index(ctx, w->vid, w->pid, NULL, w->serial, 0);
	if (code < 0) {
		rc = open_error(s, w, ctx, code);
		ftdi_free(ctx);
		return rc;
	}
	code = ftdi_set_bitmode(ctx, mask, BITMODE_CBUS);
	if (code < 0) {
		hil_error("board \"%s\": SDWire serial \"%s\": setting CBUS bitbang 0x%02x failed: "
		          "%s (is CBUS0 configured as GPIO? sd-mux-ctrl --init does that)",
		          s->board, w->serial, mask, error_text(ctx));
		rc = -EIO;
	}
	ftdi_usb_close(ctx);
	ftdi_free(ctx);
	return rc;
}

static int sdwire_to_host(struct storage *s)
{
	return switch_to(s, SDWIRE_TO_HOST);
}

static int sdwire_to_board(struct storage *s)
{
	return switch_to(s, SDWIRE_TO_BOARD);
}

static bool attr_is(const char *dir, const char *name, const char *want)
{
	char path[PATH_MAX], text[128];
	FILE *f;
	bool same = false;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return false;
	f = fopen(path, "re");
	if (f && fgets(text, sizeof(text), f)) {
		text[strcspn(text, "\n")] = 0;
		same = strcasecmp(text, want) == 0;
	}
	if (f)
		fclose(f);
	return same;
}

/* The first block device below dir (a USB device: its interfaces, the SCSI
 * host, target, disk and block/ entry are 5-6 levels down). */
static bool find_block(const char *dir, int depth, char *name, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char sub[PATH_MAX];
	bool found = false;

	while (d && !found && (e = readdir(d))) {
		if (e->d_name[0] == '.' || e->d_type == DT_LNK)
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name) >= (int)sizeof(sub))
			continue;
		if (strcmp(e->d_name, "block") == 0) {
			DIR *b = opendir(sub);
			struct dirent *be;
			while (b && !found && (be = readdir(b)))
				if (be->d_name[0] != '.') {
					snprintf(name, size, "%s", be->d_name);
					found = true;
				}
			if (b)
				closedir(b);
		} else if (depth < 7 && e->d_type == DT_DIR) {
			found = find_block(sub, depth + 1, name, size);
		}
	}
	if (d)
		closedir(d);
	return found;
}

/* The FT200X's own directory in sysfs, links resolved. */
static bool find_ftdi(const struct sdwire *w, char *out)
{
	char devices[PATH_MAX], entry[PATH_MAX + 256], id[8];
	DIR *d;
	struct dirent *e;
	bool found = false;

	snprintf(devices, sizeof(devices), "%s/bus/usb/devices", blockdev_sysfs_root());
	d = opendir(devices);
	while (d && !found && (e = readdir(d))) {
		if (e->d_name[0] == '.' || strchr(e->d_name, ':'))
			continue;
		snprintf(entry, sizeof(entry), "%s/%s", devices, e->d_name);
		snprintf(id, sizeof(id), "%04x", w->vid);
		if (!attr_is(entry, "idVendor", id))
			continue;
		snprintf(id, sizeof(id), "%04x", w->pid);
		if (attr_is(entry, "idProduct", id) && attr_is(entry, "serial", w->serial))
			found = realpath(entry, out) != NULL;
	}
	if (d)
		closedir(d);
	return found;
}

static int sdwire_device(struct storage *s, char *path, size_t size)
{
	struct sdwire *w = s->priv;
	char self[PATH_MAX], hub[PATH_MAX], sub[PATH_MAX + 256], name[NAME_MAX + 1];
	const char *self_name;
	DIR *d;
	struct dirent *e;
	int found = 0;

	if (!find_ftdi(w, self)) {
		hil_error("board \"%s\": SDWire serial \"%s\": no USB device %04x:%04x with that "
		          "serial in %s/bus/usb/devices (plugged in?)",
		          s->board, w->serial, w->vid, w->pid, blockdev_sysfs_root());
		return -ENODEV;
	}
	snprintf(hub, sizeof(hub), "%s", self);
	*strrchr(hub, '/') = 0;
	self_name = strrchr(self, '/') + 1;
	d = opendir(hub);
	while (d && (e = readdir(d))) {
		char this_name[NAME_MAX + 1];
		if (e->d_name[0] == '.' || strchr(e->d_name, ':') || !strchr(e->d_name, '-') ||
		    strcmp(e->d_name, self_name) == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", hub, e->d_name);
		if (find_block(sub, 0, this_name, sizeof(this_name))) {
			if (found++ == 0)
				snprintf(name, sizeof(name), "%s", this_name);
		}
	}
	if (d)
		closedir(d);
	if (found != 1) {
		hil_error("board \"%s\": SDWire serial \"%s\": %s beside it under hub %s (%s)",
		          s->board, w->serial,
		          found ? "more than one mass-storage device" : "no mass-storage device",
		          hub,
		          found ? "cannot tell which is the card"
		                : "card on the board side, or no card?");
		return -ENODEV;
	}
	return (size_t)snprintf(path, size, "/dev/%s", name) < size ? 0 : -ENAMETOOLONG;
}

static void sdwire_close(struct storage *s)
{
	free(s->priv);
	s->priv = NULL;
}

const struct storage_ops storage_sdwire_ops = {
    .name = "sdwire",
    .check = sdwire_check,
    .open = sdwire_open,
    .to_host = sdwire_to_host,
    .to_board = sdwire_to_board,
    .device = sdwire_device,
    .close = sdwire_close,
};
