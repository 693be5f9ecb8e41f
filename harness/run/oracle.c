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

#define MAX_PATTERNS 8

/* ST_SILENT: settled, but the alive probe got no answer; a late answer, a
 * reboot in progress (a self-test that failed after a commit, a watchdog:
 * a banner before boot_timeout) or nothing at all (a hang). */
enum state { ST_IDLE, ST_BOOTING, ST_TRIAL, ST_SETTLED, ST_SILENT, ST_DONE };

/* How the committed state of the running version is known. */
enum commit_evidence {
	COMMIT_UNKNOWN, /* no committed group, no commit line configured */
	COMMIT_NO,      /* the probe said not committed, or no commit line yet */
	COMMIT_PROBE,   /* the probe's committed group said so */
	COMMIT_LINE,    /* the commit line came in this boot */
	COMMIT_WAS_OLD, /* the old version, committed before the update */
	COMMIT_COMMAND, /* the commit command probe answered committed */
};

struct oracle {
	const struct oracle_cfg *cfg;
	pcre2_code *probe, *banner, *commit, *panic, *alive, *flip, *trial;
	pcre2_code *forbid[MAX_PATTERNS], *evidence[MAX_PATTERNS];
	pcre2_match_data *md;
	enum state st;
	int64_t deadline;
	int cycles, banners, boots, check_next;
	int boot_starts;     /* since power came back: banners, and probes without one */
	bool banner_in_boot; /* a banner started the boot the next probe belongs to */
	int asked_boot;      /* the boot an alive probe or check was asked in */
	bool asking;         /* an alive probe or a check is out */
	int alive_asks;
	bool alive_done;
	bool commit_seen;  /* a commit line since the last reset */
	int64_t next_poll; /* TRIAL: when to ask the commit command probe */
	char commit_line[80];
	bool flipped, tried; /* a flip line came; a boot showed its slot since */
	char flip_line[80], flip_slot[16];
	char version[64], slot[16], old_slot[16];
	enum commit_evidence committed;
	enum verdict verdict;
	char reason[512];
	struct oracle_evidence ev[ORACLE_EVIDENCE_MAX];
	bool keep[ORACLE_EVIDENCE_MAX]; /* decision lines: dropped last */
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

static bool compiled(pcre2_code *code, const char *re)
{
	return code || !re || !re[0];
}

static int compile_list(const char *what, const char *const *res, pcre2_code **out)
{
	for (size_t i = 0; res && res[i] && i < MAX_PATTERNS; i++) {
		out[i] = compile(what, res[i]);
		if (!out[i])
			return -1;
	}
	return 0;
}

struct oracle *oracle_new(const struct oracle_cfg *cfg)
{
	struct oracle *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->cfg = cfg;
	o->probe = compile("version", cfg->probe_re);
	o->banner = compile("banner", cfg->banner_re);
	o->commit = compile("commit", cfg->commit_re);
	o->panic = compile("panic", cfg->panic_re);
	o->alive = compile("alive", cfg->alive_re);
	o->flip = compile("flip", cfg->flip_re);
	o->trial = compile("trial", cfg->trial_re);
	o->md = pcre2_match_data_create(16, NULL);
	if (compile_list("forbid", cfg->forbid, o->forbid) < 0 ||
	    compile_list("evidence", cfg->evidence_re, o->evidence) < 0 || !o->probe || !o->md ||
	    !compiled(o->banner, cfg->banner_re) || !compiled(o->commit, cfg->commit_re) ||
	    !compiled(o->panic, cfg->panic_re) || !compiled(o->alive, cfg->alive_re) ||
	    !compiled(o->flip, cfg->flip_re) || !compiled(o->trial, cfg->trial_re)) {
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
	pcre2_code_free(o->alive);
	pcre2_code_free(o->flip);
	pcre2_code_free(o->trial);
	for (size_t i = 0; i < MAX_PATTERNS; i++) {
		pcre2_code_free(o->forbid[i]);
		pcre2_code_free(o->evidence[i]);
	}
	pcre2_match_data_free(o->md);
	free(o);
}

static void add_evidence_keep(struct oracle *o, int64_t t, const char *kind, const char *text,
                              size_t len, bool keep)
{
	struct oracle_evidence *e;

	if (o->n_ev == ORACLE_EVIDENCE_MAX) {
		/* Keep the first (what happened right after the fault), the
		 * decision lines and the most recent; drop the oldest of the
		 * rest. */
		size_t drop = 1;
		while (drop < ORACLE_EVIDENCE_MAX - 1 && o->keep[drop])
			drop++;
		if (drop == ORACLE_EVIDENCE_MAX - 1)
			drop = 1;
		memmove(&o->ev[drop], &o->ev[drop + 1],
		        sizeof(o->ev[0]) * (ORACLE_EVIDENCE_MAX - drop - 1));
		memmove(&o->keep[drop], &o->keep[drop + 1],
		        sizeof(o->keep[0]) * (ORACLE_EVIDENCE_MAX - drop - 1));
		o->n_ev--;
	}
	o->keep[o->n_ev] = keep;
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

static void add_evidence(struct oracle *o, int64_t t, const char *kind, const char *text,
                         size_t len)
{
	add_evidence_keep(o, t, kind, text, len, false);
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

void oracle_start(struct oracle *o, int64_t t_ns)
{
	if (o->st == ST_DONE)
		return;
	o->st = ST_BOOTING;
	o->banners = 0;
	o->boot_starts = 0;
	o->banner_in_boot = false;
	o->commit_seen = false;
	o->deadline = t_ns + o->cfg->boot_timeout_ns;
}

void oracle_power_restored(struct oracle *o, int64_t t_ns)
{
	if (o->st == ST_DONE)
		return;
	/* A power loss can undo what the client reported done (a cut placed
	 * at the flip's own writes): a flip no boot tried yet is unproven
	 * after it, and the old slot is a rollback, not "never tried". */
	if (o->flipped && !o->tried)
		o->flipped = false;
	oracle_start(o, t_ns);
	add_evidence(o, t_ns, "power", "on", 2);
}

static bool match(struct oracle *o, pcre2_code *re, const char *line, size_t len)
{
	return re && pcre2_match(re, (PCRE2_SPTR)line, len, 0, 0, o->md, NULL) > 0;
}

/* Named group of the last match of re into out ("" when absent). */
static void group_of(struct oracle *o, pcre2_code *re, const char *name, const char *line,
                     char *out, size_t size)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(o->md);
	int n = pcre2_substring_number_from_name(re, (PCRE2_SPTR)name);
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

static void group(struct oracle *o, const char *name, const char *line, char *out, size_t size)
{
	group_of(o, o->probe, name, line, out, size);
}

static bool is_version(const char *version, const char *want)
{
	return want && strcmp(version, want) == 0;
}

/* The running version is committed (or needs no commit): ask alive, then
 * the checks. */
static void to_settled(struct oracle *o)
{
	o->st = ST_SETTLED;
	o->alive_done = false;
	o->alive_asks = 0;
	o->check_next = 0;
}

/* A banner, or a probe with no banner before it: one more boot. */
static void boot_started(struct oracle *o, int64_t t)
{
	o->boot_starts++;
	if (o->cfg->max_boots > 0 && o->boot_starts > o->cfg->max_boots)
		decide(o, t, VERDICT_BOOT_LOOP,
		       "%d boots since power came back, more than max_boots (%d): the board keeps "
		       "resetting%s%s",
		       o->boot_starts, o->cfg->max_boots, o->version[0] ? ", last version " : "",
		       o->version);
}

static enum commit_evidence commit_state(struct oracle *o, const char *committed)
{
	if (committed[0])
		return committed[0] == '1' || committed[0] == 'y' ? COMMIT_PROBE : COMMIT_NO;
	if (o->commit && o->commit_seen)
		return COMMIT_LINE;
	if (is_version(o->version, o->cfg->old_version))
		return COMMIT_WAS_OLD;
	return o->commit || o->cfg->commit_probe ? COMMIT_NO : COMMIT_UNKNOWN;
}

static void on_probe(struct oracle *o, int64_t t, const char *line, size_t len)
{
	char committed[8];

	if (!o->banner_in_boot)
		boot_started(o, t);
	o->banner_in_boot = false;
	if (o->st == ST_DONE)
		return;
	group(o, "version", line, o->version, sizeof(o->version));
	group(o, "slot", line, o->slot, sizeof(o->slot));
	group(o, "committed", line, committed, sizeof(committed));
	o->committed = commit_state(o, committed);
	o->boots++;
	o->banners = 0;
	add_evidence(o, t, "con", line, len);
	if (o->committed == COMMIT_NO) {
		o->st = ST_TRIAL;
		o->deadline = t + o->cfg->settle_ns;
		o->next_poll = t + ORACLE_COMMIT_POLL_NS;
	} else {
		to_settled(o);
	}
}

static void on_banner(struct oracle *o, int64_t t, const char *line, size_t len)
{
	o->banners++;
	o->commit_seen = false;
	o->banner_in_boot = true;
	add_evidence(o, t, "con", line, len);
	/* A reset after a boot: judge the next boot afresh. */
	o->st = ST_BOOTING;
	o->deadline = t + o->cfg->boot_timeout_ns;
	boot_started(o, t);
	if (o->cfg->loop_limit > 0 && o->banners >= o->cfg->loop_limit)
		decide(o, t, VERDICT_BOOT_LOOP,
		       "%d bootloader starts in a row without reaching the version probe",
		       o->banners);
}

static void on_commit(struct oracle *o, int64_t t, const char *line, size_t len)
{
	size_t n = len < sizeof(o->commit_line) ? len : sizeof(o->commit_line) - 1;

	add_evidence_keep(o, t, "con", line, len, true);
	o->commit_seen = true;
	memcpy(o->commit_line, line, n);
	o->commit_line[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (o->commit_line[i] == '\0')
			o->commit_line[i] = '.';
	if (o->st == ST_SETTLED && o->committed == COMMIT_WAS_OLD) {
		o->committed = COMMIT_LINE; /* the old version commits again: say so */
	} else if (o->st == ST_TRIAL) {
		o->committed = COMMIT_LINE;
		to_settled(o);
	}
}

/* Flip lines, and the boots that try the flipped-to slot: in every state,
 * before judging too (a fault may cut the trial boot the flip started). */
static void track_flip(struct oracle *o, const char *line, size_t len)
{
	char slot[16], version[64];

	if (!o->flip)
		return;
	if (match(o, o->flip, line, len)) {
		size_t n = len < sizeof(o->flip_line) ? len : sizeof(o->flip_line) - 1;
		o->flipped = true;
		o->tried = false;
		group_of(o, o->flip, "slot", line, o->flip_slot, sizeof(o->flip_slot));
		memcpy(o->flip_line, line, n);
		o->flip_line[n] = '\0';
		for (size_t i = 0; i < n; i++)
			if (o->flip_line[i] == '\0')
				o->flip_line[i] = '.';
		return;
	}
	if (!o->flipped || o->tried)
		return;
	if (match(o, o->trial, line, len)) {
		group_of(o, o->trial, "slot", line, slot, sizeof(slot));
		o->tried = !slot[0] || !o->flip_slot[0] || !strcmp(slot, o->flip_slot);
	} else if (match(o, o->probe, line, len)) {
		group(o, "version", line, version, sizeof(version));
		group(o, "slot", line, slot, sizeof(slot));
		o->tried = is_version(version, o->cfg->new_version) ||
		           (slot[0] && o->flip_slot[0] && !strcmp(slot, o->flip_slot));
	}
}

/* Before judging: the first version probe names the old slot. */
static void before_judging(struct oracle *o, const char *line, size_t len)
{
	if (o->old_slot[0] || !match(o, o->probe, line, len))
		return;
	group(o, "slot", line, o->old_slot, sizeof(o->old_slot));
}

static bool forbidden(struct oracle *o, int64_t t, const char *line, size_t len)
{
	for (size_t i = 0; i < MAX_PATTERNS && o->forbid[i]; i++)
		if (match(o, o->forbid[i], line, len)) {
			add_evidence(o, t, "con", line, len);
			decide(o, t, VERDICT_INCONSISTENT,
			       "the board printed a line the scenario forbids (%.60s)",
			       o->cfg->forbid[i]);
			return true;
		}
	return false;
}

static bool decision_line(struct oracle *o, const char *line, size_t len)
{
	for (size_t i = 0; i < MAX_PATTERNS && o->evidence[i]; i++)
		if (match(o, o->evidence[i], line, len))
			return true;
	return false;
}

void oracle_line(struct oracle *o, int64_t t_ns, const char *line, size_t len)
{
	if (o->st != ST_DONE)
		track_flip(o, line, len);
	if (o->st == ST_IDLE)
		before_judging(o, line, len);
	if (o->st == ST_DONE || o->st == ST_IDLE || forbidden(o, t_ns, line, len))
		return;
	if (match(o, o->banner, line, len)) {
		on_banner(o, t_ns, line, len);
		return;
	}
	if (match(o, o->probe, line, len)) {
		/* The answer to the question out (a check that asks the
		 * client for its version), not a new boot. */
		if (o->asking && !o->banner_in_boot)
			return;
		on_probe(o, t_ns, line, len);
		return;
	}
	if (match(o, o->commit, line, len)) {
		on_commit(o, t_ns, line, len);
		return;
	}
	if (o->st == ST_SILENT && match(o, o->alive, line, len)) {
		add_evidence(o, t_ns, "con", line, len);
		add_evidence(o, t_ns, "check", "alive: late answer", 18);
		o->st = ST_SETTLED;
		o->alive_done = true;
		return;
	}
	if (decision_line(o, line, len))
		add_evidence_keep(o, t_ns, "con", line, len, true);
	else if (match(o, o->panic, line, len))
		add_evidence(o, t_ns, "con", line, len);
}

static int64_t alive_timeout(const struct oracle *o)
{
	return o->cfg->alive_timeout_ns > 0 ? o->cfg->alive_timeout_ns
	                                    : ORACLE_ALIVE_TIMEOUT_DEFAULT_NS;
}

void oracle_alive(struct oracle *o, int64_t t_ns, bool answered)
{
	const char *what;

	o->asking = false;
	/* An answer about an earlier boot (the board reset while we asked)
	 * says nothing: the next oracle_next() asks again. */
	if ((o->st != ST_SETTLED && o->st != ST_SILENT) || o->asked_boot != o->boots)
		return;
	if (answered) {
		o->alive_done = true;
		o->st = ST_SETTLED;
		what = o->alive_asks > 1 ? "alive: answered when asked again" : "alive: answered";
	} else if (o->alive_asks < 2) {
		/* Wait as long again for a late answer, then ask once more. */
		o->st = ST_SILENT;
		o->deadline = t_ns + alive_timeout(o);
		what = "alive: no answer in time";
	} else {
		o->st = ST_SILENT;
		o->deadline = t_ns + o->cfg->boot_timeout_ns;
		what = "alive: no answer when asked again";
	}
	add_evidence(o, t_ns, "check", what, strlen(what));
}

void oracle_check(struct oracle *o, int64_t t_ns, int index, bool passed, const char *what)
{
	o->asking = false;
	if (o->st != ST_SETTLED || index != o->check_next || o->asked_boot != o->boots)
		return;
	o->check_next++;
	if (!passed)
		decide(o, t_ns, VERDICT_INCONSISTENT, "booted version %s, but check %d failed: %s",
		       o->version[0] ? o->version : "?", index + 1, what);
}

void oracle_commit_probed(struct oracle *o, int64_t t_ns, bool committed)
{
	static const char what[] = "commit probe: committed";

	o->asking = false;
	o->next_poll = t_ns + ORACLE_COMMIT_POLL_NS;
	if (o->st != ST_TRIAL || o->asked_boot != o->boots || !committed)
		return;
	add_evidence_keep(o, t_ns, "check", what, sizeof(what) - 1, true);
	o->committed = COMMIT_COMMAND;
	to_settled(o);
}

void oracle_boot_loop(struct oracle *o, int64_t t_ns, const char *what)
{
	decide(o, t_ns, VERDICT_BOOT_LOOP, "%s", what);
}

void oracle_infra(struct oracle *o, int64_t t_ns, const char *what)
{
	decide(o, t_ns, VERDICT_INFRA_ERROR, "%s", what);
}

/* ", committed" only with its evidence in the evidence list. */
static void commit_words(const struct oracle *o, char *out, size_t size)
{
	switch (o->committed) {
	case COMMIT_PROBE:
		snprintf(out, size, ", committed (its probe says so)");
		break;
	case COMMIT_LINE:
		snprintf(out, size, ", committed (\"%.60s\")", o->commit_line);
		break;
	case COMMIT_COMMAND:
		snprintf(out, size, ", committed (the commit probe says so)");
		break;
	case COMMIT_WAS_OLD:
		snprintf(out, size,
		         " (no commit line this boot: the version committed before the "
		         "update)");
		break;
	default:
		snprintf(out, size, "; commit not observable (no committed group, no commit line)");
		break;
	}
}

/* The slot the old version ran from before judging; "" when unknown. */
static bool slot_wrong(struct oracle *o, int64_t now, bool is_new)
{
	if (!o->old_slot[0] || !o->slot[0])
		return false;
	if (is_new && strcmp(o->slot, o->old_slot) == 0)
		decide(o, now, VERDICT_INCONSISTENT,
		       "new version %s runs from slot %s, the slot the old version ran from",
		       o->version, o->slot);
	else if (!is_new && strcmp(o->slot, o->old_slot) != 0)
		decide(o, now, VERDICT_INCONSISTENT,
		       "old version %s runs from slot %s, not from slot %s where it ran before",
		       o->version, o->slot, o->old_slot);
	return o->st == ST_DONE;
}

static void classify(struct oracle *o, int64_t now)
{
	const struct oracle_cfg *c = o->cfg;
	const char *slot = o->slot[0] ? o->slot : "?";
	char words[120];

	commit_words(o, words, sizeof(words));
	if (is_version(o->version, c->new_version) && o->committed != COMMIT_NO) {
		if (!slot_wrong(o, now, true))
			decide(o, now, VERDICT_UPGRADED, "new version %s runs from slot %s%s",
			       o->version, slot, words);
	} else if (is_version(o->version, c->old_version) && o->committed != COMMIT_NO) {
		if (slot_wrong(o, now, false))
			return;
		if (o->flipped && !o->tried)
			decide(
			    o, now, VERDICT_INCONSISTENT,
			    "flip reported, new slot never tried: the client said \"%s\", but no "
			    "boot since tried slot %s; old version %s runs from slot %s%s",
			    o->flip_line, o->flip_slot[0] ? o->flip_slot : "?", o->version, slot,
			    words);
		else
			decide(o, now, VERDICT_ROLLED_BACK, "old version %s runs from slot %s%s",
			       o->version, slot, words);
	} else {
		decide(o, now, VERDICT_INCONSISTENT,
		       "version \"%s\" runs from slot %s: neither the old (%s) nor the new (%s)",
		       o->version, slot, c->old_version ? c->old_version : "-",
		       c->new_version ? c->new_version : "-");
	}
}

static enum oracle_action booting_timeout(struct oracle *o, int64_t now)
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
	return ORACLE_DONE;
}

static enum oracle_action trial_timeout(struct oracle *o, int64_t now)
{
	if (o->cfg->commit_probe)
		decide(o, now, VERDICT_INCONSISTENT,
		       "version %s runs from slot %s and the commit probe did not say committed "
		       "within %.0f s",
		       o->version, o->slot[0] ? o->slot : "?",
		       (double)o->cfg->settle_ns / NS_PER_S);
	else if (pcre2_substring_number_from_name(o->probe, (PCRE2_SPTR) "committed") <= 0)
		decide(o, now, VERDICT_INCONSISTENT,
		       "version %s runs from slot %s and printed no commit line within %.0f s",
		       o->version, o->slot[0] ? o->slot : "?",
		       (double)o->cfg->settle_ns / NS_PER_S);
	else
		decide(o, now, VERDICT_INCONSISTENT,
		       "version %s booted on trial and was not committed within %.0f s", o->version,
		       (double)o->cfg->settle_ns / NS_PER_S);
	return ORACLE_DONE;
}

static enum oracle_action silent_timeout(struct oracle *o, int64_t now)
{
	if (o->alive_asks < 2) {
		o->alive_asks++;
		o->asking = true;
		o->asked_boot = o->boots;
		return ORACLE_ALIVE;
	}
	decide(o, now, VERDICT_HUNG,
	       "booted version %s, then stopped answering on the console (asked twice, %.0f s "
	       "each; no reset within %.0f s)",
	       o->version[0] ? o->version : "?", (double)alive_timeout(o) / NS_PER_S,
	       (double)o->cfg->boot_timeout_ns / NS_PER_S);
	return ORACLE_DONE;
}

static enum oracle_action settled(struct oracle *o, int64_t now, int *index)
{
	o->asked_boot = o->boots;
	if (o->cfg->alive_check && !o->alive_done) {
		o->alive_asks++;
		o->asking = true;
		return ORACLE_ALIVE;
	}
	if (o->check_next < o->cfg->n_checks) {
		*index = o->check_next;
		o->asking = true;
		return ORACLE_CHECK;
	}
	classify(o, now);
	return ORACLE_DONE;
}

enum oracle_action oracle_next(struct oracle *o, int64_t now, int64_t *deadline, int *index)
{
	if (o->st == ST_IDLE)
		oracle_power_restored(o, now);
	if (o->st == ST_TRIAL && o->cfg->commit_probe && now < o->deadline) {
		if (now >= o->next_poll) {
			o->asking = true;
			o->asked_boot = o->boots;
			return ORACLE_COMMIT_PROBE;
		}
		*deadline = o->next_poll < o->deadline ? o->next_poll : o->deadline;
		return ORACLE_WAIT;
	}
	if (o->st == ST_BOOTING || o->st == ST_TRIAL || o->st == ST_SILENT) {
		if (now < o->deadline) {
			*deadline = o->deadline;
			return ORACLE_WAIT;
		}
	}
	switch (o->st) {
	case ST_BOOTING:
		return booting_timeout(o, now);
	case ST_TRIAL:
		return trial_timeout(o, now);
	case ST_SILENT:
		return silent_timeout(o, now);
	case ST_SETTLED:
		return settled(o, now, index);
	case ST_IDLE:
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
