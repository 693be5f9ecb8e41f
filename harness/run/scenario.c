/* harness/run/scenario.c — load and check scenario files (see scenario.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cfg.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "harness/run/expect.h"
#include "harness/run/scenario.h"

static const char *const top_keys[] = {"scenario", "description", "fits",   "allowed", "versions",
                                       "sweep",    "steps",       "checks", "oracle",  "forbid",
                                       "snapshot", "slots",       NULL};
static const char *const check_targets[] = {"old_version", "new_version", "old_slot", "new_slot",
                                            NULL};
static const char *const fault_keys[] = {"kind",     "marker",   "delay",  "after",   "timeout",
                                         "off_time", "down",     "until",  "server",  "at_byte",
                                         "stall",    "rate",     "path",   "process", "command",
                                         "write",    "optional", "repeat", NULL};
static const char *const fault_kinds[] = {"power_cut", "network", "server", "hang", NULL};
static const char *const server_faults[] = {"stall", "close", "reset", "throttle", "corrupt", NULL};

const char *scenario_fault_kind_name(enum fault_kind kind)
{
	return (unsigned)kind < sizeof(fault_kinds) / sizeof(fault_kinds[0]) - 1 ? fault_kinds[kind]
	                                                                         : "?";
}

bool scenario_allows(const struct scenario *s, enum verdict v)
{
	return v != VERDICT_INFRA_ERROR && (s->allowed & (1u << v));
}

/* A duration that holds no ${...} is checked now, so a typo fails at load
 * and not an hour into a campaign. */
static int check_duration(const struct cfg_node *map, const char *key, const char **out)
{
	const struct cfg_node *n = cfg_get(map, key);
	int64_t ns;

	*out = NULL;
	if (!n)
		return 0;
	if (cfg_get_str(map, key, true, out) < 0)
		return -EINVAL;
	if (!strstr(*out, "${") && cfg_parse_duration(*out, &ns) < 0) {
		cfg_error(n, "%s", cfg_duration_error(*out));
		return -EINVAL;
	}
	return 0;
}

bool scenario_write_number(const char *text, long long *n)
{
	char *end;

	*n = strtoll(text, &end, 10);
	return end != text && !*end && *n != 0;
}

/* repeat: N (1..32): a power cut at a marker, cut again each time the
 * marker comes back. */
static int load_repeat(const struct cfg_node *n, struct fault_spec *f)
{
	const struct cfg_node *r = cfg_get(n, "repeat");
	long long count = 1;

	f->repeat = 1;
	if (!r)
		return 0;
	if (cfg_get_int(n, "repeat", true, 1, 32, &count) < 0)
		return -EINVAL;
	if (f->kind != FAULT_POWER_CUT || !f->marker || f->write) {
		cfg_error(r, "repeats a power cut at a marker: give kind: power_cut, marker: and "
		             "delay: (not write:)");
		return -EINVAL;
	}
	f->repeat = (int)count;
	return 0;
}

static int load_fault(const struct cfg_node *n, struct fault_spec *f)
{
	int kind, rc = 0;

	if (cfg_check_keys(n, fault_keys) < 0 ||
	    cfg_get_enum(n, "kind", true, fault_kinds, &kind) < 0)
		return -EINVAL;
	f->kind = (enum fault_kind)kind;
	rc |= cfg_get_str(n, "marker", false, &f->marker);
	rc |= check_duration(n, "delay", &f->delay);
	rc |= check_duration(n, "after", &f->after);
	rc |= check_duration(n, "timeout", &f->timeout);
	rc |= check_duration(n, "off_time", &f->off_time);
	rc |= check_duration(n, "down", &f->down);
	rc |= check_duration(n, "stall", &f->stall);
	rc |= cfg_get_str(n, "until", false, &f->until);
	rc |= cfg_get_str(n, "at_byte", false, &f->at_byte);
	rc |= cfg_get_str(n, "rate", false, &f->rate);
	rc |= cfg_get_str(n, "path", false, &f->path);
	rc |= cfg_get_str(n, "process", false, &f->process);
	rc |= cfg_get_str(n, "command", false, &f->command);
	rc |= cfg_get_str(n, "write", false, &f->write);
	rc |= cfg_get_bool(n, "optional", false, &f->optional);
	if (rc || load_repeat(n, f) < 0)
		return -EINVAL;
	if (f->write && (f->kind != FAULT_POWER_CUT || f->delay)) {
		cfg_error(
		    cfg_get(n, "write"), "%s",
		    f->kind != FAULT_POWER_CUT
		        ? "write: N places a power cut; this fault is not one"
		        : "give write: N (the cut comes at a disk write) or delay:, not both");
		return -EINVAL;
	}
	if (f->write && !strstr(f->write, "${")) {
		long long v;
		if (!scenario_write_number(f->write, &v)) {
			cfg_error(cfg_get(n, "write"),
			          "\"%s\" is not a write number: N counts disk writes after the "
			          "trigger, -N back from it (not 0)",
			          f->write);
			return -EINVAL;
		}
	}
	if (f->kind == FAULT_SERVER) {
		int which;
		if (cfg_get_enum(n, "server", true, server_faults, &which) < 0)
			return -EINVAL;
		cfg_get_str(n, "server", true, &f->server);
		return 0;
	}
	if (expect_regex_node_ok(cfg_get(n, "marker")) < 0 ||
	    expect_regex_node_ok(cfg_get(n, "until")) < 0)
		return -EINVAL;
	if (f->marker && f->after) {
		cfg_error(n, "give marker: (with delay:) or after:, not both");
		return -EINVAL;
	}
	if (f->kind == FAULT_NETWORK && !f->down && !f->until) {
		cfg_error(n, "a network fault needs down: DURATION or until: MARKER");
		return -EINVAL;
	}
	if (f->kind == FAULT_HANG && !f->process && !f->command) {
		cfg_error(n, "a hang fault needs process: NAME (SIGSTOP) or command: LINE");
		return -EINVAL;
	}
	return 0;
}

static int load_patterns(const struct cfg_node *n, struct step *st)
{
	const char **v = NULL;

	if (cfg_get_strv(n, "expect", true, &v) < 0)
		return -EINVAL;
	if (expect_regex_node_ok(cfg_get(n, "expect")) < 0) {
		free(v);
		return -EINVAL;
	}
	st->patterns = v;
	for (st->n_patterns = 0; v[st->n_patterns]; st->n_patterns++)
		;
	if (st->n_patterns == 0) {
		cfg_error(cfg_get(n, "expect"), "needs at least one pattern");
		return -EINVAL;
	}
	return 0;
}

static int load_step(const struct cfg_node *n, struct step *st)
{
	static const char *const step_keys[] = {"power", "expect",  "send",    "wait",     "serve",
	                                        "fault", "recover", "timeout", "off_time", NULL};
	static const char *const actions[] = {"on", "off", "cycle", NULL};
	int found = 0, a;

	if (cfg_expect_type(n, CFG_MAP) < 0 || cfg_check_keys(n, step_keys) < 0)
		return -EINVAL;
	st->node = n;
	if (check_duration(n, "timeout", &st->timeout) < 0 ||
	    check_duration(n, "off_time", &st->off_time) < 0)
		return -EINVAL;
	for (const struct cfg_node *c = n->child; c; c = c->next) {
		if (!strcmp(c->key, "timeout") || !strcmp(c->key, "off_time"))
			continue;
		if (found++) {
			cfg_error_at_key(c, "a step does one thing; put it in a step of its own");
			return -EINVAL;
		}
		if (!strcmp(c->key, "power")) {
			st->kind = STEP_POWER;
			if (cfg_get_enum(n, "power", true, actions, &a) < 0)
				return -EINVAL;
			st->arg = actions[a];
		} else if (!strcmp(c->key, "expect")) {
			st->kind = STEP_EXPECT;
			if (load_patterns(n, st) < 0)
				return -EINVAL;
		} else if (!strcmp(c->key, "send")) {
			st->kind = STEP_SEND;
			if (cfg_get_str(n, "send", true, &st->arg) < 0)
				return -EINVAL;
		} else if (!strcmp(c->key, "wait")) {
			st->kind = STEP_WAIT;
			if (check_duration(n, "wait", &st->arg) < 0 || !st->arg)
				return -EINVAL;
		} else if (!strcmp(c->key, "serve")) {
			st->kind = STEP_SERVE;
			if (cfg_get_str(n, "serve", true, &st->arg) < 0)
				return -EINVAL;
		} else if (!strcmp(c->key, "recover")) {
			st->kind = STEP_RECOVER;
			if (cfg_get_enum(n, "recover", true, actions + 2, &a) < 0)
				return -EINVAL;
			st->arg = "cycle";
		} else {
			st->kind = STEP_FAULT;
			if (cfg_expect_type(c, CFG_MAP) < 0 || load_fault(c, &st->fault) < 0)
				return -EINVAL;
		}
	}
	if (!found) {
		cfg_error(
		    n,
		    "is empty; a step is one of power, expect, send, wait, serve, fault, recover");
		return -EINVAL;
	}
	return 0;
}

static int load_allowed(struct scenario *s)
{
	const struct cfg_node *n = cfg_get(s->root, "allowed");
	const char **v = NULL;

	if (cfg_get_strv(s->root, "allowed", true, &v) < 0)
		return -EINVAL;
	for (size_t i = 0; v[i]; i++) {
		int vd = verdict_from_name(v[i]);
		if (vd < 0 || vd == VERDICT_INFRA_ERROR) {
			cfg_error(n, "\"%s\" is not an end state a run may be allowed (%s)", v[i],
			          "upgraded, rolled_back, bricked, boot_loop, hung, inconsistent");
			free(v);
			return -EINVAL;
		}
		s->allowed |= 1u << vd;
	}
	free(v);
	return 0;
}

static int load_sweep(struct scenario *s)
{
	static const char *const sweep_keys[] = {"values", "from", "to", "step", NULL};
	const struct cfg_node *n = cfg_get(s->root, "sweep");
	long long from = 0, to = 0, step = 1;

	if (!n)
		return 0;
	if (cfg_expect_type(n, CFG_MAP) < 0)
		return -EINVAL;
	s->sweep.present = true;
	if (cfg_check_keys(n, sweep_keys) < 0)
		return -EINVAL;
	if (cfg_get(n, "values"))
		return cfg_get_strv(n, "values", true, &s->sweep.values);
	if (cfg_get_int(n, "from", true, -1000000000, 1000000000, &from) < 0 ||
	    cfg_get_int(n, "to", true, -1000000000, 1000000000, &to) < 0 ||
	    cfg_get_int(n, "step", false, 1, 1000000000, &step) < 0)
		return -EINVAL;
	if (to < from) {
		cfg_error(n, "to (%lld) is below from (%lld)", to, from);
		return -EINVAL;
	}
	s->sweep.from = (double)from;
	s->sweep.to = (double)to;
	s->sweep.step = (double)step;
	return 0;
}

const char *scenario_check_target_name(enum check_target t)
{
	return (unsigned)t < sizeof(check_targets) / sizeof(check_targets[0]) - 1 ? check_targets[t]
	                                                                          : "?";
}

const char *scenario_check_value(const struct scenario *s, enum check_target t)
{
	switch (t) {
	case CHECK_OLD_VERSION:
		return s->old_version;
	case CHECK_NEW_VERSION:
		return s->new_version;
	case CHECK_OLD_SLOT:
		return s->old_slot;
	case CHECK_NEW_SLOT:
		return s->new_slot;
	}
	return NULL;
}

/* compare: {GROUP: TARGET, ...}: each group in expect, each target given. */
static int load_compare(struct scenario *s, const struct cfg_node *c, struct check_spec *ck)
{
	const struct cfg_node *n = cfg_get(c, "compare");

	if (!n)
		return 0;
	if (cfg_expect_type(n, CFG_MAP) < 0)
		return -EINVAL;
	for (const struct cfg_node *g = n->child; g; g = g->next) {
		struct check_compare *cmp = &ck->compare[ck->n_compare];
		int t = -1;
		if (ck->n_compare == CHECK_MAX_COMPARE) {
			cfg_error(n, "compares more than %d groups", CHECK_MAX_COMPARE);
			return -EINVAL;
		}
		if (expect_regex_group_ok(g, ck->expect, g->key) < 0 ||
		    cfg_get_enum(n, g->key, true, check_targets, &t) < 0)
			return -EINVAL;
		if (!scenario_check_value(s, (enum check_target)t)) {
			cfg_error(g, "compares with %s, which this scenario does not give (%s)",
			          check_targets[t],
			          t <= CHECK_NEW_VERSION ? "versions: {old, new}"
			                                 : "slots: {old, new}");
			return -EINVAL;
		}
		cmp->node = g;
		cmp->group = g->key;
		cmp->target = (enum check_target)t;
		ck->n_compare++;
	}
	return 0;
}

static int load_checks(struct scenario *s)
{
	static const char *const keys[] = {"send", "expect", "timeout", "compare", NULL};
	const struct cfg_node *n = cfg_get(s->root, "checks");
	size_t i = 0;

	if (!n)
		return 0;
	if (cfg_expect_type(n, CFG_SEQ) < 0)
		return -EINVAL;
	s->checks = calloc(cfg_count(n) + 1, sizeof(*s->checks));
	if (!s->checks)
		return -ENOMEM;
	for (const struct cfg_node *c = n->child; c; c = c->next, i++) {
		struct check_spec *ck = &s->checks[i];
		if (cfg_check_keys(c, keys) < 0 || cfg_get_str(c, "send", true, &ck->send) < 0 ||
		    cfg_get_str(c, "expect", true, &ck->expect) < 0 ||
		    expect_regex_ok(cfg_get(c, "expect"), ck->expect) < 0 ||
		    check_duration(c, "timeout", &ck->timeout) < 0 || load_compare(s, c, ck) < 0)
			return -EINVAL;
	}
	s->n_checks = i;
	return 0;
}

static int load_oracle(struct scenario *s)
{
	static const char *const keys[] = {"boot_timeout", "settle",    "ladder", "loop_limit",
	                                   "alive",        "max_boots", NULL};
	const struct cfg_node *n = cfg_get(s->root, "oracle");
	long long ladder = 2, loop_limit = 6, max_boots = SCENARIO_MAX_BOOTS_DEFAULT;

	s->boot_timeout_ns = 60 * NS_PER_S;
	s->settle_ns = 60 * NS_PER_S;
	s->alive = true;
	if (!n)
		goto out;
	if (cfg_check_keys(n, keys) < 0 ||
	    cfg_get_duration(n, "boot_timeout", false, &s->boot_timeout_ns) < 0 ||
	    cfg_get_duration(n, "settle", false, &s->settle_ns) < 0 ||
	    cfg_get_int(n, "ladder", false, 0, 10, &ladder) < 0 ||
	    cfg_get_int(n, "loop_limit", false, 0, 100, &loop_limit) < 0 ||
	    cfg_get_bool(n, "alive", false, &s->alive) < 0 ||
	    cfg_get_int(n, "max_boots", false, 1, 1000, &max_boots) < 0)
		return -EINVAL;
out:
	s->max_boots = (int)max_boots;
	s->ladder = (int)ladder;
	s->loop_limit = (int)loop_limit;
	return 0;
}

static int load_steps(struct scenario *s)
{
	const struct cfg_node *n = cfg_get(s->root, "steps");
	size_t i = 0;

	if (!n) {
		cfg_error(s->root, "needs a steps: list");
		return -EINVAL;
	}
	if (cfg_expect_type(n, CFG_SEQ) < 0)
		return -EINVAL;
	s->steps = calloc(cfg_count(n) + 1, sizeof(*s->steps));
	if (!s->steps)
		return -ENOMEM;
	for (const struct cfg_node *c = n->child; c; c = c->next, i++)
		if (load_step(c, &s->steps[i]) < 0) {
			s->n_steps = i + 1;
			return -EINVAL;
		}
	s->n_steps = i;
	return 0;
}

/* snapshot: before-update needs setup steps a saved machine can stand for:
 * power on, expect, wait and serve, then a send. */
static int load_snapshot(struct scenario *s)
{
	static const char *const whens[] = {"before-update", NULL};
	const struct cfg_node *n = cfg_get(s->root, "snapshot");
	int when;

	if (!n)
		return 0;
	if (cfg_get_enum(s->root, "snapshot", false, whens, &when) < 0)
		return -EINVAL;
	if (s->write_cut_step) {
		cfg_error(n,
		          "cannot be used with a power cut at a disk write (step %zu): the "
		          "write log that counts them cannot be saved in a snapshot",
		          s->write_cut_step);
		return -EINVAL;
	}
	for (size_t i = 0; i < s->n_steps; i++) {
		const struct step *st = &s->steps[i];
		if (st->kind == STEP_SEND) {
			s->snapshot = true;
			s->first_send = i;
			return 0;
		}
		if (st->kind == STEP_FAULT || st->kind == STEP_RECOVER ||
		    (st->kind == STEP_POWER && strcmp(st->arg, "on") != 0)) {
			cfg_error(
			    st->node,
			    "comes before the first send: step, so snapshot: before-update would "
			    "skip it: only power: on, expect, wait and serve may come first");
			return -EINVAL;
		}
	}
	cfg_error(n, "needs a send: step (the update starts there, and the snapshot is taken "
	             "just before it)");
	return -EINVAL;
}

/* slots: {old: A, new: B}: what a check's compare: calls old_slot and
 * new_slot. */
static int load_slots(struct scenario *s)
{
	static const char *const keys[] = {"old", "new", NULL};
	const struct cfg_node *n = cfg_get(s->root, "slots");

	if (!n)
		return 0;
	if (cfg_expect_type(n, CFG_MAP) < 0 || cfg_check_keys(n, keys) < 0 ||
	    cfg_get_str(n, "old", false, &s->old_slot) < 0 ||
	    cfg_get_str(n, "new", false, &s->new_slot) < 0)
		return -EINVAL;
	return 0;
}

struct scenario *scenario_load(const char *path)
{
	struct scenario *s = calloc(1, sizeof(*s));
	const struct cfg_node *versions;

	if (!s)
		return NULL;
	s->path = strdup(path);
	s->root = cfg_load_file(path);
	if (!s->root || cfg_expect_type(s->root, CFG_MAP) < 0 ||
	    cfg_check_keys(s->root, top_keys) < 0 ||
	    cfg_get_str(s->root, "scenario", true, &s->name) < 0)
		goto fail;
	s->description = "";
	if (cfg_get_str(s->root, "description", false, &s->description) < 0 ||
	    cfg_get_strv(s->root, "fits", false, &s->fits) < 0 ||
	    cfg_get_strv(s->root, "forbid", false, &s->forbid) < 0 ||
	    expect_regex_node_ok(cfg_get(s->root, "forbid")) < 0 || load_allowed(s) < 0)
		goto fail;
	if (cfg_count(cfg_get(s->root, "forbid")) > SCENARIO_MAX_FORBID) {
		cfg_error(cfg_get(s->root, "forbid"),
		          "has %zu patterns; at most %d (join them "
		          "with |)",
		          cfg_count(cfg_get(s->root, "forbid")), SCENARIO_MAX_FORBID);
		goto fail;
	}
	versions = cfg_get(s->root, "versions");
	if (versions && (cfg_get_str(versions, "old", false, &s->old_version) < 0 ||
	                 cfg_get_str(versions, "new", false, &s->new_version) < 0))
		goto fail;
	if (load_slots(s) < 0)
		goto fail;
	if (load_sweep(s) < 0 || load_steps(s) < 0 || load_checks(s) < 0 || load_oracle(s) < 0)
		goto fail;
	for (size_t i = 0; i < s->n_steps && !s->write_cut_step; i++)
		if (s->steps[i].kind == STEP_FAULT && s->steps[i].fault.write)
			s->write_cut_step = i + 1;
	if (load_snapshot(s) < 0)
		goto fail;
	return s;
fail:
	scenario_free(s);
	return NULL;
}

void scenario_free(struct scenario *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_steps; i++)
		free(s->steps[i].patterns);
	free(s->steps);
	free(s->checks);
	free(s->fits);
	free(s->forbid);
	free(s->sweep.values);
	cfg_free(s->root);
	free(s->path);
	free(s);
}

char **scenario_points(const struct scenario *s, size_t *n)
{
	char **out;
	size_t count = 1;

	if (s->sweep.values)
		for (count = 0; s->sweep.values[count]; count++)
			;
	else if (s->sweep.present)
		count = (size_t)floor((s->sweep.to - s->sweep.from) / s->sweep.step) + 1;
	if (count > SWEEP_MAX_POINTS) {
		hil_error(
		    "%s: the sweep has %zu fault points, more than %d in one campaign: give a "
		    "larger step, or --runs N to draw N random points from its range",
		    s->path, count, SWEEP_MAX_POINTS);
		return NULL;
	}
	out = calloc(count + 1, sizeof(*out));
	if (!out)
		return NULL;
	for (size_t i = 0; i < count; i++) {
		char buf[64];
		if (s->sweep.values)
			snprintf(buf, sizeof(buf), "%s", s->sweep.values[i]);
		else if (s->sweep.present)
			snprintf(buf, sizeof(buf), "%.0f",
			         s->sweep.from + (double)i * s->sweep.step);
		else
			snprintf(buf, sizeof(buf), "-");
		out[i] = strdup(buf);
	}
	*n = count;
	return out;
}

void points_free(char **points, size_t n)
{
	for (size_t i = 0; points && i < n; i++)
		free(points[i]);
	free(points);
}
