/* harness/campaign/shard_board.h — which board one shard of a campaign runs on, when
 * the scheduler (or the host) decides rather than --board.
 *
 * Under Slurm ($SLURM_JOB_ID set) it is the board Slurm allocated: the task's
 * GRES "board" index (from $HILCTL_GRES_IDX, which a TaskProlog may export,
 * else from `scontrol -o show job -d $SLURM_JOB_ID`, the record of this very
 * JobId) counts over this host's boards in lab-file order, which is the order
 * `hilctl gres` writes the host's gres.conf lines in. A task that cannot tell
 * refuses to start. Outside Slurm the shard takes the first board of this
 * host that fits and whose board lock (harness/lab/lock.c) is free. */
#ifndef HILCTL_SHARD_BOARD_H
#define HILCTL_SHARD_BOARD_H

#include <stdbool.h>

#include "harness/lab/lab.h"

/* In `scontrol -o show job -d` output, the record whose JobId is job_id, its
 * first GRES entry named gres ("board", or "board:TYPE"): the first allocated
 * index. 0 and *idx; -ENOENT when the record has no such GRES; -ESRCH when
 * no record is that job's. Pure: no I/O. */
int slurm_gres_index(const char *scontrol_out, const char *job_id, const char *gres, int *idx);

typedef bool (*board_fits_fn)(const struct board_cfg *b, void *ctx);

/* Choose the shard's board. On success 0, *out set, and *locked true when
 * this process took the board's lock (release it with lock_release()).
 * Errors are printed and returned: -EINVAL the lab or the job cannot say
 * which board (a configuration error), -EBUSY every fitting board of this
 * host is locked, -EIO scontrol could not be asked. */
int shard_board_pick(const struct lab *lab, board_fits_fn fits, void *ctx,
                     const struct board_cfg **out, bool *locked);

/* A board -jN wanted that another live process holds. */
struct board_busy {
	const char *board; /* borrowed from the lab */
	int pid;           /* the lock's holder */
	char cmd[96];      /* its command line, "?" when unknown */
};
#define BOARDS_BUSY_MAX 16

/* For -jN outside --board auto: up to want boards that fit, in lab order,
 * skipping those whose lock another live process holds (not this one or an
 * ancestor: hilctl lock from the calling shell still counts as ours). The
 * skipped boards (up to BOARDS_BUSY_MAX) are put in busy, *n_busy of them.
 * Returns how many boards were put in out. Locks are only read, not taken:
 * the workers take them. */
size_t boards_pick_free(const struct lab *lab, board_fits_fn fits, void *ctx, size_t want,
                        const struct board_cfg **out, struct board_busy *busy, size_t *n_busy);
/* The busy boards for a message: "qemu-02 (locked by pid 4242: hilctl lock
 * qemu-02)", comma-separated; "" when none. */
void boards_busy_text(const struct board_busy *busy, size_t n, char *text, size_t size);

#endif
