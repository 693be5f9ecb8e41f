/* harness/campaign/campaign_int.h — the campaign's own types, shared by its files
 * (plan, journal, workers). Not for other files. */
#ifndef HILCTL_CAMPAIGN_INT_H
#define HILCTL_CAMPAIGN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "harness/campaign/campaign.h"
#include "harness/run/engine.h"
#include "harness/lab/lab.h"
#include "harness/run/scenario.h"

enum run_state { RUN_TODO, RUN_RUNNING, RUN_DONE };

struct plan_run {
	int sc;
	char point[64];
	char key[200];
	unsigned long long seed;
	enum run_state state;
	bool pass;
	bool not_injected; /* a fault never came: neither pass nor failure for bisect */
	bool untested;     /* some fault never came (optional or not): not in the bound */
	enum verdict verdict;
	bool bisect; /* added to narrow a failing window */
};

struct plan {
	struct scenario **scenarios;
	size_t n_scenarios;
	struct plan_run *runs;
	size_t n, cap;
	size_t *index;    /* open addressing over runs' keys: run number + 1, 0 = free */
	size_t index_cap; /* a power of two, at least twice n */
};

/* 0; -EINVAL (printed: too many runs, a bad --sweep); -EINTR when a
 * signal asked to stop; -ENOMEM. */
int plan_build(struct plan *p, const struct campaign_opts *o);
void plan_free_index(struct plan *p);
/* One more run, to narrow a failing window. */
int plan_add_bisect(struct plan *p, int sc, const char *point, unsigned long long seed);
bool board_fits(const struct board_cfg *b, const struct scenario *s);

/* campaign_deadline.c: the longest one run of sc at point can take, from its
 * steps' and its oracle's timeouts (the engine's defaults where it names
 * none); a duration that names a board variable counts as 10 minutes. */
int64_t run_budget_ns(const struct scenario *sc, const char *point);

/* campaign_journal.c */
struct journal;
struct board_busy;
/* busy: the boards -j asked for that other processes hold (n_busy of
 * them), named in the header's "boards_unavailable". */
struct journal *journal_open(const char *dir, const struct campaign_opts *o, const struct plan *p,
                             const struct lab *lab, char **board_names, size_t n_boards,
                             const struct board_busy *busy, size_t n_busy);
/* Append one line and fsync. Returns 0 or -errno (the message is printed). */
int journal_append(struct journal *j, const char *line);
/* Where the journal is; the run directory prefix of this attempt ("" when not
 * sharded); whether this is one shard of several. */
const char *journal_path_of(const struct journal *j);
const char *journal_run_prefix(const struct journal *j);
bool journal_sharded(const struct journal *j);
/* Keys of runs already in DIR/journal.jsonl (for --resume); NULL-terminated. */
char **journal_done_keys(const char *dir, size_t *n);
void journal_close(struct journal *j, size_t runs_done, bool complete, const char *interrupted);

/* The post-fault disk a failing run keeps, beside its timeline. */
#define CAMPAIGN_KEPT_DISK "crash-disk.qcow2"

/* A finished run as one journal line (malloc'd, newline-terminated). */
char *run_record(const struct journal *j, const struct plan_run *pr, int run_id,
                 const struct scenario *sc, const char *board, const struct run_result *res,
                 const char *timeline_rel, const struct campaign_opts *o);

#endif
