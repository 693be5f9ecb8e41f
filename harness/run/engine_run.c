/* harness/run/engine_run.c — the steps of a run, its faults at their trigger
 * points, and the oracle's recovery ladder until a verdict. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/lab/board.h"
#include "lib/cfg.h"
#include "lib/clock.h"
#include "harness/run/engine_int.h"
#include "harness/run/expect.h"
#include "lib/log.h"
#include "lib/num.h"
#include "harness/lab/network.h"
#include "harness/server/server.h"
#include "lib/timeline.h"

#define DEFAULT_STEP_TIMEOUT (60 * NS_PER_S)
#define DEFAULT_TRIGGER_TIMEOUT (120 * NS_PER_S)
#define DEFAULT_OFF_TIME (500 * NS_PER_MS)

void engine_start_judging(struct run *r, int64_t t)
{
	r->judging = true;
	oracle_start(r->oracle, t);
}

void engine_start_judging_after_power(struct run *r, int64_t t)
{
	r->judging = true;
	oracle_power_restored(r->oracle, t);
}

static int power_on(struct run *r)
{
	int rc = board_power_on(r->b, clock_now_ns() + 30 * NS_PER_S);

	r->line_len = 0;
	if (rc < 0 && r->b->powered && r->b->has_console && r->b->console.fd < 0)
		return engine_infra(r, rc,
		                    "the console did not come up after power on (%s): see the "
		                    "error above",
		                    strerror(-rc));
	return rc < 0 ? engine_infra(r, rc, "power on failed (%s driver): %s",
	                             r->b->power.ops->name, strerror(-rc))
	              : 0;
}

static int power_off(struct run *r)
{
	int rc = board_power_off(r->b);

	return rc < 0 ? engine_infra(r, rc, "power off failed (%s driver): %s",
	                             r->b->power.ops->name, strerror(-rc))
	              : 0;
}

static int wait_off_time(struct run *r, const char *spec, int64_t def)
{
	int64_t off;
	int rc;

	if (engine_expand_duration(r, spec, def, &off) < 0)
		return engine_infra(r, -EINVAL, "bad off_time");
	rc = engine_pump(r, clock_now_ns() + off, NULL, NULL, NULL, false);
	return rc < 0 ? rc : 0;
}

static int step_power(struct run *r, const struct step *st)
{
	int rc;

	if (!strcmp(st->arg, "on"))
		return power_on(r);
	rc = power_off(r);
	if (rc < 0 || !strcmp(st->arg, "off"))
		return rc;
	rc = wait_off_time(r, st->off_time, 1000 * NS_PER_MS);
	return rc < 0 ? rc : power_on(r);
}

static int step_expect(struct run *r, const struct step *st)
{
	char pats_buf[8][512];
	const char *pats[8];
	size_t n = st->n_patterns < 8 ? st->n_patterns : 8;
	struct expect *e;
	struct expect_match m;
	int64_t timeout, t;
	int rc;

	for (size_t i = 0; i < n; i++) {
		if (engine_expand(r, st->patterns[i], pats_buf[i], sizeof(pats_buf[i])) < 0)
			return engine_infra(r, -EINVAL, "bad pattern");
		pats[i] = pats_buf[i];
	}
	if (engine_expand_duration(r, st->timeout, DEFAULT_STEP_TIMEOUT, &timeout) < 0)
		return engine_infra(r, -EINVAL, "bad timeout");
	e = expect_new(pats, n);
	if (!e)
		return engine_infra(r, -EINVAL, "bad pattern");
	rc = engine_pump(r, clock_now_ns() + timeout, e, &m, &t, false);
	expect_free(e);
	if (rc == 1) {
		timeline_event(r->b->tl, t, "marker", "step %d: matched \"%.100s\"",
		               (int)(st - r->spec->sc->steps) + 1, pats[m.index]);
		return 0;
	}
	if (rc < 0)
		return rc;
	timeline_event(r->b->tl, clock_now_ns(), "note", "step %d: no match within %.0f s",
	               (int)(st - r->spec->sc->steps) + 1, (double)timeout / NS_PER_S);
	/* Before anything was sent to the board this is the setup failing,
	 * not the update: the board never reached the state the scenario
	 * starts from. After, the oracle judges what the board did. */
	if (!r->judging && !r->sent)
		return engine_infra(r, -ETIMEDOUT,
		                    "precondition failed: \"%.80s\" not seen within %.0f s",
		                    pats[0], (double)timeout / NS_PER_S);
	return 0;
}

/* The address this host has on the board's network (checked at lab load):
 * vars: server_bind, else the campaign's, else loopback. */
static const char *server_bind_of(struct run *r)
{
	const char *bind_var = NULL;

	if (cfg_get_str(r->b->cfg->vars, "server_bind", false, &bind_var) == 0 && bind_var)
		return bind_var;
	return r->ctx->server_bind ? r->ctx->server_bind : "127.0.0.1";
}

static int step_serve(struct run *r, const struct step *st)
{
	const char *bundles = NULL, *port_text = NULL, *bind;
	long long port = 0;
	int err;

	if (r->ctx->server)
		return 0;
	/* A real board reaches the server through a fixed port (a firewall
	 * rule, a netboot config): vars: server_port. 0 or none: any free. */
	if (cfg_get_str(r->b->cfg->vars, "server_port", false, &port_text) < 0)
		return engine_infra(r, -EINVAL, "bad server_port");
	if (port_text) {
		if (num_parse_ll(port_text, 0, 65535, &port) < 0) {
			hil_error("board \"%s\": vars: server_port \"%s\" is not a port (0-65535)",
			          r->b->cfg->name, port_text);
			return engine_infra(r, -EINVAL, "bad server_port \"%.40s\"", port_text);
		}
	}
	if (cfg_get_str(r->b->cfg->vars, "bundles", false, &bundles) < 0 || !bundles) {
		hil_error("board \"%s\": a serve: step needs vars: bundles: DIR in the lab file",
		          r->b->cfg->name);
		return engine_infra(r, -EINVAL, "no bundles directory for the update server");
	}
	bind = server_bind_of(r);
	{
		char *root = lab_path(r->b->lab, bundles);
		r->ctx->server =
		    server_start(bind, (uint16_t)port, root ? root : bundles, r->b->tl);
		err = errno;
		free(root);
	}
	if (!r->ctx->server)
		return engine_infra(r, -err, "the update server could not start on %s:%lld: %s%s",
		                    bind, port, strerror(err),
		                    err == EADDRINUSE ? " (another program holds the port: vars: "
		                                        "server_port in the lab file)"
		                                      : "");
	return 0;
}

int engine_server_setup(struct run *r)
{
	struct power *p = &r->b->power;
	const char *host = "127.0.0.1";
	int rc;

	memset(&p->server, 0, sizeof(p->server));
	for (size_t i = 0; !r->ctx->server && i < r->spec->sc->n_steps; i++)
		if (r->spec->sc->steps[i].kind == STEP_SERVE) {
			if ((rc = step_serve(r, &r->spec->sc->steps[i])) < 0)
				return rc;
			break;
		}
	if (!r->ctx->server)
		return 0;
	cfg_get_str(r->b->cfg->vars, "server_host", false, &host);
	snprintf(p->server.guest_host, sizeof(p->server.guest_host), "%s", host);
	snprintf(p->server.host, sizeof(p->server.host), "%s", server_bind_of(r));
	p->server.guest_port = p->server.host_port = server_port(r->ctx->server);
	return 0;
}

#define WRITE_POLL_NS (2 * NS_PER_MS)

/* write: N after the trigger: the cut comes right after the board disk's
 * Nth write from here (the driver counts them since power on), or -N: N
 * writes back, a cut placed in the past (the disk is rebuilt from its write
 * log, so the board's later writes never happened). Sets the power's
 * cut_after_write; 1, or 0 when the disk never got that far (not injected). */
static int write_trigger(struct run *r, const struct fault_spec *f, struct fault_result *fr,
                         int64_t timeout, int64_t *t_fire)
{
	struct power *p = &r->b->power;
	int64_t deadline = clock_now_ns() + timeout;
	uint64_t seen, target;
	char buf[64];
	long long n;
	size_t len = strlen(fr->trigger);
	int rc;

	if (engine_expand(r, f->write, buf, sizeof(buf)) < 0)
		return engine_infra(r, -EINVAL, "bad write");
	if (!scenario_write_number(buf, &n))
		return engine_infra(r, -EINVAL,
		                    "write: \"%s\" is not a write number (N or -N, not 0)", buf);
	rc = power_disk_writes(p, &seen);
	if (rc == -EOPNOTSUPP)
		return engine_infra(r, rc,
		                    "a power cut at a disk write needs a board whose power "
		                    "driver counts its disk's writes (qemu); this one's is %s",
		                    p->ops->name);
	if (rc < 0)
		return engine_infra(r, rc, "cannot count the disk's writes: see the error above");
	snprintf(fr->trigger + len, sizeof(fr->trigger) - len, ", write %lld", n);
	if (n < 0 && (uint64_t)-n >= seen) {
		timeline_event(r->b->tl, clock_now_ns(), "note",
		               "no cut %lld writes back: the disk had made %llu since power on", -n,
		               (unsigned long long)seen);
		return 0;
	}
	target = n < 0 ? seen - (uint64_t)-n : seen + (uint64_t)n;
	while (seen < target) {
		if (clock_now_ns() >= deadline) {
			timeline_event(r->b->tl, clock_now_ns(), "note",
			               "the disk made %llu of the %lld writes after the trigger",
			               (unsigned long long)(seen + (uint64_t)n - target), n);
			return 0;
		}
		int64_t wake = clock_now_ns() + WRITE_POLL_NS;
		rc = engine_pump(r, wake < deadline ? wake : deadline, NULL, NULL, NULL, false);
		if (rc < 0)
			return rc;
		rc = power_disk_writes(p, &seen);
		if (rc < 0)
			return engine_infra(r, rc,
			                    "cannot count the disk's writes: see the error above");
	}
	*t_fire = clock_now_ns();
	len = strlen(fr->trigger);
	snprintf(fr->trigger + len, sizeof(fr->trigger) - len, " (#%llu of the disk)",
	         (unsigned long long)target);
	timeline_event(
	    r->b->tl, *t_fire, "note",
	    "power cut at disk write #%llu since power on (%llu seen now): the disk keeps "
	    "no later write",
	    (unsigned long long)target, (unsigned long long)seen);
	p->cut_after_write = target;
	return 1;
}

/* Wait for the fault's trigger. Returns 1 with *t_fire set, 0 when the
 * trigger never came (the fault is not injected), <0 on failure. */
static int wait_trigger(struct run *r, const struct fault_spec *f, struct fault_result *fr,
                        int64_t *t_fire)
{
	int64_t timeout, delay, t;
	char marker[512];
	int rc;

	if (engine_expand_duration(r, f->timeout, DEFAULT_TRIGGER_TIMEOUT, &timeout) < 0 ||
	    engine_expand_duration(r, f->delay, 0, &delay) < 0)
		return engine_infra(r, -EINVAL, "bad fault timing");
	if (f->marker) {
		if (engine_expand(r, f->marker, marker, sizeof(marker)) < 0)
			return engine_infra(r, -EINVAL, "bad marker");
		snprintf(fr->trigger, sizeof(fr->trigger), "marker '%.120s' + %.3f s", marker,
		         (double)delay / NS_PER_S);
		rc = engine_expect_one(r, marker, timeout, &t);
		if (rc <= 0)
			return rc;
		timeline_event(r->b->tl, t, "marker", "fault trigger: %.150s", marker);
	} else if (f->after) {
		int64_t after;
		if (engine_expand_duration(r, f->after, 0, &after) < 0)
			return engine_infra(r, -EINVAL, "bad after");
		t = r->t_last_step + after;
		snprintf(fr->trigger, sizeof(fr->trigger), "%.3f s after step",
		         (double)after / NS_PER_S);
	} else {
		t = clock_now_ns();
		snprintf(fr->trigger, sizeof(fr->trigger), "immediately");
	}
	if (f->write) {
		/* Count from the trigger point (after: a time still to come). */
		rc = engine_pump(r, t, NULL, NULL, NULL, false);
		return rc < 0 ? rc : write_trigger(r, f, fr, timeout, t_fire);
	}
	*t_fire = t + delay;
	rc = engine_pump(r, *t_fire, NULL, NULL, NULL, false);
	return rc < 0 ? rc : 1;
}

static int fault_power_cut(struct run *r, const struct fault_spec *f, struct fault_result *fr,
                           int64_t t_fire)
{
	int rc = power_off(r);
	int64_t t_done = clock_now_ns();

	if (rc < 0)
		return rc;
	fr->latency_ns = (r->b->power.t_stopped_ns ? r->b->power.t_stopped_ns : t_done) - t_fire;
	timeline_event(r->b->tl, t_done, "fault", "power cut (%s), %lld us after the trigger point",
	               fr->trigger, (long long)(fr->latency_ns / 1000));
	rc = wait_off_time(r, f->off_time, DEFAULT_OFF_TIME);
	if (rc < 0)
		return rc;
	r->b->power.fault_disk = true; /* the disk this power on boots: kept if the run fails */
	rc = power_on(r);
	r->b->power.fault_disk = false;
	if (rc == 0)
		engine_start_judging_after_power(r, clock_now_ns());
	return rc;
}

/* repeat: N: after each cut, wait for the marker again and cut again. The
 * repeats end when until: comes, or no marker within the trigger timeout
 * (the board stopped booting that way: the oracle judges); the marker once
 * more after N cuts is boot_loop: the board never fell back. */
static int repeat_cuts(struct run *r, const struct fault_spec *f, struct fault_result *fr)
{
	char marker[512], until[512];
	const char *pats[2] = {marker, until};
	struct expect_match m;
	struct expect *e;
	int64_t timeout, delay, t;
	int rc, cuts = 1;
	size_t len;

	if (engine_expand_duration(r, f->timeout, DEFAULT_TRIGGER_TIMEOUT, &timeout) < 0 ||
	    engine_expand_duration(r, f->delay, 0, &delay) < 0 ||
	    engine_expand(r, f->marker, marker, sizeof(marker)) < 0 ||
	    (f->until && engine_expand(r, f->until, until, sizeof(until)) < 0))
		return engine_infra(r, -EINVAL, "bad repeat");
	e = expect_new(pats, f->until ? 2 : 1);
	if (!e)
		return engine_infra(r, -EINVAL, "bad repeat");
	for (;;) {
		rc = engine_pump(r, clock_now_ns() + timeout, e, &m, &t, false);
		if (rc <= 0) {
			if (rc == 0)
				timeline_event(r->b->tl, clock_now_ns(), "note",
				               "repeat: no trigger within %.0f s after cut %d",
				               (double)timeout / NS_PER_S, cuts);
			break;
		}
		if (m.index == 1) {
			timeline_event(r->b->tl, t, "marker", "repeat ends after cut %d: %.150s",
			               cuts, m.text);
			break;
		}
		if (cuts >= f->repeat) {
			char what[400];
			snprintf(what, sizeof(what),
			         "the fault's trigger came again after %d power cuts (repeat: %d): "
			         "the board keeps retrying instead of falling back (\"%.120s\")",
			         cuts, f->repeat, m.text);
			oracle_boot_loop(r->oracle, t, what);
			break;
		}
		timeline_event(r->b->tl, t, "marker", "fault trigger again (cut %d of at most %d)",
		               cuts + 1, f->repeat);
		rc = engine_pump(r, t + delay, NULL, NULL, NULL, false);
		if (rc < 0 || (rc = fault_power_cut(r, f, fr, t + delay)) < 0)
			break;
		cuts++;
		expect_reset(e);
	}
	expect_free(e);
	len = strlen(fr->trigger);
	snprintf(fr->trigger + len, sizeof(fr->trigger) - len, ", %d cut%s", cuts,
	         cuts == 1 ? "" : "s");
	return rc < 0 ? rc : 0;
}

static int fault_network(struct run *r, const struct fault_spec *f, struct fault_result *fr)
{
	struct network net;
	int64_t down;
	int rc = network_open(&net, r->b);

	if (rc < 0)
		return engine_infra(r, rc, "network control failed to open");
	rc = network_set(&net, false);
	fr->latency_ns = -1;
	if (rc == 0) {
		if (!r->judging)
			engine_start_judging(r, clock_now_ns());
		if (f->until) {
			char marker[512];
			int64_t t;
			if (engine_expand(r, f->until, marker, sizeof(marker)) == 0)
				rc = engine_expect_one(r, marker, DEFAULT_TRIGGER_TIMEOUT, &t);
			rc = rc < 0 ? rc : 0;
		} else if (engine_expand_duration(r, f->down, 0, &down) == 0) {
			rc = engine_pump(r, clock_now_ns() + down, NULL, NULL, NULL, false);
		}
		if (rc >= 0)
			rc = network_set(&net, true);
	}
	network_close(&net);
	return rc < 0 ? engine_infra(r, rc, "network fault failed: %s", strerror(-rc)) : 0;
}

static int fault_server(struct run *r, const struct fault_spec *f, struct fault_result *fr)
{
	static const char *const names[] = {"stall", "close", "reset", "throttle", "corrupt"};
	static const enum server_fault_kind kinds[] = {SERVER_FAULT_STALL, SERVER_FAULT_CLOSE_AFTER,
	                                               SERVER_FAULT_RESET_AFTER,
	                                               SERVER_FAULT_THROTTLE, SERVER_FAULT_CORRUPT};
	struct server_fault sf = {0};
	char buf[64];

	if (!r->ctx->server)
		return engine_infra(r, -EINVAL, "a server fault needs a serve: step before it");
	for (size_t i = 0; i < 5; i++)
		if (!strcmp(f->server, names[i]))
			sf.kind = kinds[i];
	if (f->at_byte && engine_expand(r, f->at_byte, buf, sizeof(buf)) == 0)
		sf.at_byte = strtoull(buf, NULL, 0);
	if (f->rate && engine_expand(r, f->rate, buf, sizeof(buf)) == 0)
		sf.rate_bps = strtoull(buf, NULL, 0);
	if (engine_expand_duration(r, f->stall, 0, &sf.stall_ns) < 0)
		return engine_infra(r, -EINVAL, "bad stall");
	sf.path_glob = f->path ? f->path : "*";
	snprintf(fr->trigger, sizeof(fr->trigger), "server %s at byte %llu", f->server,
	         (unsigned long long)sf.at_byte);
	fr->latency_ns = -1;
	if (server_set_fault(r->ctx->server, &sf) < 0)
		return engine_infra(r, -EINVAL, "server fault refused");
	if (!r->judging)
		engine_start_judging(r, clock_now_ns());
	return 0;
}

static int fault_hang(struct run *r, const struct fault_spec *f, struct fault_result *fr)
{
	char line[512], cmd[600];

	if (f->command) {
		if (engine_expand(r, f->command, line, sizeof(line)) < 0)
			return engine_infra(r, -EINVAL, "bad command");
		snprintf(cmd, sizeof(cmd), "%s", line);
	} else {
		if (engine_expand(r, f->process, line, sizeof(line)) < 0)
			return engine_infra(r, -EINVAL, "bad process");
		snprintf(cmd, sizeof(cmd), "kill -STOP $(pidof %s)", line);
	}
	fr->latency_ns = -1;
	timeline_event(r->b->tl, clock_now_ns(), "fault", "hang: %s", cmd);
	if (!r->judging)
		engine_start_judging(r, clock_now_ns());
	return engine_send_line(r, cmd);
}

static int step_fault(struct run *r, const struct step *st)
{
	const struct fault_spec *f = &st->fault;
	struct fault_result *fr;
	int64_t t_fire = 0;
	int rc;

	if (r->res->n_faults >= RUN_MAX_FAULTS)
		return engine_infra(r, -E2BIG, "more than %d faults in one run", RUN_MAX_FAULTS);
	fr = &r->res->faults[r->res->n_faults++];
	fr->kind = f->kind;
	fr->optional = f->optional;
	fr->latency_ns = -1;
	if (f->kind != FAULT_SERVER) {
		rc = wait_trigger(r, f, fr, &t_fire);
		if (rc <= 0) {
			if (rc == 0)
				timeline_event(r->b->tl, clock_now_ns(), "note",
				               "fault not injected: its trigger never came (%s)",
				               fr->trigger);
			return rc;
		}
	}
	fr->injected = true;
	fr->at_s = (double)(clock_now_ns() - timeline_t0(r->b->tl)) / NS_PER_S;
	snprintf(fr->phase, sizeof(fr->phase), "%s", r->phase[0] ? r->phase : "-");
	switch (f->kind) {
	case FAULT_POWER_CUT:
		rc = fault_power_cut(r, f, fr, t_fire);
		return rc < 0 || f->repeat <= 1 ? rc : repeat_cuts(r, f, fr);
	case FAULT_NETWORK:
		return fault_network(r, f, fr);
	case FAULT_SERVER:
		return fault_server(r, f, fr);
	case FAULT_HANG:
	default:
		return fault_hang(r, f, fr);
	}
}

/* ---- snapshot: before-update ---- */

/* What the saved machine stands for: the scenario and its setup steps as
 * this run expands them (the driver adds its command line and base images). */
static int snapshot_key(struct run *r, char *key, size_t size)
{
	const struct scenario *sc = r->spec->sc;
	char text[512];
	size_t len = (size_t)snprintf(key, size, "%s", sc->name);

	for (size_t i = 0; i < sc->first_send && len < size; i++) {
		const struct step *st = &sc->steps[i];
		if (st->kind == STEP_SERVE)
			continue; /* the host's server, not the machine */
		len += (size_t)snprintf(key + len, size - len, "\n%d %s %s", (int)st->kind,
		                        st->arg ? st->arg : "", st->timeout ? st->timeout : "");
		for (size_t j = 0; j < st->n_patterns && len < size; j++) {
			if (engine_expand(r, st->patterns[j], text, sizeof(text)) < 0)
				return -EINVAL;
			len += (size_t)snprintf(key + len, size - len, " %s", text);
		}
	}
	return len < size ? 0 : -E2BIG;
}

int engine_snapshot_restore(struct run *r)
{
	char key[4096];
	int rc = snapshot_key(r, key, sizeof(key));

	if (rc < 0)
		return engine_infra(r, rc, "snapshot: the setup steps do not fit a key");
	rc = power_snapshot(&r->b->power, POWER_SNAPSHOT_RESTORE, key);
	if (rc == -EOPNOTSUPP)
		return engine_infra(
		    r, rc,
		    "snapshot: before-update needs a board whose power driver can save "
		    "the machine (qemu); %s's cannot",
		    r->b->cfg->name);
	if (rc < 0)
		return engine_infra(r, rc, "snapshot: the saved machine could not be restored");
	if (rc == 0)
		return 0;
	rc = power_on(r);
	return rc < 0 ? rc : 1;
}

void engine_snapshot_save(struct run *r)
{
	char key[4096];

	/* A board that cannot be saved still runs: every run boots. */
	if (snapshot_key(r, key, sizeof(key)) < 0 ||
	    power_snapshot(&r->b->power, POWER_SNAPSHOT_SAVE, key) < 0)
		hil_warn("board \"%s\": no snapshot saved; the next run boots again",
		         r->b->cfg->name);
}

/* The board was just told the server's address (a send with ${server}):
 * keep the word of the line that holds it, and how many requests the server
 * had answered, so a board that never asks is told apart from one that
 * asked and failed (engine_judge.c). */
static void note_told_url(struct run *r, const char *line)
{
	char addr[128];
	const char *host = "127.0.0.1", *at, *start, *end;
	struct server_stats stats;

	if (!r->ctx->server || r->told_url[0])
		return;
	cfg_get_str(r->b->cfg->vars, "server_host", false, &host);
	snprintf(addr, sizeof(addr), "%s:%u", host, server_port(r->ctx->server));
	at = strstr(line, addr);
	if (!at)
		return;
	for (start = at; start > line && !strchr(" \t'\"", start[-1]); start--)
		;
	for (end = at; *end && !strchr(" \t'\"", *end); end++)
		;
	snprintf(r->told_url, sizeof(r->told_url), "%.*s", (int)(end - start), start);
	server_get_stats(r->ctx->server, &stats);
	r->requests_at_send = stats.requests;
}

int engine_step(struct run *r, const struct step *st)
{
	char line[1024];
	int64_t wait;
	int rc;

	switch (st->kind) {
	case STEP_POWER:
		return step_power(r, st);
	case STEP_EXPECT:
		return step_expect(r, st);
	case STEP_SEND:
		if (engine_expand(r, st->arg, line, sizeof(line)) < 0)
			return engine_infra(r, -EINVAL, "bad send line");
		r->sent = true;
		if (strstr(st->arg, "${server}"))
			note_told_url(r, line);
		return engine_send_line(r, line);
	case STEP_WAIT:
		if (engine_expand_duration(r, st->arg, 0, &wait) < 0)
			return engine_infra(r, -EINVAL, "bad wait");
		rc = engine_pump(r, clock_now_ns() + wait, NULL, NULL, NULL, false);
		return rc < 0 ? rc : 0;
	case STEP_SERVE:
		return step_serve(r, st);
	case STEP_RECOVER:
		rc = power_off(r);
		if (rc == 0)
			rc = wait_off_time(r, st->off_time, 1000 * NS_PER_MS);
		if (rc == 0)
			rc = power_on(r);
		if (rc == 0)
			engine_start_judging_after_power(r, clock_now_ns());
		return rc;
	case STEP_FAULT:
	default:
		return step_fault(r, st);
	}
}
