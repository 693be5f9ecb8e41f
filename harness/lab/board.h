/* harness/lab/board.h — one board opened for use: its lock, power, console and
 * timeline, and the power sequences that keep the console ahead of boot.
 *
 * board_open() fills a caller-owned struct board; board_close() releases
 * everything, including the lock if this process took it. */
#ifndef HILCTL_BOARD_H
#define HILCTL_BOARD_H

#include <stdbool.h>
#include <stdint.h>

#include "power/power.h"
#include "harness/console/console.h"
#include "harness/lab/lab.h"
#include "harness/lab/restore.h"

struct timeline;

#define BOARD_F_PERSIST 0x1    /* power state outlives hilctl (CLI power on) */
#define BOARD_F_NO_CONSOLE 0x2 /* do not open the console */
#define BOARD_F_NO_LOCK 0x4    /* caller holds the lock already */

struct board {
	const struct board_cfg *cfg;
	const struct lab *lab;
	char run_dir[512];
	struct power power;
	struct console console;
	bool has_console;
	bool locked_here;
	bool powered; /* switched on by this process and not off since */
	struct timeline *tl;
	struct restore_last last_run; /* what the last run left (restore.h) */
};

/* Open by name. timeline_path NULL: <run_dir>/timeline.jsonl.
 * Returns 0, -ENOENT (no such board, message printed), -EBUSY (locked), or
 * the driver's error. */
int board_open(struct board *b, const struct lab *lab, const char *name, const char *timeline_path,
               unsigned flags);
void board_close(struct board *b);
/* Route power, console and events to tl from now on (one timeline per run);
 * the board's previous timeline is closed. */
void board_set_timeline(struct board *b, struct timeline *tl);

/* Power on with the console connected before the board runs. */
int board_power_on(struct board *b, int64_t deadline_ns);
int board_power_off(struct board *b);
/* Off, wait off_ns (a deadline-bound wait, not a sleep), on. */
int board_power_cycle(struct board *b, int64_t off_ns, int64_t deadline_ns);

struct expect;
struct expect_match;
/* Wait on the console until a pattern matches (1, *m filled, *t_ns = time
 * of the read that completed it), the deadline passes (0), or an error or
 * signal (-errno; -EINTR when interrupted). A console that vanishes is
 * reconnected until the deadline; bytes read before are kept. */
int board_expect(struct board *b, struct expect *e, int64_t deadline_ns, struct expect_match *m,
                 int64_t *t_ns);

#endif
