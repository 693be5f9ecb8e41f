/* harness/run/oracle.h — decide where a run ended from what a user could read:
 * console lines and the answers to probes sent on the console.
 *
 * The oracle is a state machine with no I/O. The engine feeds it complete
 * console lines and the results of the actions it asks for, and asks what
 * to do next:
 *
 *   power restored ──► BOOTING ──probe, committed──► SETTLED ──► alive? ──► checks ──► DONE
 *   (or oracle_start)    │  ▲  └─probe, not yet──► TRIAL ──commit──┘   │ no answer
 *                        │  │                        │ no commit       ▼
 *                        │  │                        ▼ in settle     SILENT ──late answer──►
 * SETTLED │  │                   inconsistent          │ alive timeout: ask once more, │  └──banner
 * (reset)──────────────────────────┘ then boot_timeout: hung └─no probe by boot_timeout:
 * power-cycle (ladder) or bricked / boot_loop
 *
 * Committed means evidence: the probe's committed group said so, the
 * commit line came in this boot, or the commit command probe (asked every
 * ORACLE_COMMIT_POLL_NS in TRIAL) answered that it is. Without a committed group a probe of any
 * version but the old one waits in TRIAL for the commit line; the old
 * version needs none (it was the committed one before the update). With
 * neither a group nor a commit line every verdict says "commit not
 * observable" (lab files that give neither are refused at load).
 *
 * Every boot start (a banner, or a probe with no banner before it) after
 * power came back counts; more than max_boots is boot_loop. A probe line
 * that comes while an alive probe or a check is asked, with no banner
 * since, is that question's answer, not a new boot. A probe seen before
 * judging starts (oracle_line in IDLE) only records the slot the old
 * version runs from: old version on another slot, or the new version on
 * that one, is inconsistent.
 *
 * Never tried: a flip line (flip_re, any state, before judging too) says the
 * client switched the boot state to its slot group's slot. From then on the
 * new slot counts as tried when a boot shows it: a trial line (trial_re,
 * the bootloader's decision to boot a slot on trial) naming that slot (or
 * naming none), or a version probe of the new version or on that slot,
 * committed or not. An old version that would be rolled_back after a flip
 * with no such boot since is inconsistent ("flip reported, new slot never
 * tried"): the board threw the update away without trying it. Each flip
 * line starts the question afresh (the last update counts).
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
	const char *alive_re;      /* the alive probe's answer: a late one still counts */
	int64_t alive_timeout_ns;  /* how long one alive probe waits (0: 10 s) */
	int max_boots; /* boot starts after power on that make a boot loop (0: no cap) */
	const char *const
	    *evidence_re;     /* NULL-terminated: decision lines always kept as evidence */
	bool commit_probe;    /* a command probe says whether the running version is committed */
	const char *flip_re;  /* optional: the client flipped the boot state (group slot) */
	const char *trial_re; /* the bootloader boots a slot on trial (group slot); with flip_re */
};

#define ORACLE_ALIVE_TIMEOUT_DEFAULT_NS (10 * 1000000000LL)
/* How often a version on trial is asked through the commit command probe. */
#define ORACLE_COMMIT_POLL_NS (5 * 1000000000LL)

enum oracle_action {
	ORACLE_WAIT,         /* feed lines until *deadline, then ask again */
	ORACLE_POWER_CYCLE,  /* cycle power, then oracle_power_restored() */
	ORACLE_ALIVE,        /* run the alive probe, then oracle_alive() */
	ORACLE_CHECK,        /* run check *index, then oracle_check() */
	ORACLE_COMMIT_PROBE, /* send the lab's commit command, then oracle_commit_probed() */
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

/* Power is on again after the fault (or a power cycle the oracle asked for). */
void oracle_power_restored(struct oracle *o, int64_t t_ns);
/* Judging starts with the board running (no power event: a network, server
 * or hang fault, or no fault at all); nothing goes into the evidence. */
void oracle_start(struct oracle *o, int64_t t_ns);
/* One complete console line (without its newline; may hold NUL). Before
 * judging starts only the first version probe is noted (the old slot). */
void oracle_line(struct oracle *o, int64_t t_ns, const char *line, size_t len);
void oracle_alive(struct oracle *o, int64_t t_ns, bool answered);
void oracle_check(struct oracle *o, int64_t t_ns, int index, bool passed, const char *what);
/* The commit command's answer matched its expect (committed) or not. */
void oracle_commit_probed(struct oracle *o, int64_t t_ns, bool committed);
/* A repeating fault's trigger came again after as many cuts as the
 * scenario allows: the board never gave up the boot it keeps retrying.
 * boot_loop, with what (and the decision lines already seen). */
void oracle_boot_loop(struct oracle *o, int64_t t_ns, const char *what);
/* The console or power failed under the harness: the run is infra_error. */
void oracle_infra(struct oracle *o, int64_t t_ns, const char *what);

enum oracle_action oracle_next(struct oracle *o, int64_t now_ns, int64_t *deadline_ns, int *index);

enum verdict oracle_verdict(const struct oracle *o);
const char *oracle_reason(const struct oracle *o);
size_t oracle_evidence(const struct oracle *o, const struct oracle_evidence **out);

#endif
