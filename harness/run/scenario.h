/* harness/run/scenario.h — a scenario file: the steps of one update path, the
 * faults injected into it, the end states it allows, and its sweep.
 *
 *   scenario: cut-during-write
 *   description: Power cut while the agent writes the new rootfs.
 *   fits: [refdut]                  # tags a board must carry
 *   allowed: [upgraded, rolled_back]
 *   versions: {old: "1", new: "2"}
 *   sweep: {from: 1, to: 15, step: 2}   # values of ${point}; or values: [..];
 *                                       # random points come from --runs N --seed S
 *   steps:
 *     - power: on                   # on | off | cycle (off_time: 1s)
 *     - expect: 'refdut# '          # or a list; timeout: 60s
 *     - serve: v2                   # start hilctl's update server on the board's bundles
 *     - send: 'hilctl-update http://${server}/v2'
 *     - fault:
 *         kind: power_cut           # power_cut | network | server | hang
 *         marker: 'hilctl-agent: write offset=${point}\d{6}\b'
 *         delay: 0ms                # after the marker; or after: 2s (time after the last step)
 *         off_time: 500ms
 *         timeout: 90s              # for the trigger; not seen → the run notes "not injected"
 *         # repeat: 4, until: 'reason=fallback': cut again at every
 *         # marker, at most 4 times; the marker a 5th time is boot_loop
 *         # or write: N instead of delay: the cut comes right after the
 *         # disk's Nth write after the trigger; write: -N puts it N writes
 *         # before the trigger (QEMU boards: the disk is rebuilt from the
 *         # write log up to that write, docs/power-loss.md)
 *     - wait: 2s
 *     - recover: cycle              # power-cycle and judge from the next boot
 *   slots: {old: A, new: B}         # optional, for compare: old_slot / new_slot
 *   checks:                         # after the board settled; any failure → inconsistent
 *     - send: 'hilctl-check-data'
 *       expect: 'data ok'
 *       timeout: 10s
 *     - send: 'cat /proc/cmdline'     # a value read back and compared:
 *       expect: 'hilctl\.slot=(?<slot>\S+)'
 *       compare: {slot: new_slot}     # group: old_version|new_version|old_slot|new_slot
 *   oracle: {boot_timeout: 40s, settle: 40s, ladder: 2, loop_limit: 6, alive: true,
 *            max_boots: 8}
 *   forbid: ['hilctl-boot: slot=B']   # once judging started, any such line is inconsistent
 *   snapshot: before-update         # boot once, save the machine at the first send, and
 *                                   # start every later run from there (QEMU boards)
 *
 * Judging starts at the first fault (for a power cut, when power is back) or
 * at a recover step; every console line from then on goes to the oracle.
 *
 * Strings may hold ${name}: point, server, board, seed, run, bundles, and the
 * lab's vars; they are expanded when the run executes. $${ is a literal ${.
 *
 * scenario_load() returns an object freed by scenario_free(); steps borrow
 * strings from its YAML tree. */
#ifndef HILCTL_SCENARIO_H
#define HILCTL_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/verdict.h"

struct cfg_node;

enum step_kind {
	STEP_POWER,
	STEP_EXPECT,
	STEP_SEND,
	STEP_WAIT,
	STEP_SERVE,
	STEP_FAULT,
	STEP_RECOVER
};
enum fault_kind { FAULT_POWER_CUT, FAULT_NETWORK, FAULT_SERVER, FAULT_HANG };

struct fault_spec {
	enum fault_kind kind;
	const char *marker;   /* trigger regex, or NULL */
	const char *delay;    /* after the marker (duration, may use ${point}) */
	const char *after;    /* or: time after the previous step */
	const char *timeout;  /* for the trigger */
	const char *off_time; /* power_cut */
	const char *down;     /* network: link down for this long */
	const char *until;    /* network: or until this marker */
	const char *server;   /* server: stall | close | reset | throttle | corrupt */
	const char *at_byte, *stall, *rate, *path;
	const char *process; /* hang: SIGSTOP this process on the board */
	const char *command; /* hang: or run this command on the board */
	const char *write;   /* power_cut: at the disk's Nth write after the
	                        trigger, or -N: N writes back from it */
	/* power_cut with a marker: repeat: N cuts at most (1: once); after each
	 * cut the marker is waited for again, until: MARKER (or no marker
	 * within timeout) ends the repeats; the marker once more after N cuts
	 * is boot_loop. */
	int repeat;
	/* optional: true: a run whose trigger never came may still pass (it is
	 * counted apart, not as a tested fault point); by default such a run
	 * ends not_injected and fails the gate. */
	bool optional;
};

struct step {
	enum step_kind kind;
	const struct cfg_node *node;
	const char *arg; /* power action, send line, wait duration, serve bundle */
	const char **patterns;
	size_t n_patterns;
	const char *timeout;
	const char *off_time;
	struct fault_spec fault;
};

/* What a captured value is compared with: the scenario's versions and
 * slots. */
enum check_target { CHECK_OLD_VERSION, CHECK_NEW_VERSION, CHECK_OLD_SLOT, CHECK_NEW_SLOT };
#define CHECK_MAX_COMPARE 4

struct check_compare {
	const struct cfg_node *node;
	const char *group; /* a named group of expect */
	enum check_target target;
};

struct check_spec {
	const char *send, *expect, *timeout;
	struct check_compare compare[CHECK_MAX_COMPARE]; /* compare: {GROUP: TARGET} */
	size_t n_compare;
};

struct sweep_spec {
	bool present;
	double from, to, step;
	const char **values; /* explicit list, NULL-terminated, or NULL */
};

struct scenario {
	char *path;
	struct cfg_node *root;
	const char *name, *description;
	const char **fits; /* NULL-terminated */
	unsigned allowed;  /* bit per enum verdict */
	const char *old_version, *new_version;
	const char *old_slot, *new_slot; /* slots: {old, new}, for checks' compare: */
	const char **forbid;             /* lines that must never appear once judging started */
	struct step *steps;
	size_t n_steps;
	struct check_spec *checks;
	size_t n_checks;
	struct sweep_spec sweep;
	int64_t boot_timeout_ns, settle_ns;
	int ladder, loop_limit;
	int max_boots; /* boots after power came back that make a boot loop */
	bool alive;
	/* snapshot: before-update: the steps before the first send: run once
	 * per board, then every run starts from the machine saved there. */
	bool snapshot;
	size_t first_send; /* index of the first send step (with snapshot) */
	/* The first power cut at a disk write (write:), 1-based step; 0 none.
	 * Such a run needs the board's write log. */
	size_t write_cut_step;
};

/* The value a compare target stands for in this scenario (NULL: not given;
 * the loader refuses a compare whose target is not given), and its name. */
const char *scenario_check_value(const struct scenario *s, enum check_target t);
const char *scenario_check_target_name(enum check_target t);

/* The most points a whole sweep may expand to (one run each). */
#define SWEEP_MAX_POINTS 100000
/* forbid: patterns the oracle watches (its forbid[8] in oracle.c) */
#define SCENARIO_MAX_FORBID 8
/* oracle: {max_boots:}: the reference board needs at most 4 after a fault
 * (three trial boots, then the fallback); twice that is a loop. */
#define SCENARIO_MAX_BOOTS_DEFAULT 8

struct scenario *scenario_load(const char *path);
void scenario_free(struct scenario *s);
bool scenario_allows(const struct scenario *s, enum verdict v);
/* The sweep's points as strings ("0", "250", ...), or the single point "-"
 * when the scenario has no sweep. Free with points_free(). NULL (message
 * printed) when the sweep has more than SWEEP_MAX_POINTS. */
char **scenario_points(const struct scenario *s, size_t *n);
void points_free(char **points, size_t n);
/* "power_cut", "network", "server", "hang": the words of a fault's kind:. */
const char *scenario_fault_kind_name(enum fault_kind kind);
/* A fault's write: value as expanded: N or -N, not 0. */
bool scenario_write_number(const char *text, long long *n);

#endif
