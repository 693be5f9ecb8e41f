/* qemu/snapshot.h — start runs from a saved machine instead of a boot.
 *
 * Once per board and key, the machine is booted to the point where the
 * update begins and saved there: QMP stop, HMP savevm (the vCPUs, RAM and
 * devices go into the qcow2 overlays), then its overlays are copied into
 * RUN/snapshot-<digest>/ (the golden copy, never run again). Each later run
 * copies the golden overlays back over its own and starts QEMU with
 * -loadvm, so every run begins from exactly the same pre-update state.
 *
 * The digest covers the caller's key (scenario and its setup steps), the
 * QEMU command line and the identity (device, inode, size, mtime) of every
 * overlay's base image: a rebuilt base image, another lab file or other
 * setup steps make a new golden copy, and the old one is removed.
 *
 * savevm needs every writable drive to be a qcow2 image it can snapshot:
 * drives must be overlays or read-only, never -blockdev, and the
 * power-loss model (blklogwrites under the overlays) cannot combine with
 * it. qemu_snapshot_check() says why a machine cannot be saved. */
#ifndef HILCTL_QEMU_SNAPSHOT_H
#define HILCTL_QEMU_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

struct qemu_config;
struct qmp;

/* The tag of the internal snapshot in every overlay. */
#define QEMU_SNAPSHOT_TAG "hilctl-pre-update"

/* 0 when the machine can be saved; else -EINVAL with a one-line reason in
 * why (naming the drive and what to change). */
int qemu_snapshot_check(const struct qemu_config *qc, char *why, size_t why_size);

/* RUN/snapshot-<digest> for this key (malloc'd; NULL when out of memory or
 * a base image cannot be read). */
char *qemu_snapshot_dir(const struct qemu_config *qc, const char *run_dir, const char *key);

/* Save the running machine on q (stop, savevm, copy the overlays into dir,
 * remove other snapshot dirs of the board) and resume it. 0 or -errno with
 * why filled. */
int qemu_snapshot_save(const struct qemu_config *qc, struct qmp *q, const char *run_dir,
                       const char *dir, int64_t deadline_ns, char *why, size_t why_size);

/* With the machine off: copy dir's overlays over the run's. 1 done, 0 no
 * such snapshot, -errno on failure (why filled). */
int qemu_snapshot_restore(const struct qemu_config *qc, const char *run_dir, const char *dir,
                          char *why, size_t why_size);

#endif
