/* reports/journal_read.h — read one campaign journal (docs/journal.md) into
 * typed records.
 *
 * jfile_load() reads a file, jfile_parse() a buffer (tests, fuzzers); both
 * return an object freed by jfile_free() (which accepts NULL), or NULL
 * after printing one error per problem as "FILE:LINE: what is wrong". A last
 * line cut short (no newline, or not parseable) is dropped with a warning:
 * that is how a killed writer leaves the file.
 *
 * Every string points into the parsed JSON held by the journal and lives as
 * long as it; none is NULL unless the comment says "may be NULL". Verdicts
 * are lib/verdict.h's. */
#ifndef HILCTL_REPORTS_JOURNAL_READ_H
#define HILCTL_REPORTS_JOURNAL_READ_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/verdict.h"

/* Text that may hold any character, NUL included. */
struct jtext {
	const char *s;
	size_t len;
};

struct jfault {
	const char *kind;    /* "power_cut", "net_drop", ...; "" if absent */
	const char *trigger; /* may be NULL */
	const char *phase;   /* may be NULL */
	bool injected;
	bool optional;        /* the scenario said optional: true (false if absent) */
	double at_s;          /* seconds on the run's timeline; NAN if absent */
	long long latency_us; /* trigger to fault; -1 if absent */
};

struct jevent {
	double t;
	const char *kind;
	struct jtext text; /* "d": console bytes already recovered (text_con_bytes) */
};

struct jfile;

/* What a run counts as at the gate, recomputed from its verdict, allowed
 * states and faults (the journal's "outcome" and "pass" are the writer's
 * opinion): infra_error; fail (a board state not allowed, whether or not
 * its fault came); not_injected (an allowed state, but a fault that is not
 * optional never came: nothing was tested); pass. */
enum run_outcome { OUTCOME_PASS, OUTCOME_FAIL, OUTCOME_NOT_INJECTED, OUTCOME_INFRA_ERROR };

const char *run_outcome_name(enum run_outcome o); /* "pass", "fail", "not_injected", ... */

struct jrun {
	long long id;
	const char *key, *scenario, *board;
	const char *point; /* may be NULL */
	long long seed;    /* -1 if absent */
	struct jfault *faults;
	size_t n_faults;
	enum verdict verdict;
	unsigned allowed; /* bit per enum verdict */
	bool pass;        /* recomputed: outcome == OUTCOME_PASS */
	enum run_outcome outcome;
	bool untested; /* a fault (optional or not) was not injected: outside the bound */
	struct jtext reason;
	struct jevent *evidence;
	size_t n_evidence;
	const char *started, *finished, *timeline, *reproduce; /* may be NULL */
	double duration_s;                                     /* NAN if absent */
	/* The scratch rerun when reproduce replays a kept disk; may be NULL. */
	const char *rerun;
	/* When the run began and ended, seconds since the epoch; NAN if
	 * unknown. From "started" and "finished", or one of them and
	 * duration_s; a record of a hilctl that wrote its end time as
	 * "started" (no "finished", but "host" and "shard") is read so, and
	 * its started is NULL. */
	double start_s, end_s;
	/* "restore" (docs/rack.md), read leniently: NULL / NAN where absent or
	 * of another type. */
	const char *restore_action, *restore_why, *restore_error;
	bool restore_ok;
	double restore_s, restore_written, restore_verified; /* seconds, bytes */
	const struct jfile *journal;
	unsigned line;
};

struct jwindow {
	const char *scenario, *board, *last_pass, *first_fail; /* last_pass may be NULL */
	int verdict;                                           /* enum verdict, or -1 */
	long long runs;
	const struct jfile *journal;
};

/* The most shards one campaign may be split into: a reader refuses a larger
 * count (a merge's work grows with it), and the writers do not make one. */
#define JOURNAL_MAX_SHARDS 4096

struct jcampaign {
	int format;
	const char *id;
	const char *hilctl_version, *started, *host, *lab, *command; /* may be NULL */
	const char **boards, **scenarios;
	size_t n_boards, n_scenarios;
	/* "descriptions": {scenario: text}; described[i] has descriptions[i] */
	const char **described, **descriptions;
	size_t n_descriptions;
	long long seed, runs_planned;                /* -1 if absent */
	int shard_index, shard_count, shard_attempt; /* 0, 1, 1 if absent */
	/* -jN: the boards asked for (-1 if absent), and those of them another
	 * process held, so the campaign ran on fewer ("boards_unavailable") */
	long long boards_asked;
	struct jbusy {
		const char *board, *holder; /* holder: the lock holder's command, may be NULL */
		long long pid;              /* -1 if absent */
	} * unavailable;
	size_t n_unavailable;
};

struct jfile {
	char *path;
	char *dir;                 /* the directory run timelines are relative to */
	struct jcampaign campaign; /* the first campaign record */
	int resumes;               /* campaign records with "resumed": true */
	struct jrun *runs;         /* in file order, one per key (the last wins) */
	size_t n_runs;
	struct jwindow *windows;
	size_t n_windows;
	bool ended;                         /* an end record follows the last campaign record */
	bool complete;                      /* ... and it says complete: true */
	const char *finished, *interrupted; /* from that end record; may be NULL */
	long long runs_done;                /* -1 if absent */
	bool truncated;                     /* the last line was cut and dropped */
	void *json;                         /* the parsed records (json_t array) */
};

struct jfile *jfile_load(const char *path);
struct jfile *jfile_parse(const char *name, const char *buf, size_t len);
void jfile_free(struct jfile *j);

/* Seconds since the epoch of an ISO 8601 UTC time ("2026-11-25T01:22:33.123Z");
 * NAN when s is NULL or not such a time. */
double journal_time(const char *s);

#endif
