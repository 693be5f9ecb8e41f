/* qemu/overlay.h — copy-on-write overlays of a board's disk images: a drive
 * with overlay: true runs on RUN/overlay-<index>.qcow2 backed by the image
 * the lab file names, so runs never write the image, and a fresh overlay
 * puts the board back to that image (power_ops.prepare, before each run of
 * a campaign). Made with qemu-img (Debian: qemu-utils). */
#ifndef HILCTL_QEMU_OVERLAY_H
#define HILCTL_QEMU_OVERLAY_H

#include <stdbool.h>
#include <stdint.h>

struct qemu_config;

/* Make the overlays that are missing, or all of them anew when fresh.
 * Errors are printed naming the board (with qemu-img's own words).
 * 0 or -errno. */
int qemu_overlays_make(const struct qemu_config *qc, const char *board, const char *run_dir,
                       bool fresh, int64_t deadline_ns);

/* qemu-img beside the QEMU binary when that is given as a path, else the
 * one on PATH. Caller frees; NULL when out of memory. */
char *qemu_img_program(const struct qemu_config *qc);

#endif
