/* storage/storage.h — the seam every storage mux driver fills: put a board's
 * boot medium (SD card, eMMC) on the lab host or on the board, and say which
 * block device the card is while it is on the host. The image writer
 * (storage/writer.h) writes to that device; it knows no mux.
 *
 * A struct storage is owned by its caller; storage_open() fills it from the
 * lab file's storage: mapping and storage_close() releases what the driver
 * holds (a NULL or never-opened storage is fine). check() only reads the
 * settings (at lab load, no hardware touched). Drivers return 0 or a
 * negative errno and print one error line that names the board and what to
 * do (hil_error / cfg_error). */
#ifndef HILCTL_STORAGE_STORAGE_H
#define HILCTL_STORAGE_STORAGE_H

#include <stddef.h>
#include <stdint.h>

struct cfg_node;
struct storage;

struct storage_ops {
	const char *name; /* as written in the lab file's storage.driver */
	int (*check)(const struct cfg_node *settings);
	int (*open)(struct storage *s, const struct cfg_node *settings);
	int (*to_host)(struct storage *s);
	int (*to_board)(struct storage *s);
	/* The card's block device on the host (after to_host; the caller
	 * waits for it with blockdev_wait()). */
	int (*device)(struct storage *s, char *path, size_t size);
	void (*close)(struct storage *s);
};

struct storage {
	const struct storage_ops *ops;
	const char *board;  /* borrowed; for messages */
	int64_t timeout_ns; /* per operation; 0: the driver's default */
	void *priv;         /* the driver's own state */
};

const struct storage_ops *storage_find(const char *name);
/* "command, usbsdmux, sdwire, qemu" for error messages. */
const char *storage_driver_list(void);

/* Check a storage: mapping (with "driver:") without opening anything. */
int storage_check(const struct cfg_node *node);
int storage_open(struct storage *s, const char *board, const struct cfg_node *node);
int storage_to_host(struct storage *s);
int storage_to_board(struct storage *s);
int storage_device(struct storage *s, char *path, size_t size);
void storage_close(struct storage *s);

extern const struct storage_ops storage_command_ops, storage_usbsdmux_ops, storage_sdwire_ops,
    storage_qemu_ops;

/* qemu: the file: setting made usable from the current directory (relative
 * to the lab file). Caller frees; NULL when missing (printed) or out of
 * memory. */
char *storage_qemu_file(const struct cfg_node *settings);

#endif
