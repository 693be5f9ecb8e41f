/* tests/unit/test_command.c — the command power driver with real tiny
 * processes (sh, echo, true, false, sleep): argv templates and {board},
 * no shell, exit status, output in the error line, status by regex or by
 * exit code, and timeouts that kill the whole process group and reap it.
 * The test is a child subreaper, so whatever a command leaves behind is
 * reparented here, and after every test no child (no zombie) may be left. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "lib/cfg.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "power/power.h"

static char tmpdir[64];

struct fixture {
	struct cfg_node *root;
	struct power p;
	char log[8192];
};

static int open_yaml(struct fixture *f, int64_t timeout_ns, const char *fmt, ...)
{
	char yaml[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(yaml, sizeof(yaml), fmt, ap);
	va_end(ap);
	memset(&f->p, 0, sizeof(f->p));
	f->p.ops = &power_command_ops;
	f->p.board = "rpi4-03";
	f->p.timeout_ns = timeout_ns;
	f->root = cfg_load_buf("lab.yaml", yaml, strlen(yaml));
	assert_non_null(f->root);
	log_capture(f->log, sizeof(f->log));
	return power_command_ops.open(&f->p, f->root);
}

static void fixture_close(struct fixture *f)
{
	if (f->p.priv)
		power_command_ops.close(&f->p);
	cfg_free(f->root);
	log_capture(NULL, 0);
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle)) {
		print_error("\"%s\" not found in:\n%s\n", needle, haystack);
		fail();
	}
}

static void assert_one_line(const char *log)
{
	const char *nl = strchr(log, '\n');

	assert_non_null(nl);
	assert_int_equal(nl - log + 1, (long)strlen(log));
}

/* Every test: nothing left to reap, not even a zombie. */
static int no_children_left(void **state)
{
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	return 0;
}

static pid_t read_pid(const char *path)
{
	char buf[32] = "";
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	return (pid_t)atoi(buf);
}

static int status_of(struct fixture *f, enum power_state *s)
{
	*s = (enum power_state)99;
	return power_command_ops.get(&f->p, s);
}

static void test_command_on_runs_argv_with_board_substituted(void **state)
{
	struct fixture f;
	char path[128];
	struct stat st;

	assert_int_equal(open_yaml(&f, 0,
	                           "driver: command\non: [touch, '%s/{board}.on']\n"
	                           "off: [touch, '%s/{board}.off']\n",
	                           tmpdir, tmpdir),
	                 0);
	assert_int_equal(power_command_ops.set(&f.p, true), 0);
	snprintf(path, sizeof(path), "%s/rpi4-03.on", tmpdir);
	assert_int_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/rpi4-03.off", tmpdir);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(power_command_ops.set(&f.p, false), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_string_equal(f.log, "");
	fixture_close(&f);
}

static void test_command_substitutes_every_board_and_nothing_else(void **state)
{
	struct fixture f;
	enum power_state s;

	assert_int_equal(open_yaml(&f, 0,
	                           "driver: command\non: [true]\noff: [true]\n"
	                           "status: [echo, 'id={board}/{board}', '{other}', '{board']\n"
	                           "status_on: '^id=rpi4-03/rpi4-03 \\{other\\} \\{board$'\n"),
	                 0);
	assert_int_equal(status_of(&f, &s), 0);
	assert_int_equal(s, POWER_ON);
	fixture_close(&f);
}

static void test_command_runs_without_shell(void **state)
{
	struct fixture f;
	enum power_state s;

	/* A shell would expand $HOME, the glob and the command substitution. */
	assert_int_equal(open_yaml(&f, 0,
	                           "driver: command\non: [true]\noff: [true]\n"
	                           "status: [echo, '$HOME', '*', '`id`;', '>x']\n"
	                           "status_on: '^\\$HOME \\* `id`; >x$'\n"),
	                 0);
	assert_int_equal(status_of(&f, &s), 0);
	assert_int_equal(s, POWER_ON);
	fixture_close(&f);
}

static void test_command_stdin_is_empty(void **state)
{
	struct fixture f;

	/* cat would wait forever on a terminal or an inherited pipe. */
	assert_int_equal(open_yaml(&f, 2 * NS_PER_S, "driver: command\non: [cat]\noff: [true]\n"),
	                 0);
	assert_int_equal(power_command_ops.set(&f.p, true), 0);
	fixture_close(&f);
}

static void test_command_nonzero_exit_is_error_with_output(void **state)
{
	struct fixture f;

	assert_int_equal(
	    open_yaml(&f, 0,
	              "driver: command\non: [true]\n"
	              "off: [sh, -c, 'echo trying; echo relay 2 not found >&2; exit 3']\n"),
	    0);
	assert_int_equal(power_command_ops.set(&f.p, false), -EIO);
	assert_contains(f.log, "board \"rpi4-03\": off command \"sh -c 'echo trying; echo");
	assert_contains(f.log, "exited with status 3: relay 2 not found");
	assert_one_line(f.log);
	fixture_close(&f);
}

static void test_command_error_shows_stdout_when_stderr_is_empty(void **state)
{
	struct fixture f;

	assert_int_equal(open_yaml(&f, 0,
	                           "driver: command\non: [sh, -c, 'printf \"a\\nb\\n\"; "
	                           "exit 1']\noff: [true]\n"),
	                 0);
	assert_int_equal(power_command_ops.set(&f.p, true), -EIO);
	assert_contains(f.log, "exited with status 1: a|b\n");
	fixture_close(&f);
}

static void test_command_false_is_error_without_output(void **state)
{
	struct fixture f;

	assert_int_equal(open_yaml(&f, 0, "driver: command\non: ['false']\noff: [true]\n"), 0);
	assert_int_equal(power_command_ops.set(&f.p, true), -EIO);
	assert_contains(f.log, "on command \"false\" exited with status 1: no output");
	fixture_close(&f);
}

static void test_command_killed_by_signal_is_error(void **state)
{
	struct fixture f;

	assert_int_equal(open_yaml(&f, 0,
	                           "driver: command\non: [sh, -c, 'kill -9 $$']\n"
	                           "off: [true]\n"),
	                 0);
	assert_int_equal(power_command_ops.set(&f.p, true), -EIO);
	assert_contains(f.log, "was killed by signal 9");
	fixture_close(&f);
}

static void test_command_gets_default_signals_even_if_hilctl_ignores_them(void **state)
{
	struct fixture f;

	signal(SIGTERM, SIG_IGN);
	assert_int_equal(open_yaml(&f, 0,
	                           "driver: command\non: [sh, -c, 'kill -TERM $$; exit 0']"
	                           "\noff: [true]\n"),
	                 0);
	assert_int_equal(power_command_ops.set(&f.p, true), -EIO);
	signal(SIGTERM, SIG_DFL);
	assert_contains(f.log, "was killed by signal 15");
	fixture_close(&f);
}

static void test_command_missing_program_is_enoent(void **state)
{
	struct fixture f;

	assert_int_equal(open_yaml(&f, 0,
	                           "driver: command\non: [/nonexistent/relayctl, '1']\n"
	                           "off: [hilctl-no-such-tool]\n"),
	                 0);
	assert_int_equal(power_command_ops.set(&f.p, true), -ENOENT);
	assert_contains(f.log,
	                "board \"rpi4-03\": cannot run the on command \"/nonexistent/relayctl\"");
	assert_contains(f.log, "No such file or directory");
	log_capture(f.log, sizeof(f.log));
	assert_int_equal(power_command_ops.set(&f.p, false), -ENOENT);
	assert_contains(f.log, "\"hilctl-no-such-tool\"");
	fixture_close(&f);
}

static void test_command_timeout_kills_process_group_and_reaps(void **state)
{
	struct fixture f;
	char pidfile[128];
	int64_t start, took;
	pid_t sleeper;
	int st;

	snprintf(pidfile, sizeof(pidfile), "%s/sleeper.pid", tmpdir);
	/* 500 ms: time enough for sh to start its child on a loaded machine. */
	assert_int_equal(
	    open_yaml(&f, 500 * NS_PER_MS,
	              "driver: command\n"
	              "on: [sh, -c, 'echo waiting for relay; sleep 30 & echo $! > %s; wait']\n"
	              "off: [true]\n",
	              pidfile),
	    0);
	start = clock_now_ns();
	assert_int_equal(power_command_ops.set(&f.p, true), -ETIMEDOUT);
	took = clock_now_ns() - start;
	assert_true(took >= 500 * NS_PER_MS);
	assert_true(took < 1400 * NS_PER_MS); /* sh and sleep die on SIGTERM: no grace used */
	/* The grandchild got the signal too; it was reparented here. */
	sleeper = read_pid(pidfile);
	assert_int_equal(waitpid(sleeper, &st, 0), sleeper);
	assert_true(WIFSIGNALED(st));
	assert_contains(f.log, "board \"rpi4-03\": on command \"sh -c");
	assert_contains(f.log, "did not finish within 500 ms; killed it");
	assert_contains(f.log, "waiting for relay");
	assert_one_line(f.log);
	fixture_close(&f);
}

static void test_command_timeout_sigkills_what_ignores_sigterm(void **state)
{
	struct fixture f;
	int64_t start, took;
	pid_t pid;
	int st;

	assert_int_equal(open_yaml(&f, 500 * NS_PER_MS,
	                           "driver: command\non: [true]\n"
	                           "off: [sh, -c, 'trap \"\" TERM; sleep 30']\n"),
	                 0);
	start = clock_now_ns();
	assert_int_equal(power_command_ops.set(&f.p, false), -ETIMEDOUT);
	took = clock_now_ns() - start;
	/* 500 ms, one second of grace after SIGTERM, then SIGKILL. */
	assert_true(took >= 1400 * NS_PER_MS);
	assert_true(took < 3 * NS_PER_S);
	/* Whatever sh had started (sleep, with SIGTERM ignored too) was
	 * reparented here, and died of the SIGKILL. */
	while ((pid = waitpid(-1, &st, 0)) > 0)
		assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	fixture_close(&f);
}

static void test_command_returns_when_leader_exits_though_child_keeps_pipe(void **state)
{
	struct fixture f;
	char pidfile[128];
	int64_t start;
	pid_t bg;

	snprintf(pidfile, sizeof(pidfile), "%s/bg.pid", tmpdir);
	assert_int_equal(open_yaml(&f, 5 * NS_PER_S,
	                           "driver: command\n"
	                           "on: [sh, -c, 'sleep 30 & echo $! > %s; exit 0']\noff: [true]\n",
	                           pidfile),
	                 0);
	start = clock_now_ns();
	assert_int_equal(power_command_ops.set(&f.p, true), 0);
	assert_true(clock_now_ns() - start < 2 * NS_PER_S);
	bg = read_pid(pidfile);
	kill(bg, SIGKILL);
	assert_int_equal(waitpid(bg, NULL, 0), bg);
	fixture_close(&f);
}

static void test_command_output_is_bounded_and_drained(void **state)
{
	struct fixture f;

	/* 1 MB through the pipe: the command must not block on a full pipe. */
	assert_int_equal(open_yaml(&f, 5 * NS_PER_S,
	                           "driver: command\non: [sh, -c, "
	                           "'head -c 1000000 /dev/zero | tr \"\\\\0\" x >&2; exit 4']\n"
	                           "off: [true]\n"),
	                 0);
	assert_int_equal(power_command_ops.set(&f.p, true), -EIO);
	assert_contains(f.log, "exited with status 4: xxxxxxxx");
	assert_true(strlen(f.log) < 1024);
	fixture_close(&f);
}

static void test_command_env_adds_and_replaces_variables(void **state)
{
	struct fixture f;
	enum power_state s;

	setenv("HILCTL_TEST_OLD", "old", 1);
	setenv("HILCTL_TEST_KEEP", "kept", 1);
	assert_int_equal(
	    open_yaml(&f, 0,
	              "driver: command\non: [true]\noff: [true]\n"
	              "env: {RELAY_ID: '{board}-x', HILCTL_TEST_OLD: new}\n"
	              "status: [sh, -c, 'echo \"$RELAY_ID $HILCTL_TEST_OLD $HILCTL_TEST_KEEP\"']\n"
	              "status_on: '^rpi4-03-x new kept$'\n"),
	    0);
	assert_int_equal(status_of(&f, &s), 0);
	assert_int_equal(s, POWER_ON);
	fixture_close(&f);
}

/* ---- status */
static const char uhubctl_like[] =
    "status: [printf, 'Current status for hub 1-1\\n  Port 1: 0503 power highspeed enable\\n"
    "  Port 2: 0000 off\\n']\n";

static void test_command_status_regex_on_and_off(void **state)
{
	struct fixture f;
	enum power_state s;

	assert_int_equal(
	    open_yaml(&f, 0,
	              "driver: command\non: [true]\noff: [true]\n%s"
	              "status_on: '^  Port 1: \\w+ power'\nstatus_off: '^  Port 1: \\w+ off'\n",
	              uhubctl_like),
	    0);
	assert_int_equal(status_of(&f, &s), 0);
	assert_int_equal(s, POWER_ON);
	fixture_close(&f);
	assert_int_equal(
	    open_yaml(&f, 0,
	              "driver: command\non: [true]\noff: [true]\n%s"
	              "status_on: '^  Port 2: \\w+ power'\nstatus_off: '^  Port 2: \\w+ off'\n",
	              uhubctl_like),
	    0);
	assert_int_equal(status_of(&f, &s), 0);
	assert_int_equal(s, POWER_OFF);
	assert_string_equal(f.log, "");
	fixture_close(&f);
}

static void test_command_status_matching_neither_or_both_is_unknown(void **state)
{
	struct fixture f;
	enum power_state s;

	assert_int_equal(
	    open_yaml(&f, 0,
	              "driver: command\non: [true]\noff: [true]\n%s"
	              "status_on: '^  Port 3: \\w+ power'\nstatus_off: '^  Port 3: \\w+ off'\n",
	              uhubctl_like),
	    0);
	assert_int_equal(status_of(&f, &s), 0);
	assert_int_equal(s, POWER_UNKNOWN);
	fixture_close(&f);
	assert_int_equal(open_yaml(&f, 0,
	                           "driver: command\non: [true]\noff: [true]\n%s"
	                           "status_on: 'Port'\nstatus_off: 'hub'\n",
	                           uhubctl_like),
	                 0);
	assert_int_equal(status_of(&f, &s), 0);
	assert_int_equal(s, POWER_UNKNOWN);
	assert_contains(f.log, "matches both status_on and status_off");
	fixture_close(&f);
}

static void test_command_status_only_on_regex_never_guesses_off(void **state)
{
	struct fixture f;
	enum power_state s;

	assert_int_equal(open_yaml(&f, 0,
	                           "driver: command\non: [true]\noff: [true]\n"
	                           "status: [echo, RELAY_1=0]\nstatus_on: '^RELAY_1=1$'\n"),
	                 0);
	assert_int_equal(status_of(&f, &s), 0);
	assert_int_equal(s, POWER_UNKNOWN);
	fixture_close(&f);
}

static void test_command_status_regex_with_failing_command_is_error(void **state)
{
	struct fixture f;
	enum power_state s;

	assert_int_equal(
	    open_yaml(&f, 0,
	              "driver: command\non: [true]\noff: [true]\n"
	              "status: [sh, -c, 'echo RELAY_1=1; echo no device >&2; exit 1']\n"
	              "status_on: '^RELAY_1=1$'\n"),
	    0);
	assert_int_equal(status_of(&f, &s), -EIO);
	assert_int_equal(s, POWER_UNKNOWN);
	assert_contains(f.log, "status command");
	assert_contains(f.log, "exited with status 1: no device");
	fixture_close(&f);
}

static void test_command_status_exit_code_convention(void **state)
{
	struct fixture f;
	enum power_state s;

	assert_int_equal(open_yaml(&f, 0,
	                           "driver: command\non: [true]\noff: [true]\n"
	                           "status: [true]\n"),
	                 0);
	assert_int_equal(status_of(&f, &s), 0);
	assert_int_equal(s, POWER_ON);
	fixture_close(&f);
	assert_int_equal(open_yaml(&f, 0,
	                           "driver: command\non: [true]\noff: [true]\n"
	                           "status: ['false']\n"),
	                 0);
	assert_int_equal(status_of(&f, &s), 0);
	assert_int_equal(s, POWER_OFF);
	fixture_close(&f);
	assert_int_equal(open_yaml(&f, 0,
	                           "driver: command\non: [true]\noff: [true]\n"
	                           "status: [sh, -c, 'echo bus error >&2; exit 2']\n"),
	                 0);
	assert_int_equal(status_of(&f, &s), -EIO);
	assert_int_equal(s, POWER_UNKNOWN);
	assert_contains(f.log, "exited with status 2: bus error");
	fixture_close(&f);
}

static void test_command_without_status_is_unknown_and_runs_nothing(void **state)
{
	struct fixture f;
	enum power_state s;

	assert_int_equal(open_yaml(&f, 0, "driver: command\non: [true]\noff: [true]\n"), 0);
	assert_int_equal(status_of(&f, &s), 0);
	assert_int_equal(s, POWER_UNKNOWN);
	assert_string_equal(f.log, "");
	fixture_close(&f);
}

static void test_command_status_timeout_is_error(void **state)
{
	struct fixture f;
	enum power_state s;

	assert_int_equal(open_yaml(&f, 200 * NS_PER_MS,
	                           "driver: command\non: [true]\noff: [true]\n"
	                           "status: [sleep, '30']\n"),
	                 0);
	assert_int_equal(status_of(&f, &s), -ETIMEDOUT);
	assert_int_equal(s, POWER_UNKNOWN);
	assert_contains(f.log, "status command \"sleep 30\" did not finish within 200 ms");
	fixture_close(&f);
}

static void test_command_default_timeout_is_set(void **state)
{
	struct fixture f;

	assert_int_equal(open_yaml(&f, 0, "driver: command\non: [true]\noff: [true]\n"), 0);
	assert_int_equal(f.p.timeout_ns, 10 * NS_PER_S);
	fixture_close(&f);
}

/* ---- settings refused with file:line:col */
static void expect_open_error(const char *yaml, const char *where, const char *what)
{
	struct fixture f;

	assert_int_equal(open_yaml(&f, 0, "%s", yaml), -EINVAL);
	assert_null(f.p.priv);
	assert_contains(f.log, where);
	assert_contains(f.log, what);
	fixture_close(&f);
}

static void test_command_open_refuses_bad_settings(void **state)
{
	expect_open_error("driver: command\noff: [true]\n", "lab.yaml:1:", "needs key \"on\"");
	expect_open_error("driver: command\non: [true]\n", "lab.yaml:1:", "needs key \"off\"");
	expect_open_error("driver: command\non: []\noff: [true]\n",
	                  "lab.yaml:2:", "needs a program and its arguments");
	expect_open_error("driver: command\non: ['']\noff: [true]\n",
	                  "lab.yaml:2:", "needs a program");
	expect_open_error("driver: command\non: {a: b}\noff: [true]\n",
	                  "lab.yaml:2:", "not a mapping");
	expect_open_error("driver: command\non: [true]\noff: [true]\nstatus_on: x\n",
	                  "lab.yaml:4:", "needs a status: command");
	expect_open_error("driver: command\non: [true]\noff: [true]\nstatus: [true]\n"
	                  "status_off: '(unclosed'\n",
	                  "lab.yaml:5:", "not a valid regex");
	expect_open_error("driver: command\non: [true]\noff: [true]\ncmd_on: [true]\n",
	                  "lab.yaml:4:", "not a known key");
	expect_open_error("driver: command\non: [true]\noff: [true]\nenv: [A=1]\n",
	                  "lab.yaml:4:", "");
	expect_open_error("driver: command\non: [true]\noff: [true]\nenv: {A: [1, 2]}\n",
	                  "lab.yaml:4:", "NAME: value");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_command_on_runs_argv_with_board_substituted,
	                              no_children_left),
	    cmocka_unit_test_teardown(test_command_substitutes_every_board_and_nothing_else,
	                              no_children_left),
	    cmocka_unit_test_teardown(test_command_runs_without_shell, no_children_left),
	    cmocka_unit_test_teardown(test_command_stdin_is_empty, no_children_left),
	    cmocka_unit_test_teardown(test_command_nonzero_exit_is_error_with_output,
	                              no_children_left),
	    cmocka_unit_test_teardown(test_command_error_shows_stdout_when_stderr_is_empty,
	                              no_children_left),
	    cmocka_unit_test_teardown(test_command_false_is_error_without_output, no_children_left),
	    cmocka_unit_test_teardown(test_command_killed_by_signal_is_error, no_children_left),
	    cmocka_unit_test_teardown(test_command_gets_default_signals_even_if_hilctl_ignores_them,
	                              no_children_left),
	    cmocka_unit_test_teardown(test_command_missing_program_is_enoent, no_children_left),
	    cmocka_unit_test_teardown(test_command_timeout_kills_process_group_and_reaps,
	                              no_children_left),
	    cmocka_unit_test_teardown(test_command_timeout_sigkills_what_ignores_sigterm,
	                              no_children_left),
	    cmocka_unit_test_teardown(
	        test_command_returns_when_leader_exits_though_child_keeps_pipe, no_children_left),
	    cmocka_unit_test_teardown(test_command_output_is_bounded_and_drained, no_children_left),
	    cmocka_unit_test_teardown(test_command_env_adds_and_replaces_variables,
	                              no_children_left),
	    cmocka_unit_test_teardown(test_command_status_regex_on_and_off, no_children_left),
	    cmocka_unit_test_teardown(test_command_status_matching_neither_or_both_is_unknown,
	                              no_children_left),
	    cmocka_unit_test_teardown(test_command_status_only_on_regex_never_guesses_off,
	                              no_children_left),
	    cmocka_unit_test_teardown(test_command_status_regex_with_failing_command_is_error,
	                              no_children_left),
	    cmocka_unit_test_teardown(test_command_status_exit_code_convention, no_children_left),
	    cmocka_unit_test_teardown(test_command_without_status_is_unknown_and_runs_nothing,
	                              no_children_left),
	    cmocka_unit_test_teardown(test_command_status_timeout_is_error, no_children_left),
	    cmocka_unit_test_teardown(test_command_default_timeout_is_set, no_children_left),
	    cmocka_unit_test_teardown(test_command_open_refuses_bad_settings, no_children_left),
	};
	char cmd[128];
	int rc;

	/* Orphans of the commands come to this process, where tests reap them. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return 1;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_command.XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
