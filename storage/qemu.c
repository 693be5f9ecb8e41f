/* storage/qemu.c — the qemu storage driver: the test stand-in for an SD mux.
 * The "card" is the plain image file a QEMU board boots from (a drive of its
 * power: mapping with overlay off), so a restore writes the baseline image
 * onto that file with the same writer, checks and figures as a real card.
 * With the board's power off nothing else has the file open, so both
 * switches have nothing to do; the lab loader checks that the file is one of
 * the board's QEMU drives and that the drive has no overlay.
 *
 * Settings: file (the disk image; relative to the lab file), timeout. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cfg.h"
#include "lib/log.h"
#include "storage/storage.h"

static const char *const keys[] = {"driver", "timeout", "file", NULL};

char *storage_qemu_file(const struct cfg_node *settings)
{
	const char *file = NULL, *slash;
	const char *from = settings->file ? settings->file : "";
	char *out;

	if (cfg_get_str(settings, "file", true, &file) < 0)
		return NULL;
	slash = strrchr(from, '/');
	if (file[0] == '/' || !slash)
		return strdup(file);
	if (asprintf(&out, "%.*s/%s", (int)(slash - from), from, file) < 0)
		return NULL;
	return out;
}

static int qemu_check(const struct cfg_node *settings)
{
	const char *file = NULL;

	if (cfg_check_keys(settings, keys) < 0 || cfg_get_str(settings, "file", true, &file) < 0)
		return -EINVAL;
	if (!file[0] || strncmp(file, "/dev/", 5) == 0) {
		cfg_error(cfg_get(settings, "file"),
		          "\"%s\" is not a disk image file: give the file of the board's QEMU "
		          "drive (overlay off)",
		          file);
		return -EINVAL;
	}
	return 0;
}

static int qemu_open(struct storage *s, const struct cfg_node *settings)
{
	s->priv = storage_qemu_file(settings);
	return s->priv ? 0 : -ENOMEM;
}

/* The board is off: QEMU does not hold the file. */
static int qemu_switch(struct storage *s)
{
	(void)s;
	return 0;
}

static int qemu_device(struct storage *s, char *path, size_t size)
{
	if ((size_t)snprintf(path, size, "%s", (const char *)s->priv) >= size)
		return -ENAMETOOLONG;
	return 0;
}

static void qemu_close(struct storage *s)
{
	free(s->priv);
	s->priv = NULL;
}

const struct storage_ops storage_qemu_ops = {
    .name = "qemu",
    .check = qemu_check,
    .open = qemu_open,
    .to_host = qemu_switch,
    .to_board = qemu_switch,
    .device = qemu_device,
    .close = qemu_close,
};
