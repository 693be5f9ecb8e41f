/* bench/cut_latency.c — trigger-to-cut latency of a QEMU board with hilctl's
 * own code (make bench-latency): power on (board_power_on: QEMU starts
 * paused, the console connects, cont), wait for the bootloader banner on the
 * console (board_expect, the same path a fault trigger takes), cut power
 * (board_power_off) and record power.t_stopped_ns - t_match, N times.
 *
 * t_match is when the read() that completed the match returned (what the
 * engine calls the trigger point); t_stopped_ns is what the driver says:
 * the moment QEMU reported the vCPUs stopped, or when set(off) returned for
 * a driver that cannot tell. Not a test: it prints what it measured.
 *
 *   cut_latency LAB BOARD N RAW.tsv [PATTERN]
 *
 * PATTERN defaults to the board's probes.banner. RAW.tsv gets one line per
 * trigger: latency to stopped, to set(off) returning, power on time, banner
 * time after power on, latency to the driver's call (power.t_requested_ns:
 * hilctl's own share of the cut) (ns). Exit 0 when all N triggers were measured. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/lab/board.h"
#include "lib/cfg.h"
#include "lib/clock.h"
#include "harness/run/expect.h"
#include "harness/lab/lab.h"
#include "lib/log.h"
#include "lib/stop.h"

/* board.c's neighbours in the archive may refer to the CLI's signal flag. */

#define ON_DEADLINE_NS (60 * NS_PER_S)
#define BANNER_DEADLINE_NS (30 * NS_PER_S)

struct sample {
	int64_t to_stopped, to_return, power_on, banner, to_request;
};

static void on_signal(int sig)
{
	stop_request(sig);
}

/* One trigger: on, banner, off. Returns 0 with *s filled, <0 on failure. */
static int one_trigger(struct board *b, struct expect *e, struct sample *s)
{
	struct expect_match m;
	int64_t t0 = clock_now_ns(), t_on, t_match = 0, t_ret;
	int rc = board_power_on(b, t0 + ON_DEADLINE_NS);

	if (rc < 0)
		return rc;
	t_on = clock_now_ns();
	expect_reset(e);
	rc = board_expect(b, e, t_on + BANNER_DEADLINE_NS, &m, &t_match);
	if (rc != 1) {
		board_power_off(b);
		fprintf(stderr, "cut_latency: no banner within %lld s\n",
		        (long long)(BANNER_DEADLINE_NS / NS_PER_S));
		return rc < 0 ? rc : -ETIMEDOUT;
	}
	rc = board_power_off(b);
	t_ret = clock_now_ns();
	if (rc < 0)
		return rc;
	s->to_stopped = b->power.t_stopped_ns - t_match;
	s->to_request = b->power.t_requested_ns - t_match;
	s->to_return = t_ret - t_match;
	s->power_on = t_on - t0;
	s->banner = t_match - t_on;
	return 0;
}

static const char *banner_pattern(const struct board *b, int argc, char **argv)
{
	const char *pat = NULL;

	if (argc > 5)
		return argv[5];
	if (b->cfg->probes && cfg_get_str(b->cfg->probes, "banner", false, &pat) == 0 && pat)
		return pat;
	return "^U-Boot 20\\d\\d";
}

int main(int argc, char **argv)
{
	struct board b;
	struct lab *lab;
	struct expect *e;
	const char *pat;
	FILE *raw;
	long n, done = 0;
	int rc;

	if (argc < 5) {
		fprintf(stderr, "usage: cut_latency LAB BOARD N RAW.tsv [PATTERN]\n");
		return 2;
	}
	n = strtol(argv[3], NULL, 10);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	lab = lab_load(argv[1]);
	if (!lab)
		return 2;
	rc = board_open(&b, lab, argv[2], NULL, 0);
	if (rc < 0) {
		lab_free(lab);
		return 3;
	}
	pat = banner_pattern(&b, argc, argv);
	e = expect_new(&pat, 1);
	raw = fopen(argv[4], "w");
	if (!e || !raw) {
		fprintf(stderr, "cut_latency: bad pattern or cannot write %s\n", argv[4]);
		rc = -EINVAL;
	}
	if (raw)
		fprintf(raw,
		        "to_stopped_ns\tto_return_ns\tpower_on_ns\tbanner_ns\tto_request_ns\n");
	/* Fresh overlays, as a campaign's run starts. */
	if (rc >= 0)
		rc = power_prepare(&b.power);
	for (; rc >= 0 && done < n && !stop_requested(); done++) {
		struct sample s;
		rc = one_trigger(&b, e, &s);
		/* The base image was rebuilt under us (make refdut in another
		 * shell): the banner does not care, start from fresh overlays. */
		if (rc == -ESTALE && power_prepare(&b.power) == 0) {
			fprintf(stderr, "cut_latency: base image changed; fresh overlay\n");
			rc = one_trigger(&b, e, &s);
		}
		if (rc < 0)
			break;
		fprintf(raw, "%lld\t%lld\t%lld\t%lld\t%lld\n", (long long)s.to_stopped,
		        (long long)s.to_return, (long long)s.power_on, (long long)s.banner,
		        (long long)s.to_request);
		if ((done + 1) % 100 == 0) {
			fflush(raw);
			fprintf(stderr, "cut_latency: %ld/%ld\n", done + 1, n);
		}
	}
	if (rc < 0)
		fprintf(stderr, "cut_latency: stopped after %ld triggers: %s\n", done,
		        strerror(-rc));
	if (raw)
		fclose(raw);
	expect_free(e);
	board_close(&b);
	lab_free(lab);
	return done == n ? 0 : 1;
}
