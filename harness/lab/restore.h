/* harness/lab/restore.h — a board's storage: section and the restore before
 * each run: put the board back on its baseline image the cheapest safe way.
 *
 *   storage:
 *     mux: {driver: sdwire, serial: sdw-07}   # any storage driver (storage/storage.h)
 *     image: images/baseline.img.xz          # the baseline image (relative to the lab file)
 *     bmap: images/baseline.img.bmap         # optional: else IMAGE.bmap if it exists
 *     full_write: false                      # true: every byte, no bmap
 *     verify: true                           # read every written range back
 *     expect_size: 15931539456               # optional: the card must have this size (K/M/G/T)
 *     expect_id: usb-Generic_SD_000008264001-0:0   # optional: by-id name or serial
 *     wait: 30s                              # for the card's block device after the switch
 *     restore: auto                          # auto | always | never
 *
 * restore_cfg_parse() is the one reader of that section: the lab loader runs
 * it with check_files (exit 2 at load: a bad driver, a missing image, a bmap
 * that is missing or does not parse), and the engine runs it before each
 * run. The struct owns the paths it resolved; restore_cfg_free() releases
 * them. */
#ifndef HILCTL_LAB_RESTORE_H
#define HILCTL_LAB_RESTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/verdict.h"
#include "storage/blockdev.h"

struct board;
struct board_cfg;
struct cfg_node;

enum restore_policy { RESTORE_AUTO, RESTORE_ALWAYS, RESTORE_NEVER };

struct restore_cfg {
	const struct cfg_node *node, *mux; /* borrowed from the lab's tree */
	char *image, *bmap;                /* owned, usable from the cwd; bmap may be NULL */
	bool full_write, verify;
	struct blockdev_expect expect; /* expect.id borrowed */
	int64_t wait_ns;
	enum restore_policy policy;
};

/* 0, or -EINVAL with one error at the lab file's line; check_files also
 * opens the image and parses the bmap. */
int restore_cfg_parse(const struct board_cfg *b, struct restore_cfg *out, bool check_files);
void restore_cfg_free(struct restore_cfg *rc);
const char *restore_policy_name(enum restore_policy p);

/* What a board's last run left, for the auto policy (kept in struct board
 * for as long as one process holds the board: a board nobody saw end a run
 * is unknown). */
struct restore_last {
	bool known;
	enum verdict verdict;
	char old_version[32]; /* the scenario's old (baseline) version */
};

/* How the board got to the run's starting state (the journal's "restore"). */
struct restore_result {
	bool present;   /* the board has a storage: section (else nothing below) */
	bool reflashed; /* the image was written (else the board was left as it was) */
	bool ok;        /* false: the restore failed, error says how */
	enum restore_policy policy;
	char why[160];   /* why it was or was not reflashed */
	char error[400]; /* what failed */
	char device[256];
	bool bmap;
	double seconds; /* the whole restore: switches, wait, write, verify */
	double write_seconds, verify_seconds, mb_per_s;
	uint64_t image_size, bytes_written, bytes_verified;
};

/* Before a run, with the board's power off: decide by the policy and what
 * the last run left, and reflash when needed (switch the card to the host,
 * wait for its block device, write and verify, switch it back). Returns 0
 * (res filled; nothing to do for a board without storage), or -errno when
 * the restore failed (res->error says what; the board should take no more
 * runs). */
int restore_before_run(struct board *b, const char *old_version, struct restore_result *res);
/* After a run: what it left, for the next decision. */
void restore_after_run(struct board *b, enum verdict v, const char *old_version);

#endif
