/* power/command.c — switch a board's power by running commands: argv
 * templates for on, off and (optionally) status, for uhubctl, usbrelay,
 * sispmctl or any script.
 *
 * Commands run without a shell (posix_spawnp, PATH lookup), stdin from
 * /dev/null, stdout and stderr captured (the first few KiB) for status and
 * for error messages, in a process group of their own so that a timeout
 * kills everything they started: SIGTERM, then SIGKILL a second later, and
 * the leader is always reaped. Waiting is one poll() over the output pipes
 * and a pidfd, with the operation's deadline. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "lib/cfg.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "power/power.h"

extern char **environ;

#define CMD_DEFAULT_TIMEOUT_NS (10 * NS_PER_S)
/* Time a command gets to clean up after SIGTERM before SIGKILL. */
#define CMD_KILL_GRACE_NS (1 * NS_PER_S)
/* Without pidfd (Linux < 5.3) the loop looks for the exit this often. */
#define CMD_EXIT_TICK_MS 20
#define CMD_OUTPUT_MAX 4096

struct command {
	char **argv_on, **argv_off, **argv_status; /* owned, NULL-terminated */
	char **env;                                /* owned "KEY=value" strings, NULL-terminated */
	pcre2_code *re_on, *re_off;                /* status output patterns; may be NULL */
};

/* The start of one output stream; the rest is read and dropped. */
struct cmd_output {
	char text[CMD_OUTPUT_MAX + 1];
	size_t len;
};

struct cmd_run {
	pid_t pid; /* also the process group */
	int pidfd; /* -1 where the kernel has no pidfd_open */
	int out_fd, err_fd;
	struct cmd_output out, err;
	int status; /* from waitpid() */
};

static void strv_free(char **v)
{
	if (!v)
		return;
	for (char **s = v; *s; s++)
		free(*s);
	free(v);
}

/* "{board}" anywhere in a template becomes the board's name; nothing else
 * in braces is touched. */
static char *cmd_substitute(const char *tmpl, const char *board)
{
	static const char key[] = "{board}";
	size_t n = 0, blen = strlen(board);
	const char *s;
	char *out, *o;

	for (s = strstr(tmpl, key); s; s = strstr(s + sizeof(key) - 1, key))
		n++;
	out = malloc(strlen(tmpl) + n * blen + 1);
	if (!out)
		return NULL;
	for (o = out, s = tmpl; *s;) {
		if (strncmp(s, key, sizeof(key) - 1) == 0) {
			memcpy(o, board, blen);
			o += blen;
			s += sizeof(key) - 1;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

static int cmd_parse_argv(const struct cfg_node *settings, const char *key, bool required,
                          const char *board, char ***out)
{
	const char **tmpl = NULL;
	char **argv;
	size_t n = 0;
	int rc = cfg_get_strv(settings, key, required, &tmpl);

	if (rc < 0 || !tmpl)
		return rc;
	while (tmpl[n])
		n++;
	if (n == 0 || !tmpl[0][0]) {
		cfg_error(
		    cfg_get(settings, key),
		    "needs a program and its arguments, e.g. [uhubctl, -l, 1-1, -p, 2, -a, on]");
		free(tmpl);
		return -EINVAL;
	}
	argv = calloc(n + 1, sizeof(*argv));
	for (size_t i = 0; argv && i < n; i++)
		if (!(argv[i] = cmd_substitute(tmpl[i], board))) {
			strv_free(argv);
			argv = NULL;
		}
	free(tmpl);
	if (!argv)
		return -ENOMEM;
	*out = argv;
	return 0;
}

static int cmd_parse_regex(const struct cfg_node *settings, const char *key, pcre2_code **out)
{
	const char *pattern = NULL;
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE offset;
	int err;

	if (cfg_get_str(settings, key, false, &pattern) < 0)
		return -EINVAL;
	if (!pattern)
		return 0;
	/* ^ and $ match at each line: tools print one line per port or relay. */
	*out = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_MULTILINE, &err,
	                     &offset, NULL);
	if (!*out) {
		pcre2_get_error_message(err, msg, sizeof(msg));
		cfg_error(cfg_get(settings, key), "is not a valid regex: %s at offset %zu", msg,
		          (size_t)offset);
		return -EINVAL;
	}
	return 0;
}

/* env: {NAME: value}, added to hilctl's environment for every command. */
static int cmd_parse_env(const struct cfg_node *settings, const char *board, char ***out)
{
	const struct cfg_node *map = cfg_get(settings, "env");
	char **env;
	size_t i = 0;

	if (!map)
		return 0;
	if (cfg_expect_type(map, CFG_MAP) < 0)
		return -EINVAL;
	env = calloc(cfg_count(map) + 1, sizeof(*env));
	if (!env)
		return -ENOMEM;
	*out = env;
	for (const struct cfg_node *c = map->child; c; c = c->next) {
		char *value;

		if (c->type != CFG_SCALAR || !c->key[0] || strchr(c->key, '=')) {
			cfg_error(c, "must be NAME: value (a name without '=', a single value)");
			return -EINVAL;
		}
		value = cmd_substitute(c->value, board);
		if (!value || asprintf(&env[i], "%s=%s", c->key, value) < 0)
			env[i] = NULL;
		free(value);
		if (!env[i++])
			return -ENOMEM;
	}
	return 0;
}

static void cmd_free(struct command *c)
{
	if (!c)
		return;
	strv_free(c->argv_on);
	strv_free(c->argv_off);
	strv_free(c->argv_status);
	strv_free(c->env);
	pcre2_code_free(c->re_on);
	pcre2_code_free(c->re_off);
	free(c);
}

/* Parse the settings into a new struct command (*out), or print why not. */
static int cmd_parse(const struct cfg_node *settings, const char *board, struct command **out)
{
	static const char *const keys[] = {"driver", "type",      "timeout",    "on",  "off",
	                                   "status", "status_on", "status_off", "env", NULL};
	struct command *c;
	int rc;

	if (cfg_check_keys(settings, keys) < 0)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	rc = cmd_parse_argv(settings, "on", true, board, &c->argv_on);
	if (rc == 0)
		rc = cmd_parse_argv(settings, "off", true, board, &c->argv_off);
	if (rc == 0)
		rc = cmd_parse_argv(settings, "status", false, board, &c->argv_status);
	if (rc == 0)
		rc = cmd_parse_regex(settings, "status_on", &c->re_on);
	if (rc == 0)
		rc = cmd_parse_regex(settings, "status_off", &c->re_off);
	if (rc == 0 && (c->re_on || c->re_off) && !c->argv_status) {
		cfg_error(cfg_get(settings, c->re_on ? "status_on" : "status_off"),
		          "needs a status: command whose output it matches");
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = cmd_parse_env(settings, board, &c->env);
	if (rc < 0) {
		cmd_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* The settings only (argv, regexes, env): nothing is run. */
static int cmd_check(const struct cfg_node *settings, const char *board)
{
	struct command *c = NULL;
	int rc = cmd_parse(settings, board, &c);

	cmd_free(c);
	return rc;
}

static int cmd_open(struct power *p, const struct cfg_node *settings)
{
	struct command *c = NULL;
	int rc = cmd_parse(settings, p->board, &c);

	if (rc < 0)
		return rc;
	if (p->timeout_ns <= 0)
		p->timeout_ns = CMD_DEFAULT_TIMEOUT_NS;
	p->priv = c;
	return 0;
}

/* hilctl's environment with the env: entries added or replaced. The array
 * is owned by the caller; the strings are borrowed. */
static char **cmd_environment(char *const extra[])
{
	size_t n = 0, m = 0, k = 0;
	char **env;

	while (environ && environ[n])
		n++;
	while (extra && extra[m])
		m++;
	env = calloc(n + m + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		bool replaced = false;
		for (size_t j = 0; j < m && !replaced; j++) {
			size_t name_len = strcspn(extra[j], "=") + 1;
			replaced = strncmp(environ[i], extra[j], name_len) == 0;
		}
		if (!replaced)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < m; j++)
		env[k++] = extra[j];
	return env;
}

/* Start argv in a new process group with both output streams piped back. */
static int cmd_spawn(struct cmd_run *r, char *const argv[], char *const envp[])
{
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int out[2], err[2], rc;

	if (pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(err, O_CLOEXEC) < 0) {
		rc = -errno;
		close(out[0]);
		close(out[1]);
		return rc;
	}
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&all);
	/* A signal hilctl ignores or blocks must not stay so in the command. */
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	                                    POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawnp(&r->pid, argv[0], &actions, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attr);
	close(out[1]);
	close(err[1]);
	if (rc != 0) {
		close(out[0]);
		close(err[0]);
		return -rc;
	}
	r->out_fd = out[0];
	r->err_fd = err[0];
	fcntl(r->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(r->err_fd, F_SETFL, O_NONBLOCK);
#ifdef SYS_pidfd_open
	r->pidfd = (int)syscall(SYS_pidfd_open, r->pid, 0);
#else
	r->pidfd = -1;
#endif
	return 0;
}

/* Read what is there without blocking; close the stream at its end. */
static void cmd_drain(int *fd, struct cmd_output *o)
{
	char scratch[4096];

	while (*fd >= 0) {
		size_t room = CMD_OUTPUT_MAX - o->len;
		ssize_t n =
		    room ? read(*fd, o->text + o->len, room) : read(*fd, scratch, sizeof(scratch));

		if (n > 0) {
			if (room)
				o->len += (size_t)n;
			o->text[o->len] = '\0';
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		close(*fd);
		*fd = -1;
	}
}

/* Has the leader exited? It is left unreaped (a zombie keeps its pid and
 * so its process group from being reused while we may still signal it). */
static bool cmd_exited(const struct cmd_run *r)
{
	siginfo_t info = {.si_pid = 0};

	return waitid(P_PID, (id_t)r->pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       info.si_pid == r->pid;
}

/* Collect output until the leader exits or the deadline passes. */
static bool cmd_wait_until(struct cmd_run *r, int64_t deadline_ns)
{
	for (;;) {
		struct pollfd fds[3];
		nfds_t n = 0;
		int ms;

		if (cmd_exited(r))
			return true;
		ms = clock_poll_ms(deadline_ns);
		if (ms == 0)
			return false;
		if (r->out_fd >= 0)
			fds[n++] = (struct pollfd){.fd = r->out_fd, .events = POLLIN};
		if (r->err_fd >= 0)
			fds[n++] = (struct pollfd){.fd = r->err_fd, .events = POLLIN};
		if (r->pidfd >= 0)
			fds[n++] = (struct pollfd){.fd = r->pidfd, .events = POLLIN};
		else if (ms > CMD_EXIT_TICK_MS)
			ms = CMD_EXIT_TICK_MS;
		if (poll(fds, n, ms) < 0 && errno != EINTR)
			return cmd_exited(r);
		cmd_drain(&r->out_fd, &r->out);
		cmd_drain(&r->err_fd, &r->err);
	}
}

/* Reap the leader and close everything; output written before the exit is
 * still in the pipes. Children that outlive the leader keep running. */
static void cmd_finish(struct cmd_run *r)
{
	cmd_drain(&r->out_fd, &r->out);
	cmd_drain(&r->err_fd, &r->err);
	while (waitpid(r->pid, &r->status, 0) < 0 && errno == EINTR)
		;
	if (r->out_fd >= 0)
		close(r->out_fd);
	if (r->err_fd >= 0)
		close(r->err_fd);
	if (r->pidfd >= 0)
		close(r->pidfd);
}

/* The deadline passed: SIGTERM the group, give it a grace period, then
 * SIGKILL whatever is left of it before reaping the leader. */
static void cmd_kill(struct cmd_run *r)
{
	/* The leader too, by pid: it may have moved to another group. */
	kill(-r->pid, SIGTERM);
	kill(r->pid, SIGTERM);
	cmd_wait_until(r, clock_now_ns() + CMD_KILL_GRACE_NS);
	kill(-r->pid, SIGKILL);
	kill(r->pid, SIGKILL);
	cmd_finish(r);
}

/* "prog arg 'two words'" for messages, cut at size. */
static void cmd_describe(char *const argv[], char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; argv[i] && used + 1 < size; i++) {
		bool quote = !argv[i][0] || strpbrk(argv[i], " \t\"'\\") != NULL;
		int n = snprintf(buf + used, size - used, "%s%s%s%s", i ? " " : "",
		                 quote ? "'" : "", argv[i], quote ? "'" : "");
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* The last lines of stderr (or of stdout when stderr is empty) as one
 * printable line: where tools say what went wrong. */
static const char *cmd_output_summary(const struct cmd_run *r, char *buf, size_t size)
{
	const struct cmd_output *o = r->err.len ? &r->err : &r->out;
	size_t end = o->len, start, n = 0;

	while (end > 0 && (o->text[end - 1] == '\n' || o->text[end - 1] == '\r'))
		end--;
	start = end > size - 1 ? end - (size - 1) : 0;
	for (size_t i = start; i < end; i++) {
		unsigned char ch = (unsigned char)o->text[i];
		buf[n++] = ch == '\n' ? '|' : (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
	}
	buf[n] = '\0';
	return n ? buf : "no output";
}

/* Run argv to its end or its deadline. Returns 0 when it ran (its exit
 * status is in r->status), or -errno after printing the error line. */
static int cmd_run(struct power *p, char *const argv[], const char *what, struct cmd_run *r)
{
	const struct command *c = p->priv;
	char line[200], output[160];
	char **env = cmd_environment(c->env);
	int rc;

	memset(r, 0, sizeof(*r));
	if (!env)
		return -ENOMEM;
	rc = cmd_spawn(r, argv, env);
	free(env);
	if (rc < 0) {
		hil_error(
		    "board \"%s\": cannot run the %s command \"%s\": %s (check the lab file's "
		    "%s: list and that the program is installed and on PATH)",
		    p->board, what, argv[0], strerror(-rc), what);
		return rc;
	}
	if (cmd_wait_until(r, clock_now_ns() + p->timeout_ns)) {
		cmd_finish(r);
		return 0;
	}
	cmd_kill(r);
	cmd_describe(argv, line, sizeof(line));
	hil_error("board \"%s\": %s command \"%s\" did not finish within %lld ms; killed it "
	          "(SIGTERM, then SIGKILL): is the device hanging? (output: %s)",
	          p->board, what, line, (long long)(p->timeout_ns / NS_PER_MS),
	          cmd_output_summary(r, output, sizeof(output)));
	return -ETIMEDOUT;
}

/* Print why a finished command counts as failed. */
static int cmd_report_status(struct power *p, char *const argv[], const char *what,
                             struct cmd_run *r)
{
	char line[200], why[40], output[300];

	if (WIFSIGNALED(r->status))
		snprintf(why, sizeof(why), "was killed by signal %d", WTERMSIG(r->status));
	else
		snprintf(why, sizeof(why), "exited with status %d", WEXITSTATUS(r->status));
	cmd_describe(argv, line, sizeof(line));
	hil_error("board \"%s\": %s command \"%s\" %s: %s", p->board, what, line, why,
	          cmd_output_summary(r, output, sizeof(output)));
	return -EIO;
}

static int cmd_set(struct power *p, bool on)
{
	const struct command *c = p->priv;
	char *const *argv = on ? c->argv_on : c->argv_off;
	const char *what = on ? "on" : "off";
	struct cmd_run r;
	int rc = cmd_run(p, argv, what, &r);

	if (rc < 0)
		return rc;
	if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
		return cmd_report_status(p, argv, what, &r);
	return 0;
}

static bool cmd_matches(pcre2_code *re, const struct cmd_output *o)
{
	pcre2_match_data *md;
	int rc;

	if (!re)
		return false;
	md = pcre2_match_data_create_from_pattern(re, NULL);
	if (!md)
		return false;
	rc = pcre2_match(re, (PCRE2_SPTR)o->text, o->len, 0, 0, md, NULL);
	pcre2_match_data_free(md);
	return rc >= 0;
}

/* With status_on/status_off: the command must succeed and its stdout
 * match exactly one of them, else the answer is unknown. Without: exit
 * status 0 means on, 1 means off, anything else is an error. */
static int cmd_get(struct power *p, enum power_state *out)
{
	const struct command *c = p->priv;
	struct cmd_run r;
	bool on, off;
	int rc;

	*out = POWER_UNKNOWN;
	if (!c->argv_status)
		return 0;
	rc = cmd_run(p, c->argv_status, "status", &r);
	if (rc < 0)
		return rc;
	if (!WIFEXITED(r.status))
		return cmd_report_status(p, c->argv_status, "status", &r);
	if (!c->re_on && !c->re_off) {
		if (WEXITSTATUS(r.status) > 1)
			return cmd_report_status(p, c->argv_status, "status", &r);
		*out = WEXITSTATUS(r.status) == 0 ? POWER_ON : POWER_OFF;
		return 0;
	}
	if (WEXITSTATUS(r.status) != 0)
		return cmd_report_status(p, c->argv_status, "status", &r);
	on = cmd_matches(c->re_on, &r.out);
	off = cmd_matches(c->re_off, &r.out);
	if (on && off)
		hil_warn("board \"%s\": status output matches both status_on and status_off; "
		         "answering unknown",
		         p->board);
	else if (on || off)
		*out = on ? POWER_ON : POWER_OFF;
	else
		hil_info("board \"%s\": status output matches neither status_on nor status_off",
		         p->board);
	return 0;
}

static void cmd_close(struct power *p)
{
	cmd_free(p->priv);
	p->priv = NULL;
}

const struct power_ops power_command_ops = {
    .name = "command",
    .check = cmd_check,
    .open = cmd_open,
    .set = cmd_set,
    .get = cmd_get,
    .close = cmd_close,
};
