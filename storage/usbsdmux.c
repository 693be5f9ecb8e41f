/* storage/usbsdmux.c — the usbsdmux storage driver: Linux Automation's
 * USB-SD-Mux (a Microchip USB2642 card reader whose mux is switched through
 * SCSI-generic ioctls), driven by Debian's `usbsdmux SG host|dut` program
 * from an argv list, never a shell.
 *
 * Settings: sg (the mux's /dev/sgN, or a stable link to it such as the
 * /dev/usb-sd-mux/id-SERIAL that the vendor's udev rule makes), program
 * (default usbsdmux), timeout. The card's block device is the block device
 * of the same SCSI device as the sg node: sysfs
 * class/scsi_generic/sgN/device/block/<sdX>, read when asked (the sdX name
 * changes whenever the reader re-enumerates). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cfg.h"
#include "lib/log.h"
#include "storage/argv.h"
#include "storage/blockdev.h"
#include "storage/storage.h"

struct usbsdmux {
	const char *sg, *program;
};

static const char *const keys[] = {"driver", "timeout", "sg", "program", NULL};

static int usbsdmux_check(const struct cfg_node *settings)
{
	const char *sg = NULL, *program = "usbsdmux";

	if (cfg_check_keys(settings, keys) < 0 || cfg_get_str(settings, "sg", true, &sg) < 0 ||
	    cfg_get_str(settings, "program", false, &program) < 0)
		return -EINVAL;
	if (sg[0] != '/') {
		cfg_error(cfg_get(settings, "sg"),
		          "\"%s\" is not an absolute path: give the mux's /dev/sgN or its "
		          "/dev/usb-sd-mux/id-SERIAL link",
		          sg);
		return -EINVAL;
	}
	return 0;
}

static int usbsdmux_open(struct storage *s, const struct cfg_node *settings)
{
	struct usbsdmux *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->program = "usbsdmux";
	cfg_get_str(settings, "sg", true, &m->sg);
	cfg_get_str(settings, "program", false, &m->program);
	s->priv = m;
	return 0;
}

static int run_mode(struct storage *s, const char *mode)
{
	struct usbsdmux *m = s->priv;
	char *argv[] = {(char *)m->program, (char *)m->sg, (char *)mode, NULL};

	return storage_run_argv(s->board, mode[0] == 'h' ? "to_host" : "to_board", argv,
	                        s->timeout_ns);
}

static int usbsdmux_to_host(struct storage *s)
{
	return run_mode(s, "host");
}

static int usbsdmux_to_board(struct storage *s)
{
	return run_mode(s, "dut");
}

static int usbsdmux_device(struct storage *s, char *path, size_t size)
{
	struct usbsdmux *m = s->priv;
	char real[PATH_MAX], dir[PATH_MAX + 128];
	const char *name;
	DIR *d;
	struct dirent *e;
	int rc = -ENODEV;

	if (!realpath(m->sg, real)) {
		hil_error("board \"%s\": usbsdmux: %s: %s (is the USB-SD-Mux plugged in?)",
		          s->board, m->sg, strerror(errno));
		return -ENODEV;
	}
	name = strrchr(real, '/') + 1;
	snprintf(dir, sizeof(dir), "%s/class/scsi_generic/%s/device/block", blockdev_sysfs_root(),
	         name);
	d = opendir(dir);
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			rc = (size_t)snprintf(path, size, "/dev/%s", e->d_name) < size
			         ? 0
			         : -ENAMETOOLONG;
			break;
		}
	if (d)
		closedir(d);
	if (rc == -ENODEV)
		hil_error("board \"%s\": usbsdmux: %s (%s) has no block device in %s (no card in "
		          "the mux, or the card is on the board side?)",
		          s->board, m->sg, name, dir);
	return rc;
}

static void usbsdmux_close(struct storage *s)
{
	free(s->priv);
	s->priv = NULL;
}

const struct storage_ops storage_usbsdmux_ops = {
    .name = "usbsdmux",
    .check = usbsdmux_check,
    .open = usbsdmux_open,
    .to_host = usbsdmux_to_host,
    .to_board = usbsdmux_to_board,
    .device = usbsdmux_device,
    .close = usbsdmux_close,
};
