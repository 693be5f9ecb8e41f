/* qemu/powerloss.h — the faithful power-loss model of a QEMU board
 * (docs/power-loss.md).
 *
 * With power_loss: on (any model but quit), every overlay drive runs through
 * QEMU's blklogwrites driver, which logs the guest's writes and flushes into
 * RUN/wlog-<index>.log. A power off kills QEMU (no flush on the way out)
 * and leaves that log as it is; the next power
 * on applies the model to it: the disk becomes a new qcow2,
 * RUN/durable-<index>-<n>.qcow2 (n counts the cuts since prepare), over the
 * disk the board had at the previous power on, holding everything up to the
 * last completed flush plus the writes after it that the model keeps; the
 * board then runs on a fresh overlay over it, with a fresh log. So the cost
 * is paid only for a disk that boots again, and what a cut kept and dropped
 * goes into the timeline (event "power_loss") of the run that boots it.
 *
 * Every file lives in the board's run directory; prepare (before each run)
 * removes logs and durable disks, so each run starts from the lab's image. */
#ifndef HILCTL_QEMU_POWERLOSS_H
#define HILCTL_QEMU_POWERLOSS_H

#include <stdbool.h>
#include <stdint.h>

struct cfg_node;
struct qemu_config;
struct qemu_proc;
struct timeline;

/* power_loss: MODEL  or  power_loss: {model: MODEL, seed: N}; model one of
 * strict (the default), torn, none, all, quit. Checks that the board has an
 * overlay drive whose flushes reach QEMU (no cache=unsafe, no
 * cache.no-flush). Errors print file:line:col. 0 or -EINVAL. */
int qemu_power_loss_parse(struct qemu_config *qc, const struct cfg_node *settings);

/* The power cut itself for a board with a model on: SIGKILL, so that QEMU
 * flushes nothing on its way out (QMP stop and quit both flush every disk,
 * which would make every write durable), and the log holds exactly the
 * requests that completed before the cut. *t_cut_ns: when the kill was
 * sent. 1 done, 0 no model (the caller stops QEMU its usual way), -errno. */
int qemu_power_loss_cut(const struct qemu_config *qc, struct qemu_proc *proc, int64_t *t_cut_ns,
                        int64_t deadline_ns);

/* Before a run, power off: the run's model. The lab's, except that a run
 * that cuts at a disk write (want_log) on a lab without a model gets "all"
 * (what QEMU's quit keeps, through the log), since the cut needs the log.
 * 0, or -EINVAL (printed, naming the board) when no drive can be logged. */
int qemu_power_loss_for_run(struct qemu_config *qc, const char *board, bool want_log);

/* The log of the board's disk, the first overlay drive (malloc'd), or NULL
 * when the run's model keeps none (quit). */
char *qemu_power_loss_disk_log(const struct qemu_config *qc, const char *run_dir);

/* RUN/wlog-<index>.log (malloc'd). */
char *qemu_wlog_path(const char *run_dir, int index);

/* Before a run: forget every log and durable disk of the board. */
void qemu_power_loss_reset(const struct qemu_config *qc, const char *run_dir);

/* At power on, before QEMU starts: apply the model to what the last power
 * off left (run_seed: the run's seed, mixed with the lab file's seed, the
 * drive and the cut number), put each overlay drive on a fresh overlay over
 * the resulting disk, and empty its log. Errors are printed naming the
 * board. 0 or -errno. */
/* keep_writes > 0: the cut came at the board disk's write number
 * keep_writes (counted from the last power on, qemu_power_loss_disk_log):
 * that disk's log counts only up to it, as if the power had gone right
 * after it completed. */
int qemu_power_loss_power_on(const struct qemu_config *qc, const char *board, const char *run_dir,
                             uint64_t run_seed, uint64_t keep_writes, struct timeline *tl,
                             int64_t deadline_ns);

#endif
