/* harness/run/engine_int.h — the engine's own state, shared by engine.c (the
 * console loop, expansion, infra notes), engine_run.c (steps and faults) and
 * engine_judge.c (the oracle and the run's end). Not for other files; each
 * exports engine_* only. engine.c uses neither of the others. */
#ifndef HILCTL_ENGINE_INT_H
#define HILCTL_ENGINE_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness/run/engine.h"

struct expect;
struct expect_match;

#define LINE_MAX_LEN 2048

struct run {
	struct engine_ctx *ctx;
	struct board *b;
	const struct run_spec *spec;
	struct run_result *res;
	struct oracle *oracle;
	struct oracle_cfg ocfg;
	const char *evidence_re[9]; /* the lab's probes.evidence, for ocfg */
	bool judging;
	char line[LINE_MAX_LEN];
	size_t line_len;
	char leftover[4096]; /* bytes after the last match, for the next step */
	size_t leftover_len;
	pcre2_code *phase_re;
	pcre2_match_data *phase_md;
	char phase[48];
	int64_t t_last_step;
	bool sent;                /* a send step ran: the update path is under way */
	int64_t console_gone_ns;  /* the console vanished with power on (0: it is there) */
	int64_t console_retry_ns; /* next reconnect attempt */
	char infra[512];
	/* The first send that named ${server}: the URL the board was told,
	 * and the server's request count just before it. */
	char told_url[200];
	uint64_t requests_at_send;
};

/* Note the first infrastructure failure of the run; returns rc (or -EIO). */
int engine_infra(struct run *r, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int engine_expand(struct run *r, const char *in, char *out, size_t size);
/* def when in is NULL. */
int engine_expand_duration(struct run *r, const char *in, int64_t def, int64_t *out);
int engine_pump(struct run *r, int64_t deadline, struct expect *e, struct expect_match *m,
                int64_t *t_match, bool stop_on_line);
int engine_send_line(struct run *r, const char *line);
int engine_expect_one(struct run *r, const char *pattern, int64_t timeout, int64_t *t_match);

/* engine_run.c */
int engine_step(struct run *r, const struct step *st);
/* Before the board is powered: start the update server if the scenario
 * serves (its port is then known when the machine starts) and tell the
 * board's power driver where it is (struct power's server: a QEMU board's
 * restricted network reaches exactly that). 0 or engine_infra(). */
int engine_server_setup(struct run *r);
/* Judging starts with the board running; _after_power: power just came back. */
void engine_start_judging(struct run *r, int64_t t);
void engine_start_judging_after_power(struct run *r, int64_t t);
/* snapshot: before-update. Restore the saved machine and power it on: 1,
 * or 0 when nothing is saved yet (the run boots), <0 an infra failure. */
int engine_snapshot_restore(struct run *r);
/* Save the running machine just before the first send (a warning if not). */
void engine_snapshot_save(struct run *r);

#endif
