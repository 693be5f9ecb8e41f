/* harness/run/engine.c — what every step of a run uses: ${name} expansion,
 * console lines to the oracle, and the one poll() loop over the console and
 * the update server (pump). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/lab/board.h"
#include "lib/cfg.h"
#include "harness/cli/cli.h"
#include "lib/clock.h"
#include "harness/run/engine.h"
#include "harness/run/expect.h"
#include "lib/log.h"
#include "harness/server/server.h"
#include "lib/timeline.h"
#include "harness/run/engine_int.h"
#include "lib/stop.h"

/* ---- ${name} expansion ---- */

static const char *lookup(struct run *r, const char *name, char *tmp, size_t size)
{
	const struct cfg_node *v;

	if (!strcmp(name, "point"))
		return r->spec->point;
	if (!strcmp(name, "board"))
		return r->b->cfg->name;
	if (!strcmp(name, "seed"))
		return snprintf(tmp, size, "%llu", r->spec->seed), tmp;
	if (!strcmp(name, "run"))
		return snprintf(tmp, size, "%d", r->spec->run_id), tmp;
	if (!strcmp(name, "server")) {
		const char *host = "127.0.0.1";
		cfg_get_str(r->b->cfg->vars, "server_host", false, &host);
		if (!r->ctx->server)
			return NULL;
		return snprintf(tmp, size, "%s:%u", host, server_port(r->ctx->server)), tmp;
	}
	v = cfg_get(r->b->cfg->vars, name);
	return v && v->type == CFG_SCALAR ? v->value : NULL;
}

int engine_infra(struct run *r, int rc, const char *fmt, ...)
{
	va_list ap;

	if (!r->infra[0]) {
		va_start(ap, fmt);
		vsnprintf(r->infra, sizeof(r->infra), fmt, ap);
		va_end(ap);
	}
	return rc < 0 ? rc : -EIO;
}

int engine_expand(struct run *r, const char *in, char *out, size_t size)
{
	size_t o = 0;

	for (const char *p = in; *p;) {
		const char *val;
		char name[64], tmp[128];
		const char *end;

		if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
			/* $${ is a literal ${, for shell lines sent to the board */
			if (o + 2 >= size)
				return -ENAMETOOLONG;
			out[o++] = '$';
			out[o++] = '{';
			p += 3;
			continue;
		}
		if (p[0] != '$' || p[1] != '{') {
			if (o + 1 >= size)
				return -ENAMETOOLONG;
			out[o++] = *p++;
			continue;
		}
		end = strchr(p, '}');
		if (!end || (size_t)(end - p - 2) >= sizeof(name)) {
			hil_error("\"%s\": unterminated ${", in);
			return -EINVAL;
		}
		memcpy(name, p + 2, (size_t)(end - p - 2));
		name[end - p - 2] = '\0';
		val = lookup(r, name, tmp, sizeof(tmp));
		if (!val) {
			hil_error(
			    "\"%s\": ${%s} is not known here (point, board, seed, run, server, "
			    "or the board's vars:)%s",
			    in, name,
			    strcmp(name, "server") ? "" : "; a serve: step must come first");
			return -EINVAL;
		}
		if (o + strlen(val) >= size)
			return -ENAMETOOLONG;
		memcpy(out + o, val, strlen(val));
		o += strlen(val);
		p = end + 1;
	}
	out[o] = '\0';
	return 0;
}

int engine_expand_duration(struct run *r, const char *in, int64_t def, int64_t *out)
{
	char buf[128];

	*out = def;
	if (!in)
		return 0;
	if (engine_expand(r, in, buf, sizeof(buf)) < 0)
		return -EINVAL;
	if (cfg_parse_duration(buf, out) < 0) {
		hil_error("scenario %s: \"%s\" (from \"%s\") is not a duration", r->spec->sc->name,
		          buf, in);
		return -EINVAL;
	}
	return 0;
}

/* ---- console lines ---- */

static void on_line(struct run *r, int64_t t, const char *line, size_t len)
{
	if (r->phase_re &&
	    pcre2_match(r->phase_re, (PCRE2_SPTR)line, len, 0, 0, r->phase_md, NULL) > 0) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->phase_md);
		int g = pcre2_substring_number_from_name(r->phase_re, (PCRE2_SPTR) "phase");
		if (g > 0 && ov[2 * g] != PCRE2_UNSET) {
			size_t n = ov[2 * g + 1] - ov[2 * g];
			if (n >= sizeof(r->phase))
				n = sizeof(r->phase) - 1;
			memcpy(r->phase, line + ov[2 * g], n);
			r->phase[n] = '\0';
		}
	}
	if (r->spec->on_line)
		r->spec->on_line(r->spec->hook_arg, t, line, len);
	/* Before judging the oracle only notes the first version probe. */
	if (r->oracle)
		oracle_line(r->oracle, t, line, len);
}

/* Returns how many lines this read completed. */
static int split_lines(struct run *r, int64_t t, const char *buf, size_t n)
{
	int lines = 0;

	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			size_t len = r->line_len;
			if (len && r->line[len - 1] == '\r')
				len--;
			on_line(r, t, r->line, len);
			r->line_len = 0;
			lines++;
		} else if (r->line_len < sizeof(r->line)) {
			r->line[r->line_len++] = buf[i];
		}
	}
	return lines;
}

/* ---- a console that goes away ---- */

/* A console may vanish with power (a USB-UART powered by the board) and
 * come back; with power on it has this long to come back before the run is
 * the lab's failure, not the board's. */
#define CONSOLE_RETURN_NS (10 * NS_PER_S)
#define CONSOLE_RETRY_NS (100 * NS_PER_MS)

/* "serial /dev/ttyUSB0", "tcp 127.0.0.1:7001", "qemu" for messages. */
static void console_name(const struct board *b, char *out, size_t size)
{
	const char *type = "?", *where = NULL, *host = "127.0.0.1", *port = NULL;

	cfg_get_str(b->cfg->console, "type", false, &type);
	cfg_get_str(b->cfg->console, "path", false, &where);
	if (!where)
		cfg_get_str(b->cfg->console, "usb_serial", false, &where);
	if (!where)
		cfg_get_str(b->cfg->console, "socket", false, &where);
	cfg_get_str(b->cfg->console, "host", false, &host);
	cfg_get_str(b->cfg->console, "port", false, &port);
	if (port)
		snprintf(out, size, "%s %s:%s", type, host, port);
	else
		snprintf(out, size, "%s%s%s", type, where ? " " : "", where ? where : "");
}

/* A console that follows power (QEMU's socket) ends because the machine is
 * gone: if the driver says off, power went away under the harness (QEMU
 * killed from outside). 1 (and the run's infra error set) when so. */
static int power_went_off(struct run *r, int *rc)
{
	struct board *b = r->b;
	enum power_state st = POWER_UNKNOWN;
	char what[200];

	if (!b->console.ops->follows_power || power_get(&b->power, &st) < 0 || st != POWER_OFF)
		return 0;
	console_name(b, what, sizeof(what));
	*rc = engine_infra(r, -EPIPE,
	                   "power went off under the harness: the %s driver says off and console "
	                   "%s closed (%s)",
	                   b->power.ops->name, what,
	                   strcmp(b->power.ops->name, "qemu")
	                       ? "power switched outside hilctl?"
	                       : "QEMU killed or crashed outside hilctl?");
	return 1;
}

/* The stream ended. Otherwise than power gone, the console may come back
 * (console_check). */
static int console_vanished(struct run *r)
{
	int rc;

	if (power_went_off(r, &rc))
		return rc;
	r->console_gone_ns = 0;
	return 0;
}

/* With power on and no console, try to reconnect every CONSOLE_RETRY_NS;
 * past CONSOLE_RETURN_NS it is an infrastructure error. Lowers *wake to the
 * next attempt. */
static int console_check(struct run *r, int64_t *wake)
{
	struct board *b = r->b;
	struct console *c = &b->console;
	int64_t now = clock_now_ns();
	char what[200];

	if (!b->has_console || c->fd >= 0 || !b->powered) {
		r->console_gone_ns = 0;
		return 0;
	}
	if (!r->console_gone_ns) {
		r->console_gone_ns = now;
		r->console_retry_ns = now;
	}
	if (now >= r->console_retry_ns) {
		/* One attempt: the deadline is now, nothing here waits. */
		if (console_connect(c, now) == 0) {
			r->console_gone_ns = 0;
			return 0;
		}
		r->console_retry_ns = now + CONSOLE_RETRY_NS;
	}
	if (now - r->console_gone_ns >= CONSOLE_RETURN_NS) {
		int rc;

		/* A killed QEMU may not have been reaped when its socket
		 * closed: ask the driver again before blaming the console. */
		if (power_went_off(r, &rc))
			return rc;
		console_name(b, what, sizeof(what));
		return engine_infra(
		    r, -ENODEV,
		    "console %s vanished with the board powered on and did not come "
		    "back within %.0f s (adapter unplugged? ser2net stopped?)",
		    what, (double)CONSOLE_RETURN_NS / NS_PER_S);
	}
	if (r->console_retry_ns < *wake)
		*wake = r->console_retry_ns;
	return 0;
}

/* Read the console and serve HTTP until deadline. With e, stop at its
 * first match (1). With stop_on_line, return after any complete line (2).
 * Returns 0 at the deadline, <0 when the harness or lab failed. */
int engine_pump(struct run *r, int64_t deadline, struct expect *e, struct expect_match *m,
                int64_t *t_match, bool stop_on_line)
{
	struct console *c = &r->b->console;
	char buf[4096];
	int rc, lines;

	if (e && r->leftover_len) {
		size_t n = r->leftover_len;
		r->leftover_len = 0;
		rc = expect_feed(e, r->leftover, n, m);
		if (rc == 1) {
			*t_match = clock_now_ns();
			return 1;
		}
	}
	for (;;) {
		struct pollfd pfd[9];
		int nfd = 0, n_server = 0;
		int64_t wake = deadline;
		ssize_t n;
		int64_t t;

		if (stop_requested())
			return -EINTR;
		if (clock_now_ns() >= deadline)
			return 0;
		rc = console_check(r, &wake);
		if (rc < 0)
			return rc;
		if (c->fd >= 0)
			pfd[nfd++] = (struct pollfd){.fd = c->fd, .events = POLLIN};
		if (r->ctx->server) {
			int64_t sd = INT64_MAX;
			n_server = server_pollfds(r->ctx->server, pfd + nfd, 8, &sd);
			if (sd < wake)
				wake = sd;
		}
		rc = poll(pfd, (nfds_t)(nfd + n_server), clock_poll_ms(wake));
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (r->ctx->server)
			server_process(r->ctx->server, pfd + nfd, n_server);
		if (rc <= 0 || nfd == 0 || !pfd[0].revents)
			continue;
		n = console_read(c, buf, sizeof(buf), &t);
		if (n == -EPIPE) {
			rc = console_vanished(r);
			if (rc < 0)
				return rc;
			continue;
		}
		if (n <= 0)
			continue;
		lines = split_lines(r, t, buf, (size_t)n);
		if (e) {
			rc = expect_feed(e, buf, (size_t)n, m);
			if (rc == 1) {
				uint64_t after = expect_offset(e) - m->end_offset;
				if (after > sizeof(r->leftover))
					after = sizeof(r->leftover);
				memcpy(r->leftover, buf + n - (ssize_t)after, after);
				r->leftover_len = after;
				*t_match = t;
				return 1;
			}
		}
		/* A prompt after the line ("...committed=1\r\nrefdut# ") leaves
		 * a partial line behind: the oracle still has a new line to see. */
		if (stop_on_line && lines > 0)
			return 2;
	}
}

int engine_send_line(struct run *r, const char *line)
{
	int64_t deadline;
	int rc;

	/* A console that vanished gets its chance to come back first. */
	while (r->b->console.fd < 0 && r->b->powered && r->b->has_console) {
		rc = engine_pump(r, clock_now_ns() + CONSOLE_RETRY_NS, NULL, NULL, NULL, false);
		if (rc < 0)
			return rc;
	}
	deadline = clock_now_ns() + 5 * NS_PER_S;
	rc = console_write_all(&r->b->console, line, strlen(line), deadline);
	if (rc == 0)
		rc = console_write_all(&r->b->console, "\n", 1, deadline);
	if (rc < 0)
		snprintf(r->infra, sizeof(r->infra), "writing to the console failed: %s",
		         strerror(-rc));
	return rc;
}

int engine_expect_one(struct run *r, const char *pattern, int64_t timeout, int64_t *t_match)
{
	const char *pats[1] = {pattern};
	struct expect *e = expect_new(pats, 1);
	struct expect_match m;
	int rc;

	if (!e)
		return -EINVAL;
	rc = engine_pump(r, clock_now_ns() + timeout, e, &m, t_match, false);
	expect_free(e);
	return rc;
}
