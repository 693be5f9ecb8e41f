/* harness/explore/explore_int.h — the explorer's own state, shared by its files
 * (cmd_explore.c: options; explore_record.c: the recording; explore_disk.c:
 * the log, hashes and crash disks; explore_boot.c: workers, journal,
 * summary). Not for other files. */
#ifndef HILCTL_EXPLORE_INT_H
#define HILCTL_EXPLORE_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness/explore/explore.h"
#include "harness/lab/lab.h"
#include "harness/run/scenario.h"
#include "lib/verdict.h"

struct board;
struct wlog;

struct explore_opts {
	const char *lab_path;
	const char *scenario_path;
	const char *out_dir;
	const char *from_dir; /* --from: reuse DIR/record instead of recording */
	const char **only;    /* --only SEL (repeatable), NULL-terminated, or NULL */
	const char **boards;  /* --board, NULL-terminated, or NULL: any that fits */
	const char **phases;  /* --phase, NULL-terminated, or NULL: every epoch */
	int jobs;
	long max_states;     /* booted states; 0 = no limit */
	int64_t max_time_ns; /* no new state after this; 0 = no limit */
	uint64_t seed;
	unsigned reorder;
	bool list_only; /* --list: enumerate and write states.jsonl, boot nothing */
	int argc;
	char **argv;
};

/* The disk the explorer works on: the board's drive with overlay: true. */
struct explore_disk {
	int drive_index;         /* in the board's power.drives */
	char base[PATH_MAX];     /* resolved base image */
	char base_format[16];    /* raw | qcow2 */
	char base_identity[128]; /* device, inode, size, mtime when recorded */
	char qemu_img[PATH_MAX]; /* qemu-img beside the board's QEMU, or "" (PATH) */
};

struct explore {
	const struct explore_opts *o;
	struct lab *lab;
	struct scenario *sc;
	const struct board_cfg *record_board;
	struct explore_disk disk;
	char record_dir[PATH_MAX];    /* OUT/record, or FROM/record */
	char log_path[PATH_MAX + 16]; /* record_dir/write.log */
	struct wlog *log;
	struct xw_entry *e;      /* one per log entry */
	uint64_t *sector_hashes; /* the entries' content hashes point in here */
	size_t n;
	struct xw_phase *ph;
	size_t n_ph;
	double record_s; /* how long the recording took */
	char record_verdict[32];
	struct xs_list states;
	int64_t t_start;
};

/* explore_record.c: run the scenario's update once, no fault, the write
 * log on; fills record_dir (write.log, phases.jsonl, record.json,
 * timeline.jsonl) and x->ph. Returns a CLI exit code (EXIT_OK to go on). */
int explore_record(struct explore *x);
/* Load record_dir/phases.jsonl and record.json (after a recording or with --from). */
int explore_load_record(struct explore *x);

/* explore_disk.c */
/* Turn the write log on for a board (before board_open), and where QEMU
 * writes it while the board runs. */
int explore_enable_log(struct explore *x, const struct board_cfg *bc);
int explore_live_log(struct explore *x, struct board *b, char *out, size_t size);
/* Hash and enumerate the loaded log into x->states. */
int explore_enumerate_log(struct explore *x);
/* Place and hash one state given on the command line, as the enumeration would. */
int explore_hash_one(struct explore *x, struct xs_state *st);
int explore_find_disk(const struct lab *lab, const struct board_cfg *b, struct explore_disk *d);
int explore_disk_identity(const char *path, char *out, size_t size);
/* Open the log and hash every written sector. */
int explore_load_log(struct explore *x);
void explore_unload(struct explore *x);
/* Build the disk of state st at out_path (a qcow2 over the base). */
int explore_build_disk(const struct explore *x, const struct xs_state *st, const char *out_path,
                       int64_t deadline_ns, char *why, size_t why_size);
/* Install a built disk as the board's overlay (after power_prepare). */
int explore_install_disk(const struct explore *x, struct board *b, const char *disk_path);
/* Entries logged so far in a log QEMU is still writing (scans forward from
 * *pos; start with *pos = 0, *count = 0). */
int explore_log_progress(const char *path, uint64_t *pos, uint64_t *count, uint32_t *sector_size);

/* explore_boot.c: boot the states over the boards; a CLI exit code. */
int explore_boot_all(struct explore *x);
/* states.jsonl: every enumerated state, booted or not. */
int explore_write_states(const struct explore *x);

#endif
