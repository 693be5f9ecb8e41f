/* harness/campaign/campaign.h — a campaign: scenarios × fault points over the lab's
 * boards, run by one worker process per board, every finished run appended
 * to the journal (docs/journal.md) and synced before the next is counted.
 *
 * The plan (which runs exist) is a pure function of the scenarios, the
 * sweep options and the seed, so a resumed or re-run shard does exactly the
 * same runs. campaign_run() returns a CLI exit code. */
#ifndef HILCTL_CAMPAIGN_H
#define HILCTL_CAMPAIGN_H

#include <stdbool.h>
#include <stddef.h>

/* The most runs one campaign plans (sweep points × repeats × scenarios, or
 * --runs): a plan is kept whole in memory and in every report. */
#define PLAN_MAX_RUNS 100000

struct campaign_opts {
	const char *lab_path;
	const char **scenario_paths; /* NULL-terminated */
	const char **boards;         /* --board, NULL-terminated; NULL = every board that fits */
	bool board_auto;             /* --board auto: Slurm's GRES, or a free board of this host */
	const char *sweep;           /* --sweep "a:b:step" or "v1,v2,..." */
	const char *point;           /* --point: one point only */
	int runs;                    /* --runs N: N random points from the sweep's range */
	int repeat;                  /* --repeat K: every point K times (keys get #2..#K) */
	unsigned long long seed;
	int jobs;   /* -j: boards in parallel */
	int bisect; /* extra runs per scenario to narrow a failing window */
	const char *out_dir;
	bool resume;
	bool dry_run;     /* print the plan, run nothing */
	int max_failures; /* stop handing out runs after this many failures (0: never) */
	int shard_index, shard_count; /* 0/1 = everything */
	int shards_hint;              /* --shards N for --shard auto under Kubernetes */
	int argc;                     /* the command line, for the journal header */
	char **argv;
};

int campaign_run(const struct campaign_opts *o);

struct lab;
struct scenario;
/* 0 when a board of the lab (among boards, a NULL-terminated list of
 * names, when not NULL) has every tag of the scenario's fits:; else prints
 * where fits: is (file:line:col) and returns -ENOENT. */
int campaign_check_fits(const struct lab *lab, const struct scenario *s, const char *const *boards);

#endif
