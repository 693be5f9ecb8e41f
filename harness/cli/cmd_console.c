/* harness/cli/cmd_console.c — the console subcommands: expect (scriptable
 * waiting for markers) and console (interactive attach). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "harness/lab/board.h"
#include "lib/cfg.h"
#include "harness/cli/cli.h"
#include "lib/clock.h"
#include "harness/run/expect.h"
#include "harness/lab/lab.h"
#include "lib/log.h"
#include "lib/num.h"
#include "lib/timeline.h"

static const char expect_help[] =
    "usage: hilctl [--lab FILE] expect BOARD REGEX... [--timeout S] [--on | --cycle]\n"
    "                                  [--off-time MS] [--send LINE]\n\n"
    "Wait until the board's console shows one of the patterns (PCRE2, ^ and $ match\n"
    "at line ends). The first to match wins; prints \"matched N: TEXT\" (N counts the\n"
    "patterns from 1) and exits 0; exits 1 when none matched before the timeout.\n\n"
    "  --timeout S     give up after S seconds (default 60; 500ms, 2m also work)\n"
    "  --on            connect the console, then power the board on: nothing of the\n"
    "                  boot is missed\n"
    "  --cycle         the same with a power cycle (off, --off-time, on)\n"
    "  --off-time MS   off time for --cycle (default 1000)\n"
    "  --send LINE     write LINE and a newline to the console before waiting\n";

struct expect_args {
	int64_t timeout_ns;
	int64_t off_ns;
	int power; /* 0 none, 1 on, 2 cycle */
	const char *send;
};

static int parse_expect(struct cli *cli, struct expect_args *a)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"timeout", required_argument, NULL, 't'},
	    {"on", no_argument, NULL, 'o'},
	    {"cycle", no_argument, NULL, 'c'},
	    {"off-time", required_argument, NULL, 'f'},
	    {"send", required_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	long long off_ms;
	int c;

	a->timeout_ns = 60 * NS_PER_S;
	a->off_ns = 1000 * NS_PER_MS;
	while ((c = getopt_long(cli->argc, cli->argv, "ht:", opts, NULL)) != -1) {
		int r = cli_common_opt(cli, c, expect_help);
		if (r == -1)
			return 100;
		if (r < 0)
			return EXIT_USAGE;
		if (r == 1)
			continue;
		switch (c) {
		case 't':
			if (cfg_parse_duration(optarg, &a->timeout_ns) < 0) {
				hil_error("--timeout %s: not a duration (60, 500ms, 2m)", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'o':
			a->power = 1;
			break;
		case 'c':
			a->power = 2;
			break;
		case 'f':
			if (num_opt("--off-time", optarg, 0, 3600000, &off_ms) < 0)
				return EXIT_USAGE;
			a->off_ns = off_ms * NS_PER_MS;
			break;
		case 's':
			a->send = optarg;
			break;
		}
	}
	return -1;
}

static void print_match(const struct expect_match *m)
{
	char esc[sizeof(m->text) * 6];

	/* Console text may hold anything: print it escaped, one line. */
	json_escape_bytes(m->text, m->text_len, esc, sizeof(esc));
	printf("matched %d: %s\n", m->index + 1, esc);
	fflush(stdout);
}

static int expect_on_board(struct board *b, struct expect *e, const struct expect_args *a,
                           const char *name)
{
	int64_t deadline = clock_now_ns() + a->timeout_ns;
	struct expect_match m;
	int64_t t;
	int rc;

	/* Powering on: the console may only appear with power (QEMU, a
	 * USB-UART fed by the board); board_power_on connects it in time. */
	rc = console_connect(&b->console, a->power ? clock_now_ns() : deadline);
	if (rc < 0 && a->power == 0) {
		hil_error("board \"%s\": cannot connect its console: %s", name, strerror(-rc));
		return EXIT_INFRA;
	}
	if (a->power == 1)
		rc = board_power_on(b, deadline);
	else if (a->power == 2)
		rc = board_power_cycle(b, a->off_ns, deadline);
	if (rc < 0)
		return cli_exit_for(rc);
	if (a->send) {
		rc = console_write_all(&b->console, a->send, strlen(a->send), deadline);
		if (rc == 0)
			rc = console_write_all(&b->console, "\n", 1, deadline);
		if (rc < 0) {
			hil_error("board \"%s\": writing to the console: %s", name, strerror(-rc));
			return EXIT_INFRA;
		}
	}
	rc = board_expect(b, e, deadline, &m, &t);
	if (rc == 1) {
		timeline_event(b->tl, t, "marker", "expect matched pattern %d", m.index + 1);
		print_match(&m);
		return EXIT_OK;
	}
	if (rc == 0) {
		hil_error("board \"%s\": none of the patterns appeared within %.1f s "
		          "(console log: %s)",
		          name, (double)a->timeout_ns / NS_PER_S, timeline_path(b->tl));
		return EXIT_FAILED;
	}
	if (rc == -EINTR)
		return EXIT_INFRA;
	hil_error("board \"%s\": console failed: %s", name, strerror(-rc));
	return EXIT_INFRA;
}

int cmd_expect(struct cli *cli)
{
	struct expect_args a = {0};
	struct expect *e;
	struct board b;
	struct lab *lab;
	int rc = parse_expect(cli, &a);

	if (rc >= 0)
		return rc == 100 ? EXIT_OK : rc;
	if (cli->argc - optind < 2) {
		fputs(expect_help, stderr);
		return EXIT_USAGE;
	}
	e = expect_new((const char *const *)cli->argv + optind + 1,
	               (size_t)(cli->argc - optind - 1));
	if (!e)
		return EXIT_USAGE;
	lab = cli_load_lab(cli);
	if (!lab) {
		expect_free(e);
		return EXIT_USAGE;
	}
	rc = board_open(&b, lab, cli->argv[optind], NULL, a.power ? BOARD_F_PERSIST : 0);
	if (rc < 0) {
		rc = cli_exit_for(rc);
	} else if (!b.has_console) {
		hil_error("board \"%s\" has no console: in %s", cli->argv[optind], lab->path);
		rc = EXIT_USAGE;
	} else {
		rc = expect_on_board(&b, e, &a, cli->argv[optind]);
	}
	board_close(&b);
	lab_free(lab);
	expect_free(e);
	return rc;
}
