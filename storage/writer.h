/* storage/writer.h — the image writer: what lab people use `bmaptool copy`
 * for. It writes an image (plain, .gz, .xz or .zst) to a block device or an
 * image file; with a bmap only the mapped ranges, each checked against the
 * bmap's checksum as it streams past; then fsync, drop the cached pages, read
 * every written range back from the device and compare. Before the first byte
 * the target passes blockdev_check_target() (not mounted, not the host's
 * disk, the expected size and identity), and a block device is opened
 * O_EXCL, so the kernel refuses one that something holds.
 *
 * Errors (one line each, through hil_error, naming the device or file):
 *   -EPERM    a refused target          -EINVAL / -ENOENT  bad image or bmap
 *   -EBADMSG  the image disagrees with its bmap (or is corrupt)
 *   -EIO etc  the device failed; -EIO also when the read-back differs
 *   -EINTR    stop_requested() */
#ifndef HILCTL_STORAGE_WRITER_H
#define HILCTL_STORAGE_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/blockdev.h"
#include "storage/image.h"

struct writer_opts {
	const char *image;
	const char *bmap;   /* NULL: IMAGE.bmap or IMAGE-without-.gz/.xz/.zst.bmap if one exists */
	bool no_bmap;       /* write every byte of the image */
	bool verify;        /* read back and compare (default on in the CLI) */
	bool progress;      /* a status line on stderr (a terminal) */
	const char *target; /* a block device or an image file */
	struct blockdev_expect expect;
};

struct writer_result {
	enum image_format format;
	char bmap_path[4096]; /* "" without a bmap */
	uint64_t image_size;  /* the image's bytes */
	uint64_t bytes_written, bytes_verified;
	double write_seconds;  /* writes and the fsync */
	double verify_seconds; /* the read-back */
};

int writer_flash(const struct writer_opts *opts, struct writer_result *res);
/* Megabytes (10^6 bytes) per second of the write, for messages. */
double writer_mb_per_s(const struct writer_result *res);

#endif
