/* harness/cli/cmd_attach.c — "hilctl console": attach a terminal to a board's
 * console. Ctrl-] then q leaves, Ctrl-] then c power-cycles the board,
 * Ctrl-] twice sends one Ctrl-]. Everything read also goes to the timeline
 * and, with --log, to a plain file. */
#include <errno.h>
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
#include "harness/lab/lab.h"
#include "lib/log.h"
#include "lib/timeline.h"

#define ESCAPE_KEY 0x1d /* Ctrl-] */

static const char console_help[] =
    "usage: hilctl [--lab FILE] console BOARD [--log FILE] [--timeout S]\n\n"
    "Attach this terminal to the board's console.\n"
    "  Ctrl-] q   leave\n"
    "  Ctrl-] c   power-cycle the board (console stays attached)\n"
    "  Ctrl-] ]   send Ctrl-] itself\n"
    "  --log FILE   also append the raw console bytes to FILE\n"
    "  --timeout S  leave after S seconds (for scripts); with stdin not a\n"
    "               terminal, hilctl also leaves when stdin ends\n";

struct attach {
	struct board *b;
	FILE *log;
	bool escape;
	bool quit;
	int64_t deadline;
};

static int forward_console(struct attach *at)
{
	char buf[4096];
	int64_t t;
	ssize_t n = console_read(&at->b->console, buf, sizeof(buf), &t);

	if (n > 0) {
		if (write(STDOUT_FILENO, buf, (size_t)n) < 0 && errno != EAGAIN)
			return -errno;
		if (at->log) {
			fwrite(buf, 1, (size_t)n, at->log);
			fflush(at->log);
		}
	}
	if (n == -EPIPE)
		fprintf(stderr, "\r\n[hilctl: console gone; waiting for it to come back]\r\n");
	return n < 0 && n != -EPIPE && n != -EAGAIN ? (int)n : 0;
}

/* Returns bytes of buf to send after handling the escape sequence. */
static size_t handle_keys(struct attach *at, char *buf, size_t n)
{
	size_t out = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)buf[i];
		if (at->escape) {
			at->escape = false;
			if (ch == 'q' || ch == '.') {
				at->quit = true;
				return out;
			}
			if (ch == 'c') {
				fprintf(stderr, "\r\n[hilctl: power cycle]\r\n");
				if (board_power_cycle(at->b, 1000 * NS_PER_MS,
				                      clock_now_ns() + 60 * NS_PER_S) < 0)
					fprintf(stderr, "\r\n[hilctl: power cycle failed]\r\n");
				continue;
			}
			if (ch == ']' || ch == ESCAPE_KEY)
				buf[out++] = ESCAPE_KEY;
			continue;
		}
		if (ch == ESCAPE_KEY) {
			at->escape = true;
			continue;
		}
		buf[out++] = (char)ch;
	}
	return out;
}

static int attach_loop(struct attach *at)
{
	bool stdin_open = true;

	while (!at->quit && !stop_requested()) {
		struct pollfd pfd[2] = {{.fd = at->b->console.fd, .events = POLLIN},
		                        {.fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN}};
		int64_t deadline = at->deadline;
		int rc;

		if (clock_now_ns() >= at->deadline)
			break;
		if (at->b->console.fd < 0) {
			/* Gone (board power, USB re-enumeration): try again soon. */
			int64_t retry = clock_now_ns() + 200 * NS_PER_MS;
			console_connect(&at->b->console,
			                retry < at->deadline ? retry : at->deadline);
			continue;
		}
		rc = poll(pfd, 2, clock_poll_ms(deadline));
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc <= 0)
			continue;
		if (pfd[0].revents && forward_console(at) < 0)
			return -EIO;
		if (pfd[1].revents) {
			char buf[1024];
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n <= 0) {
				stdin_open = false;
				if (!isatty(STDIN_FILENO))
					break;
				continue;
			}
			n = (ssize_t)handle_keys(at, buf, (size_t)n);
			if (n > 0 && console_write_all(&at->b->console, buf, (size_t)n,
			                               clock_now_ns() + 5 * NS_PER_S) < 0)
				fprintf(stderr, "\r\n[hilctl: write to console failed]\r\n");
		}
	}
	return 0;
}

int cmd_console(struct cli *cli)
{
	static const struct option opts[] = {CLI_COMMON_LONGOPTS,
	                                     {"log", required_argument, NULL, 'L'},
	                                     {"timeout", required_argument, NULL, 't'},
	                                     {NULL, 0, NULL, 0}};
	struct attach at = {0};
	struct termios saved, raw;
	bool tty = isatty(STDIN_FILENO);
	const char *log_path = NULL;
	int64_t timeout = 365LL * 24 * 3600 * NS_PER_S;
	struct board b;
	struct lab *lab;
	int c, rc;

	while ((c = getopt_long(cli->argc, cli->argv, "h", opts, NULL)) != -1) {
		int r = cli_common_opt(cli, c, console_help);
		if (r == -1)
			return EXIT_OK;
		if (r < 0)
			return EXIT_USAGE;
		if (r == 1)
			continue;
		if (c == 'L')
			log_path = optarg;
		else if (cfg_parse_duration(optarg, &timeout) < 0) {
			hil_error("--timeout %s: not a duration", optarg);
			return EXIT_USAGE;
		}
	}
	if (cli->argc - optind != 1) {
		fputs(console_help, stderr);
		return EXIT_USAGE;
	}
	lab = cli_load_lab(cli);
	if (!lab)
		return EXIT_USAGE;
	rc = board_open(&b, lab, cli->argv[optind], NULL, BOARD_F_PERSIST);
	if (rc < 0) {
		lab_free(lab);
		return cli_exit_for(rc);
	}
	if (!b.has_console) {
		hil_error("board \"%s\" has no console: in %s", cli->argv[optind], lab->path);
		board_close(&b);
		lab_free(lab);
		return EXIT_USAGE;
	}
	at.b = &b;
	at.deadline = clock_now_ns() + timeout;
	if (log_path && !(at.log = fopen(log_path, "a"))) {
		hil_error("--log %s: %s", log_path, strerror(errno));
		rc = -EINVAL;
		goto out;
	}
	rc = console_connect(&b.console, clock_now_ns() + 10 * NS_PER_S);
	if (rc < 0) {
		hil_error("board \"%s\": cannot connect its console: %s", b.cfg->name,
		          strerror(-rc));
		goto out;
	}
	if (tty) {
		fprintf(stderr,
		        "[hilctl: attached to %s; Ctrl-] q leaves, Ctrl-] c power-cycles]\r\n",
		        b.cfg->name);
		tcgetattr(STDIN_FILENO, &saved);
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	rc = attach_loop(&at);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
		fprintf(stderr, "\n[hilctl: left %s]\n", b.cfg->name);
	}
out:
	if (at.log)
		fclose(at.log);
	board_close(&b);
	lab_free(lab);
	return rc < 0 ? cli_exit_for(rc) : EXIT_OK;
}
