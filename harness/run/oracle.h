/* harness/run/oracle.h — decide where a run ended from what a user could read:
 * console lines and the answers to probes sent on the console.
 *
 * The oracle is a state machine with no I/O. The engine feeds it complete
 * console lines and the results of the actions it asks for, and asks what
 * to do next:
 *
 *   power restored ──► BOOTING ──probe committed=1──► SETTLED ──► alive? ──► checks ──► DONE
 *                        │  ▲  └─probe committed=0──► TRIAL ──commit marker──┘
 *                        │  └──banner (reset)────────────┘ │
 *                        └─no probe by boot_timeout: power-cycle (ladder) or bricked / boot_loop
 *
 * oracle_new() copies nothing from cfg but compiles its regexes; cfg strings
 * must outlive the oracle. oracle_free() accepts NULL. */
#ifndef HILCTL_ORACLE_H
#define HILCTL_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/verdict.h"

struct oracle_cfg {
	const char *probe_re;  /* named groups: version, and optionally slot, committed */
	const char *banner_re; /* a bootloader banner: one per boot or reset */
	const char *commit_re; /* the new version marked itself good (optional) */
	const char *panic_re;  /* optional: kernel panic lines for the evidence */
	const char *old_version, *new_version;
	int64_t boot_timeout_ns;   /* power on (or reset) to probe */
	int64_t settle_ns;         /* trial boot to commit */
	int ladder;                /* power cycles when the board does not boot */
	int loop_limit;            /* banners without a probe that make a boot loop */
	bool alive_check;          /* ask the board to answer once settled */
	int n_checks;              /* scenario checks to run once alive */
	const char *const *forbid; /* NULL-terminated: a line matching one is inconsistent */
};

enum oracle_action {
	ORACLE_WAIT,        /* feed lines until *deadline, then ask again */
	ORACLE_POWER_CYCLE, /* cycle power, then oracle_power_restored() */
	ORACLE_ALIVE,       /* run the alive probe, then oracle_alive() */
	ORACLE_CHECK,       /* run check *index, then oracle_check() */
	ORACLE_DONE,
};

#define ORACLE_EVIDENCE_MAX 12

struct oracle_evidence {
	int64_t t_ns;
	char kind[8];   /* "con" or an event kind */
	char text[256]; /* raw bytes, NUL-terminated (may hold any byte but NUL) */
};

struct oracle;

struct oracle *oracle_new(const struct oracle_cfg *cfg);
void oracle_free(struct oracle *o);

/* Power is on again after the fault (or at start of judging). */
void oracle_power_restored(struct oracle *o, int64_t t_ns);
/* One complete console line (without its newline; may hold NUL). */
void oracle_line(struct oracle *o, int64_t t_ns, const char *line, size_t len);
void oracle_alive(struct oracle *o, int64_t t_ns, bool answered);
void oracle_check(struct oracle *o, int64_t t_ns, int index, bool passed, const char *what);
/* The console or power failed under the harness: the run is infra_error. */
void oracle_infra(struct oracle *o, int64_t t_ns, const char *what);

enum oracle_action oracle_next(struct oracle *o, int64_t now_ns, int64_t *deadline_ns, int *index);

enum verdict oracle_verdict(const struct oracle *o);
const char *oracle_reason(const struct oracle *o);
size_t oracle_evidence(const struct oracle *o, const struct oracle_evidence **out);

#endif
