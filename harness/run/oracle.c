/* harness/run/oracle.c — the verdict state machine: probes, banners and commit
 * markers in, actions and a verdict with its evidence out. No I/O. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "harness/run/oracle.h"

/* ST_SILENT: settled, but the alive probe got no answer; a reboot in
 * progress (a self-test that failed after a commit, a watchdog) shows a
 * banner before boot_timeout, a hang shows nothing. */
enum state { ST_IDLE, ST_BOOTING, ST_TRIAL, ST_SETTLED, ST_SILENT, ST_DONE };

struct oracle {
	const struct oracle_cfg *cfg;
	pcre2_code *probe, *banner, *commit, *panic;
	pcre2_code *forbid[8];
	pcre2_match_data *md;
	enum state st;
	int64_t deadline;
	int cycles, banners, boots, check_next;
	int asked_boot; /* the boot an alive probe or check was asked in */
	bool alive_done;
	char version[64], slot[16];
	int committed; /* -1 unknown */
	enum verdict verdict;
	char reason[512];
	struct oracle_evidence ev[ORACLE_EVIDENCE_MAX];
	size_t n_ev;
};

static pcre2_code *compile(const char *what, const char *re)
{
	PCRE2_SIZE at;
	pcre2_code *c;
	int err;

	if (!re || !re[0])
		return NULL;
	c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, 0, &err, &at, NULL);
	if (!c) {
		PCRE2_UCHAR msg[200];
		pcre2_get_error_message(err, msg, sizeof(msg));
		hil_error("probe %s (\"%.80s\"): error at offset %zu: %s", what, re, (size_t)at,
		          (char *)msg);
	}
	return c;
}

struct oracle *oracle_new(const struct oracle_cfg *cfg)
{
	struct oracle *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->cfg = cfg;
	o->committed = -1;
	o->probe = compile("version", cfg->probe_re);
	o->banner = compile("banner", cfg->banner_re);
	o->commit = compile("commit", cfg->commit_re);
	o->panic = compile("panic", cfg->panic_re);
	for (size_t i = 0; cfg->forbid && cfg->forbid[i] && i < 8; i++) {
		o->forbid[i] = compile("forbid", cfg->forbid[i]);
		if (!o->forbid[i]) {
			oracle_free(o);
			return NULL;
		}
	}
	o->md = pcre2_match_data_create(16, NULL);
	if (!o->probe || !o->md || (cfg->banner_re && cfg->banner_re[0] && !o->banner) ||
	    (cfg->commit_re && cfg->commit_re[0] && !o->commit) ||
	    (cfg->panic_re && cfg->panic_re[0] && !o->panic)) {
		if (!o->probe && !(cfg->probe_re && cfg->probe_re[0]))
			hil_error(
			    "the board has no version probe (probes: version: in the lab file)");
		oracle_free(o);
		return NULL;
	}
	return o;
}

void oracle_free(struct oracle *o)
{
	if (!o)
		return;
	pcre2_code_free(o->probe);
	pcre2_code_free(o->banner);
	pcre2_code_free(o->commit);
	pcre2_code_free(o->panic);
	for (size_t i = 0; i < 8; i++)
		pcre2_code_free(o->forbid[i]);
	pcre2_match_data_free(o->md);
	free(o);
}

static void add_evidence(struct oracle *o, int64_t t, const char *kind, const char *text,
                         size_t len)
{
	struct oracle_evidence *e;

	if (o->n_ev == ORACLE_EVIDENCE_MAX) {
		/* Keep the first (what happened right after the fault) and the
		 * most recent; drop the oldest of the rest. */
		memmove(&o->ev[1], &o->ev[2], sizeof(o->ev[0]) * (ORACLE_EVIDENCE_MAX - 2));
		o->n_ev--;
	}
	e = &o->ev[o->n_ev++];
	e->t_ns = t;
	snprintf(e->kind, sizeof(e->kind), "%s", kind);
	if (len >= sizeof(e->text))
		len = sizeof(e->text) - 1;
	memcpy(e->text, text, len);
	e->text[len] = '\0';
	/* NUL inside a console line would cut the text short: show it as '.'. */
	for (size_t i = 0; i < len; i++)
		if (e->text[i] == '\0')
			e->text[i] = '.';
}

static void decide(struct oracle *o, int64_t t, enum verdict v, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void decide(struct oracle *o, int64_t t, enum verdict v, const char *fmt, ...)
{
	va_list ap;

	if (o->st == ST_DONE)
		return;
	va_start(ap, fmt);
	vsnprintf(o->reason, sizeof(o->reason), fmt, ap);
	va_end(ap);
	o->verdict = v;
	o->st = ST_DONE;
	add_evidence(o, t, "verdict", o->reason, strlen(o->reason));
}

void oracle_power_restored(struct oracle *o, int64_t t_ns)
{
	if (o->st == ST_DONE)
		return;
	o->st = ST_BOOTING;
	o->banners = 0;
	o->deadline = t_ns + o->cfg->boot_timeout_ns;
	add_evidence(o, t_ns, "power", "on", 2);
}

static bool match(struct oracle *o, pcre2_code *re, const char *line, size_t len)
{
	return re && pcre2_match(re, (PCRE2_SPTR)line, len, 0, 0, o->md, NULL) > 0;
}

static void group(struct oracle *o, const char *name, const char *line, char *out, size_t size)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(o->md);
	int n = pcre2_substring_number_from_name(o->probe, (PCRE2_SPTR)name);
	size_t len;

	out[0] = '\0';
	if (n <= 0 || ov[2 * n] == PCRE2_UNSET)
		return;
	len = ov[2 * n + 1] - ov[2 * n];
	if (len >= size)
		len = size - 1;
	memcpy(out, line + ov[2 * n], len);
	out[len] = '\0';
}

static void on_probe(struct oracle *o, int64_t t, const char *line, size_t len)
{
	char committed[8];

	group(o, "version", line, o->version, sizeof(o->version));
	group(o, "slot", line, o->slot, sizeof(o->slot));
	group(o, "committed", line, committed, sizeof(committed));
	o->committed = committed[0] ? committed[0] == '1' || committed[0] == 'y' : -1;
	o->boots++;
	o->banners = 0;
	add_evidence(o, t, "con", line, len);
	if (o->committed == 0) {
		o->st = ST_TRIAL;
		o->deadline = t + o->cfg->settle_ns;
	} else {
		o->st = ST_SETTLED;
		o->alive_done = false;
		o->check_next = 0;
	}
}

void oracle_line(struct oracle *o, int64_t t_ns, const char *line, size_t len)
{
	if (o->st == ST_DONE || o->st == ST_IDLE)
		return;
	for (size_t i = 0; i < 8 && o->forbid[i]; i++)
		if (match(o, o->forbid[i], line, len)) {
			add_evidence(o, t_ns, "con", line, len);
			decide(o, t_ns, VERDICT_INCONSISTENT,
			       "the board printed a line the scenario forbids (%.60s)",
			       o->cfg->forbid[i]);
			return;
		}
	if (match(o, o->banner, line, len)) {
		o->banners++;
		add_evidence(o, t_ns, "con", line, len);
		/* A reset after a boot: judge the next boot afresh. */
		o->st = ST_BOOTING;
		o->deadline = t_ns + o->cfg->boot_timeout_ns;
		if (o->cfg->loop_limit > 0 && o->banners >= o->cfg->loop_limit)
			decide(o, t_ns, VERDICT_BOOT_LOOP,
			       "%d bootloader starts in a row without reaching the version probe",
			       o->banners);
		return;
	}
	if (match(o, o->probe, line, len)) {
		on_probe(o, t_ns, line, len);
		return;
	}
	if (match(o, o->commit, line, len)) {
		add_evidence(o, t_ns, "con", line, len);
		if (o->st == ST_TRIAL) {
			o->committed = 1;
			o->st = ST_SETTLED;
			o->alive_done = false;
			o->check_next = 0;
		}
		return;
	}
	if (match(o, o->panic, line, len))
		add_evidence(o, t_ns, "con", line, len);
}

void oracle_alive(struct oracle *o, int64_t t_ns, bool answered)
{
	/* An answer about an earlier boot (the board reset while we asked)
	 * says nothing: the next oracle_next() asks again. */
	if (o->st != ST_SETTLED || o->asked_boot != o->boots)
		return;
	o->alive_done = true;
	{
		const char *what = answered ? "alive: answered" : "alive: no answer";
		add_evidence(o, t_ns, "check", what, strlen(what));
	}
	if (!answered) {
		o->st = ST_SILENT;
		o->deadline = t_ns + o->cfg->boot_timeout_ns;
	}
}

void oracle_check(struct oracle *o, int64_t t_ns, int index, bool passed, const char *what)
{
	if (o->st != ST_SETTLED || index != o->check_next || o->asked_boot != o->boots)
		return;
	o->check_next++;
	if (!passed)
		decide(o, t_ns, VERDICT_INCONSISTENT, "booted version %s, but check %d failed: %s",
		       o->version[0] ? o->version : "?", index + 1, what);
}

void oracle_infra(struct oracle *o, int64_t t_ns, const char *what)
{
	decide(o, t_ns, VERDICT_INFRA_ERROR, "%s", what);
}

static void classify(struct oracle *o, int64_t now)
{
	const struct oracle_cfg *c = o->cfg;
	const char *slot = o->slot[0] ? o->slot : "?";

	if (c->new_version && strcmp(o->version, c->new_version) == 0 && o->committed != 0)
		decide(o, now, VERDICT_UPGRADED, "new version %s runs from slot %s, committed",
		       o->version, slot);
	else if (c->old_version && strcmp(o->version, c->old_version) == 0 && o->committed != 0)
		decide(o, now, VERDICT_ROLLED_BACK, "old version %s runs from slot %s, committed",
		       o->version, slot);
	else
		decide(o, now, VERDICT_INCONSISTENT,
		       "version \"%s\" runs from slot %s: neither the old (%s) nor the new (%s)",
		       o->version, slot, c->old_version ? c->old_version : "-",
		       c->new_version ? c->new_version : "-");
}

static enum oracle_action booting_timeout(struct oracle *o, int64_t now, int64_t *deadline)
{
	if (o->cycles < o->cfg->ladder) {
		o->cycles++;
		add_evidence(o, now, "note", "no boot in time: power cycle", 27);
		return ORACLE_POWER_CYCLE;
	}
	if (o->banners >= 2)
		decide(o, now, VERDICT_BOOT_LOOP,
		       "the bootloader started %d times without reaching the version probe",
		       o->banners);
	else
		decide(o, now, VERDICT_BRICKED,
		       "no boot to the version probe within %.0f s after %d power cycle%s",
		       (double)o->cfg->boot_timeout_ns / NS_PER_S, o->cycles,
		       o->cycles == 1 ? "" : "s");
	(void)deadline;
	return ORACLE_DONE;
}

enum oracle_action oracle_next(struct oracle *o, int64_t now, int64_t *deadline, int *index)
{
	switch (o->st) {
	case ST_IDLE:
		oracle_power_restored(o, now);
		/* fall through */
	case ST_BOOTING:
		if (now < o->deadline) {
			*deadline = o->deadline;
			return ORACLE_WAIT;
		}
		return booting_timeout(o, now, deadline);
	case ST_TRIAL:
		if (now < o->deadline) {
			*deadline = o->deadline;
			return ORACLE_WAIT;
		}
		decide(o, now, VERDICT_INCONSISTENT,
		       "version %s booted on trial and was not committed within %.0f s", o->version,
		       (double)o->cfg->settle_ns / NS_PER_S);
		return ORACLE_DONE;
	case ST_SILENT:
		if (now < o->deadline) {
			*deadline = o->deadline;
			return ORACLE_WAIT;
		}
		decide(o, now, VERDICT_HUNG,
		       "booted version %s, then stopped answering on the console (no reset within "
		       "%.0f s)",
		       o->version[0] ? o->version : "?",
		       (double)o->cfg->boot_timeout_ns / NS_PER_S);
		return ORACLE_DONE;
	case ST_SETTLED:
		o->asked_boot = o->boots;
		if (o->cfg->alive_check && !o->alive_done)
			return ORACLE_ALIVE;
		if (o->check_next < o->cfg->n_checks) {
			*index = o->check_next;
			return ORACLE_CHECK;
		}
		classify(o, now);
		return ORACLE_DONE;
	case ST_DONE:
	default:
		return ORACLE_DONE;
	}
}

enum verdict oracle_verdict(const struct oracle *o)
{
	return o->verdict;
}

const char *oracle_reason(const struct oracle *o)
{
	return o->reason;
}

size_t oracle_evidence(const struct oracle *o, const struct oracle_evidence **out)
{
	*out = o->ev;
	return o->n_ev;
}
