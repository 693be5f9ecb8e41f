/* qemu/postfault.h — the disk a QEMU board booted after a fault's power cut,
 * kept for an exact replay (hilctl reproduce, docs/journal.md).
 *
 * At the power on that follows a fault's cut (the engine says which: the
 * oracle's own power cycles are not faults), qemu_postfault_mark() turns the
 * board disk's overlay, as that power on found it (after the power-loss
 * model, qemu/powerloss.h, made its durable disk), into a frozen layer,
 * RUN/postfault-<index>-<k>.qcow2, and lays a fresh overlay over it: what the
 * board writes from then on never reaches the frozen layer. After a failing
 * run, qemu_postfault_keep() flattens the newest frozen layer and everything
 * under it but the lab's image into one compressed qcow2 over that image:
 * the very disk the board booted after its last fault, byte for byte.
 * qemu_postfault_install() puts such a kept disk under the board again.
 * Every RUN/postfault-* file is removed by prepare (qemu_postfault_reset). */
#ifndef HILCTL_QEMU_POSTFAULT_H
#define HILCTL_QEMU_POSTFAULT_H

#include <stddef.h>
#include <stdint.h>

struct qemu_config;

/* Before QEMU starts, after the overlays are made: freeze the board disk's
 * overlay (see above). 0, or -errno (printed, naming the board). */
int qemu_postfault_mark(const struct qemu_config *qc, const char *board, const char *run_dir,
                        int64_t deadline_ns);

/* Forget every frozen layer of the board (prepare, before each run). */
void qemu_postfault_reset(const struct qemu_config *qc, const char *run_dir);

/* Write the newest frozen layer, flattened over the lab's image, to out
 * (never over an existing file), and out.base: the lab image's identity.
 * 1 kept, 0 no fault's power on this run (nothing to keep), -errno with
 * why filled in. */
int qemu_postfault_keep(const struct qemu_config *qc, const char *run_dir, const char *out,
                        int64_t deadline_ns, char *why, size_t why_len);

/* After prepare: the board boots the kept disk (read, never written) at its
 * next power on, as the disk of its first power cut
 * (RUN/durable-<index>-1.qcow2, so a power-loss model's later cuts build on
 * it). Refuses a kept disk whose base image is not the board's, or changed
 * since (-ESTALE). 0 or -errno with why filled in. */
int qemu_postfault_install(const struct qemu_config *qc, const char *run_dir, const char *kept,
                           int64_t deadline_ns, char *why, size_t why_len);

#endif
