/* harness/run/engine_judge.c — engine_run(): prepare the board, run the steps,
 * then drive the oracle's ladder (wait, power-cycle, alive and data checks)
 * until it gives a verdict; leave the board off. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/lab/board.h"
#include "lib/cfg.h"
#include "harness/cli/cli.h"
#include "lib/clock.h"
#include "harness/run/engine_int.h"
#include "harness/run/expect.h"
#include "harness/run/outcome.h"
#include "lib/log.h"
#include "harness/server/server.h"
#include "lib/timeline.h"
#include "lib/stop.h"

static const char *probe(const struct run *r, const char *name)
{
	const struct cfg_node *n = cfg_get(r->b->cfg->probes, name);

	return n && n->type == CFG_SCALAR ? n->value : NULL;
}

/* A scalar or a list of scalars, NULL-terminated in out[max]. */
static void probe_list(const struct run *r, const char *name, const char **out, size_t max)
{
	const struct cfg_node *n = cfg_get(r->b->cfg->probes, name);
	size_t i = 0;

	if (n && n->type == CFG_SCALAR)
		out[i++] = n->value;
	for (const struct cfg_node *c = n && n->type == CFG_SEQ ? n->child : NULL; c && i < max - 1;
	     c = c->next)
		if (c->type == CFG_SCALAR)
			out[i++] = c->value;
	out[i] = NULL;
}

static int setup_oracle(struct run *r)
{
	const struct scenario *sc = r->spec->sc;
	const struct cfg_node *alive = cfg_get(r->b->cfg->probes, "alive");
	const struct cfg_node *commit = cfg_get(r->b->cfg->probes, "commit");
	struct oracle_cfg *c = &r->ocfg;
	const char *phase = probe(r, "phase");

	c->probe_re = probe(r, "version");
	c->banner_re = probe(r, "banner");
	c->commit_re = probe(r, "commit");
	c->panic_re = probe(r, "panic");
	c->flip_re = probe(r, "flip");
	c->trial_re = probe(r, "trial");
	c->old_version = sc->old_version;
	c->new_version = sc->new_version;
	c->boot_timeout_ns = sc->boot_timeout_ns;
	c->settle_ns = sc->settle_ns;
	c->ladder = sc->ladder;
	c->loop_limit = sc->loop_limit;
	c->alive_check = sc->alive && alive && cfg_get(alive, "send") && cfg_get(alive, "expect");
	c->n_checks = (int)sc->n_checks;
	c->forbid = sc->forbid;
	c->max_boots = sc->max_boots;
	c->commit_probe = commit && commit->type == CFG_MAP;
	if (c->alive_check) {
		c->alive_re = cfg_get(alive, "expect")->value;
		c->alive_timeout_ns = ORACLE_ALIVE_TIMEOUT_DEFAULT_NS;
		if (cfg_get_duration(alive, "timeout", false, &c->alive_timeout_ns) < 0)
			return -EINVAL;
	}
	probe_list(r, "evidence", r->evidence_re, 9);
	c->evidence_re = r->evidence_re;
	r->oracle = oracle_new(c);
	if (!r->oracle)
		return -EINVAL;
	if (phase) {
		int err;
		PCRE2_SIZE at;
		r->phase_re =
		    pcre2_compile((PCRE2_SPTR)phase, PCRE2_ZERO_TERMINATED, 0, &err, &at, NULL);
		r->phase_md = pcre2_match_data_create(8, NULL);
	}
	return 0;
}

static bool ask(struct run *r, const char *send, const char *expect_re, int64_t timeout)
{
	char line[512], pat[512];
	int64_t t;

	if (engine_expand(r, send, line, sizeof(line)) < 0 ||
	    engine_expand(r, expect_re, pat, sizeof(pat)) < 0)
		return false;
	if (engine_send_line(r, line) < 0)
		return false;
	return engine_expect_one(r, pat, timeout, &t) == 1;
}

/* A check that reads values: send, wait for expect, then compare each named
 * group with the scenario's version or slot. what says what was read (or
 * not): the reason of a failure, and the timeline's note of a pass. */
static bool ask_values(struct run *r, const struct check_spec *ck, int64_t timeout, char *what,
                       size_t size)
{
	const struct scenario *sc = r->spec->sc;
	char line[512], pat[512];
	const char *pats[1] = {pat};
	struct expect_match m;
	struct expect *e;
	int64_t t;
	int rc, n = 0;

	snprintf(what, size, "%s", ck->send);
	if (engine_expand(r, ck->send, line, sizeof(line)) < 0 ||
	    engine_expand(r, ck->expect, pat, sizeof(pat)) < 0 || engine_send_line(r, line) < 0)
		return false;
	e = expect_new(pats, 1);
	if (!e)
		return false;
	rc = engine_pump(r, clock_now_ns() + timeout, e, &m, &t, false);
	if (rc != 1) {
		snprintf(what, size, "%.200s: no answer matching \"%.80s\" within %.0f s", line,
		         pat, (double)timeout / NS_PER_S);
		expect_free(e);
		return false;
	}
	n = snprintf(what, size, "%.200s:", line);
	for (size_t i = 0; i < ck->n_compare; i++) {
		const struct check_compare *c = &ck->compare[i];
		int g = expect_group_index(e, 0, c->group);
		const char *got = g > 0 && g < 10 ? m.groups[g] : "";
		const char *want = scenario_check_value(sc, c->target);
		bool same = want && strcmp(got, want) == 0;
		if (n >= 0 && (size_t)n < size)
			n += snprintf(what + n, size - (size_t)n, " %s \"%.60s\" %s the %s (%s)",
			              c->group, got, same ? "is" : "is not",
			              scenario_check_target_name(c->target), want ? want : "?");
		if (!same) {
			expect_free(e);
			return false;
		}
	}
	expect_free(e);
	timeline_event(r->b->tl, t, "note", "check: %s", what);
	return true;
}

static int judge(struct run *r)
{
	const struct cfg_node *alive = cfg_get(r->b->cfg->probes, "alive");
	int64_t deadline;
	int index = 0, rc;

	if (!r->judging)
		engine_start_judging(r, clock_now_ns());
	for (;;) {
		enum oracle_action a = oracle_next(r->oracle, clock_now_ns(), &deadline, &index);
		bool ok;

		switch (a) {
		case ORACLE_DONE:
			return 0;
		case ORACLE_WAIT:
			rc = engine_pump(r, deadline, NULL, NULL, NULL, true);
			if (rc < 0)
				return rc;
			break;
		case ORACLE_POWER_CYCLE:
			timeline_event(r->b->tl, clock_now_ns(), "note", "oracle: power cycle");
			rc = board_power_cycle(r->b, 1000 * NS_PER_MS,
			                       clock_now_ns() + 30 * NS_PER_S);
			if (rc < 0)
				return engine_infra(r, rc, "power cycle failed: %s", strerror(-rc));
			r->line_len = 0;
			oracle_power_restored(r->oracle, clock_now_ns());
			break;
		case ORACLE_ALIVE:
			ok = ask(r, cfg_get(alive, "send")->value, cfg_get(alive, "expect")->value,
			         r->ocfg.alive_timeout_ns);
			if (stop_requested())
				return -EINTR;
			oracle_alive(r->oracle, clock_now_ns(), ok);
			break;
		case ORACLE_COMMIT_PROBE: {
			const struct cfg_node *cmd = cfg_get(r->b->cfg->probes, "commit");
			int64_t timeout = ORACLE_ALIVE_TIMEOUT_DEFAULT_NS;
			cfg_get_duration(cmd, "timeout", false, &timeout);
			ok = ask(r, cfg_get(cmd, "send")->value, cfg_get(cmd, "expect")->value,
			         timeout);
			if (stop_requested())
				return -EINTR;
			oracle_commit_probed(r->oracle, clock_now_ns(), ok);
			break;
		}
		case ORACLE_CHECK: {
			const struct check_spec *ck = &r->spec->sc->checks[index];
			int64_t timeout = 10 * NS_PER_S;
			char what[512];
			engine_expand_duration(r, ck->timeout, timeout, &timeout);
			if (ck->n_compare)
				ok = ask_values(r, ck, timeout, what, sizeof(what));
			else
				ok = ask(r, ck->send, ck->expect, timeout);
			if (stop_requested())
				return -EINTR;
			oracle_check(r->oracle, clock_now_ns(), index, ok,
			             ck->n_compare ? what : ck->send);
			break;
		}
		}
	}
}

/* The board was told the update server's address and no request came: it
 * could not reach the server (server_host names an address the board has
 * no route to, a firewall), so the update path was never tested. Not judged
 * when a fault was injected: the fault may be what stopped the board before
 * it asked. */
static void check_server_asked(struct run *r)
{
	const char *host = "127.0.0.1";
	struct server_stats now;
	char why[sizeof(r->infra)];

	if (!r->ctx->server || !r->told_url[0] || outcome_any_injected(r->res))
		return;
	server_get_stats(r->ctx->server, &now);
	if (now.requests > r->requests_at_send)
		return;
	cfg_get_str(r->b->cfg->vars, "server_host", false, &host);
	outcome_no_request_reason(why, sizeof(why),
	                          r->ctx->server_bind ? r->ctx->server_bind : "127.0.0.1",
	                          server_port(r->ctx->server), r->told_url, host);
	timeline_event(r->b->tl, clock_now_ns(), "note", "%s", why);
	engine_infra(r, -EHOSTUNREACH, "%s", why);
}

static void finish(struct run *r, int rc, int64_t t_start)
{
	struct run_result *res = r->res;
	const struct oracle_evidence *ev;
	size_t n;

	if (rc == -EINTR || stop_requested()) {
		res->interrupted = true;
	} else if (rc < 0 && !r->infra[0]) {
		snprintf(r->infra, sizeof(r->infra), "%s", strerror(-rc));
	}
	if (r->infra[0] && r->oracle)
		oracle_infra(r->oracle, clock_now_ns(), r->infra);
	if (r->oracle) {
		res->verdict = oracle_verdict(r->oracle);
		snprintf(res->reason, sizeof(res->reason), "%s", oracle_reason(r->oracle));
		n = oracle_evidence(r->oracle, &ev);
		memcpy(res->evidence, ev, n * sizeof(*ev));
		res->n_evidence = n;
	} else {
		res->verdict = VERDICT_INFRA_ERROR;
		snprintf(res->reason, sizeof(res->reason), "%s",
		         r->infra[0] ? r->infra : "the oracle could not be set up");
	}
	if (r->infra[0] && res->verdict != VERDICT_INFRA_ERROR) {
		/* Found after the oracle had decided (the update server's
		 * checks): the lab failed, whatever the board did. */
		res->verdict = VERDICT_INFRA_ERROR;
		snprintf(res->reason, sizeof(res->reason), "%s", r->infra);
	}
	res->pass = scenario_allows(r->spec->sc, res->verdict);
	outcome_judge_injection(res);
	res->duration_s = (double)(clock_now_ns() - t_start) / NS_PER_S;
	/* An interrupted run has no verdict (the journal does not count it). */
	if (res->interrupted)
		timeline_event(r->b->tl, clock_now_ns(), "note",
		               "run interrupted before its verdict; --resume runs it again");
	else
		timeline_event(r->b->tl, clock_now_ns(), "verdict", "%s%s: %s",
		               verdict_name(res->verdict),
		               res->not_injected ? " (not_injected)" : "", res->reason);
}

/* A run that did not pass keeps the disk its last fault left (power off). */
static void keep_disk(struct run *r)
{
	char why[400] = "";
	int rc;

	if (!r->spec->keep_disk || r->res->pass || r->res->interrupted)
		return;
	rc = power_keep_disk(&r->b->power, r->spec->keep_disk, why, sizeof(why));
	r->res->disk_kept = rc > 0;
	if (rc > 0)
		timeline_event(r->b->tl, clock_now_ns(), "note",
		               "the disk the board booted after its last fault is kept as %s "
		               "(hilctl reproduce boots it again)",
		               r->spec->keep_disk);
	else if (rc < 0 && rc != -EOPNOTSUPP)
		hil_warn("board \"%s\": run %d: cannot keep the disk its fault left: %s",
		         r->b->cfg->name, r->spec->run_id, why[0] ? why : strerror(-rc));
}

int engine_run(struct engine_ctx *ctx, const struct run_spec *spec, struct run_result *res)
{
	struct run r = {.ctx = ctx, .b = ctx->board, .spec = spec, .res = res};
	int64_t t_start = clock_now_ns();
	struct timeline *tl;
	int rc;

	memset(res, 0, sizeof(*res));
	tl = timeline_open(spec->timeline_path, r.b->cfg->name);
	board_set_timeline(r.b, tl);
	r.b->power.seed = spec->seed;
	res->t0_ns = timeline_t0(tl);
	timeline_event(tl, t_start, "run", "scenario %s, point %s, seed %llu", spec->sc->name,
	               spec->point, spec->seed);
	if (ctx->server) {
		server_set_timeline(ctx->server, tl);
		server_set_fault(ctx->server, &(struct server_fault){.kind = SERVER_FAULT_NONE});
	}
	struct server_stats before = {0};

	if (ctx->server)
		server_get_stats(ctx->server, &before);
	rc = setup_oracle(&r);
	if (rc == 0) {
		/* Every run starts from power off and a fresh image. */
		rc = board_power_off(r.b);
		if (rc < 0)
			engine_infra(&r, rc, "power off failed: %s", strerror(-rc));
		r.b->power.want_write_log = spec->sc->write_cut_step != 0;
		if (rc == 0 && (rc = power_prepare(&r.b->power)) < 0)
			engine_infra(&r, rc, "preparing the board failed: %s", strerror(-rc));
		/* Back to the baseline image, when the board has a storage mux
		 * (before a hook's own disk, which must win). */
		if (rc == 0 &&
		    (rc = restore_before_run(r.b, spec->sc->old_version, &res->restore)) < 0) {
			res->board_lost = true;
			engine_infra(&r, rc, "%s; the board takes no more runs",
			             res->restore.error);
		}
		if (rc == 0 && spec->prepare && (rc = spec->prepare(spec->hook_arg, r.b)) < 0)
			engine_infra(&r, rc, "preparing the disk failed: %s", strerror(-rc));
		if (rc == 0)
			rc = engine_server_setup(&r);
	}
	bool restored = false;

	if (rc == 0 && spec->sc->snapshot) {
		rc = engine_snapshot_restore(&r);
		restored = rc == 1;
		rc = rc < 0 ? rc : 0;
	}
	for (size_t i = 0; rc == 0 && i < spec->sc->n_steps; i++) {
		const struct step *st = &spec->sc->steps[i];
		/* The saved machine stands for the setup steps; the update
		 * server is the host's and still has to start. */
		if (restored && i < spec->sc->first_send && st->kind != STEP_SERVE)
			continue;
		if (spec->sc->snapshot && !restored && i == spec->sc->first_send)
			engine_snapshot_save(&r);
		r.t_last_step = clock_now_ns();
		rc = engine_step(&r, st);
		if (stop_requested())
			rc = -EINTR;
	}
	if (rc == 0)
		rc = judge(&r);
	if (rc == 0 && ctx->server) {
		/* A bundle the board asked for and did not get (404, 403) is a lab
		 * problem: the update path was never tested. */
		struct server_stats after;
		server_get_stats(ctx->server, &after);
		if (after.responses_error > before.responses_error)
			engine_infra(
			    &r, -ENOENT,
			    "the update server refused %llu request(s) (missing bundle? see the "
			    "server lines of the timeline)",
			    (unsigned long long)(after.responses_error - before.responses_error));
	}
	if (rc == 0)
		check_server_asked(&r);
	finish(&r, rc, t_start);
	if (res->interrupted || res->board_lost)
		r.b->last_run.known = false;
	else
		restore_after_run(r.b, res->verdict, spec->sc->old_version);
	/* Leave the board in a known state whatever happened. */
	rc = board_power_off(r.b);
	if (rc < 0) {
		res->power_lost = true;
		hil_error("board \"%s\": could not power off after run %d (%s): it may still be "
		          "on; check its power control, then hilctl power %s off",
		          r.b->cfg->name, spec->run_id, strerror(-rc), r.b->cfg->name);
		if (res->verdict == VERDICT_INFRA_ERROR)
			snprintf(res->reason + strlen(res->reason),
			         sizeof(res->reason) - strlen(res->reason),
			         "; power off after the run failed too: the board may still be on");
	} else {
		keep_disk(&r);
	}
	oracle_free(r.oracle);
	pcre2_code_free(r.phase_re);
	pcre2_match_data_free(r.phase_md);
	return 0;
}

void engine_ctx_close(struct engine_ctx *ctx)
{
	server_stop(ctx->server);
	ctx->server = NULL;
}
