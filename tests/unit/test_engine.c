/* tests/unit/test_engine.c — one run through the engine without QEMU: the
 * scenario's steps, each fault kind at its trigger, and the oracle's verdict,
 * against a fake board in a thread of this test.
 *
 * The fake board is sim_lab.py's board in C: a raw TCP console on
 * 127.0.0.1 (the lab's `console: {type: tcp}`), power through the command
 * driver writing "on"/"off" into a fifo the board reads, a network switch the
 * same way. It boots in ~30 ms to "hilctl-probe: version=V slot=S
 * committed=C", updates on "hilctl-update now" (download, eight writes 150 ms apart, flip,
 * reboot into a trial that commits or, with a failing self-test, falls back),
 * and records every line it is sent and every power and link change, so a
 * test asserts what a user would check: the verdict, whether the fault was
 * injected, what the board saw. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness/lab/board.h"
#include "harness/lab/lab.h"
#include "harness/run/engine.h"
#include "harness/run/scenario.h"
#include "lib/log.h"

#define MS 1000000LL
#define MAX_TIMERS 32

enum act { A_BOOT, A_SAY, A_FLIP, A_SELFTEST };

struct timer {
	int64_t when;
	enum act act;
	char text[96];
};

struct fake {
	/* knobs, set before the run */
	bool selftest_fails; /* the new version's self-test fails: fall back */
	bool brick_on_flip;  /* the flipped slot never boots: silence */
	/* state */
	int listen_fd, client_fd, power_fd, net_fd, quit[2];
	int port;
	bool powered, bricked;
	char version[8];
	char slot;
	bool committed;
	struct timer timers[MAX_TIMERS];
	int n_timers;
	char in[1024];
	size_t in_len;
	/* record, read by the test after the run */
	pthread_mutex_t mu;
	char sent[4096];   /* every line the board was sent, '\n'-joined */
	char changes[256]; /* power and link: "on off on down up " */
	pthread_t th;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void after(struct fake *f, int64_t ms, enum act a, const char *text)
{
	struct timer *t;

	if (f->n_timers == MAX_TIMERS)
		return;
	t = &f->timers[f->n_timers++];
	t->when = now_ns() + ms * MS;
	t->act = a;
	snprintf(t->text, sizeof(t->text), "%s", text ? text : "");
}

static void say(struct fake *f, const char *text)
{
	if (f->powered && f->client_fd >= 0 && write(f->client_fd, text, strlen(text)) < 0)
		f->client_fd = -1;
}

static void record(struct fake *f, char *buf, size_t size, const char *text)
{
	size_t used;

	pthread_mutex_lock(&f->mu);
	used = strlen(buf);
	snprintf(buf + used, size - used, "%s", text);
	pthread_mutex_unlock(&f->mu);
}

static void boot(struct fake *f)
{
	char line[128];

	f->n_timers = 0;
	if (f->bricked)
		return;
	say(f, "U-Boot 2023.01-fake\r\n");
	snprintf(line, sizeof(line), "hilctl-probe: version=%s slot=%c committed=%d\r\n",
	         f->version, f->slot, f->committed);
	say(f, line);
	if (f->committed)
		say(f, "fake# ");
	else
		after(f, 20, A_SELFTEST, NULL);
}

static void selftest(struct fake *f)
{
	char line[96];

	if (f->selftest_fails) {
		/* The trial failed: the boot loader goes back to the old slot. */
		say(f, "hilctl-agent: self-test failed\r\nU-Boot: slot=A reason=fallback\r\n");
		snprintf(f->version, sizeof(f->version), "1");
		f->slot = 'A';
		f->committed = true;
		after(f, 10, A_BOOT, NULL);
		return;
	}
	f->committed = true;
	snprintf(line, sizeof(line), "hilctl-agent: commit slot=%c\r\nfake# ", f->slot);
	say(f, line);
}

static void command(struct fake *f, const char *line)
{
	char text[64];

	record(f, f->sent, sizeof(f->sent), line);
	record(f, f->sent, sizeof(f->sent), "\n");
	if (!f->powered)
		return;
	if (!strcmp(line, "hilctl-update now")) {
		after(f, 10, A_SAY, "hilctl-agent: download start\r\n");
		for (int i = 0; i < 8; i++) {
			snprintf(text, sizeof(text), "hilctl-agent: write offset=%d\r\n",
			         i * 1048576);
			after(f, 10 + 150 * (i + 1), A_SAY, text);
		}
		after(f, 10 + 150 * 9, A_FLIP, NULL);
	} else if (!strcmp(line, "echo hilctl-alive-$((6*7))")) {
		say(f, "hilctl-alive-42\r\nfake# ");
	} else {
		say(f, "fake# ");
	}
}

static void fire(struct fake *f, const struct timer *t)
{
	switch (t->act) {
	case A_BOOT:
		boot(f);
		break;
	case A_SAY:
		say(f, t->text);
		break;
	case A_FLIP:
		snprintf(f->version, sizeof(f->version), "2");
		f->slot = 'B';
		f->committed = false;
		f->bricked = f->brick_on_flip;
		say(f, "hilctl-agent: flip slot=B\r\nfake: rebooting\r\n");
		after(f, 10, A_BOOT, NULL);
		break;
	case A_SELFTEST:
		selftest(f);
		break;
	}
}

/* "on\n"/"off\n" (power) or "up\n"/"down\n" (link) from a fifo. */
static void control(struct fake *f, int fd, bool is_power)
{
	char buf[64];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	if (n <= 0)
		return;
	buf[n] = '\0';
	for (char *tok = strtok(buf, "\n"); tok; tok = strtok(NULL, "\n")) {
		record(f, f->changes, sizeof(f->changes), tok);
		record(f, f->changes, sizeof(f->changes), " ");
		if (!is_power)
			continue;
		bool on = !strcmp(tok, "on");
		if (on == f->powered)
			continue;
		f->powered = on;
		f->n_timers = 0;
		f->in_len = 0;
		if (on)
			after(f, 30, A_BOOT, NULL);
	}
}

static void input(struct fake *f)
{
	ssize_t n = read(f->client_fd, f->in + f->in_len, sizeof(f->in) - f->in_len - 1);
	char *nl;

	if (n <= 0) {
		close(f->client_fd);
		f->client_fd = -1;
		return;
	}
	f->in_len += (size_t)n;
	f->in[f->in_len] = '\0';
	while ((nl = strchr(f->in, '\n'))) {
		*nl = '\0';
		if (nl > f->in && nl[-1] == '\r')
			nl[-1] = '\0';
		command(f, f->in);
		memmove(f->in, nl + 1, f->in_len - (size_t)(nl + 1 - f->in) + 1);
		f->in_len = strlen(f->in);
	}
	if (f->in_len == sizeof(f->in) - 1)
		f->in_len = 0;
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;

	for (;;) {
		struct pollfd p[5] = {{f->quit[0], POLLIN, 0},
		                      {f->listen_fd, POLLIN, 0},
		                      {f->power_fd, POLLIN, 0},
		                      {f->net_fd, POLLIN, 0},
		                      {f->client_fd, POLLIN, 0}};
		int64_t wait = 50 * MS, t = now_ns();

		for (int i = 0; i < f->n_timers; i++)
			if (f->timers[i].when - t < wait)
				wait = f->timers[i].when - t;
		if (poll(p, f->client_fd >= 0 ? 5 : 4, wait < 0 ? 0 : (int)(wait / MS) + 1) < 0 &&
		    errno != EINTR)
			break;
		if (p[0].revents)
			break;
		if (p[1].revents & POLLIN) {
			int c = accept(f->listen_fd, NULL, NULL);
			if (f->client_fd >= 0)
				close(f->client_fd);
			f->client_fd = c;
		}
		if (p[2].revents & POLLIN)
			control(f, f->power_fd, true);
		if (p[3].revents & POLLIN)
			control(f, f->net_fd, false);
		if (f->client_fd >= 0 && (p[4].revents & (POLLIN | POLLHUP)))
			input(f);
		/* Fire due timers in order; one may add or clear others. */
		for (bool fired = true; fired;) {
			fired = false;
			t = now_ns();
			for (int i = 0; i < f->n_timers; i++) {
				if (f->timers[i].when > t)
					continue;
				struct timer due = f->timers[i];
				f->timers[i] = f->timers[--f->n_timers];
				fire(f, &due);
				fired = true;
				break;
			}
		}
	}
	return NULL;
}

/* ---- the lab and the scenario a test writes ---- */

static char dir[64];
static struct fake fake;
static struct lab *lab;

static const char *path_in(const char *name)
{
	static char p[4][128];
	static int i;
	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static void write_text(const char *name, const char *text)
{
	FILE *out = fopen(path_in(name), "w");
	assert_non_null(out);
	fputs(text, out);
	fclose(out);
}

static int open_fifo(const char *name)
{
	assert_int_equal(mkfifo(path_in(name), 0600), 0);
	/* O_RDWR: the board keeps its own writer, so a command that wrote and
	 * exited is not an end of file. */
	return open(path_in(name), O_RDWR | O_NONBLOCK | O_CLOEXEC);
}

static int setup(void **state)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	char text[2048];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/hilctl-test-engine.XXXXXX");
	assert_non_null(mkdtemp(dir));
	setenv("HILCTL_LOCK_DIR", path_in("locks"), 1);
	setenv("HILCTL_RUN_DIR", path_in("run"), 1);
	memset(&fake, 0, sizeof(fake));
	pthread_mutex_init(&fake.mu, NULL);
	snprintf(fake.version, sizeof(fake.version), "1");
	fake.slot = 'A';
	fake.committed = true;
	fake.client_fd = -1;
	fake.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fake.listen_fd >= 0);
	assert_int_equal(bind(fake.listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fake.listen_fd, 4), 0);
	assert_int_equal(getsockname(fake.listen_fd, (struct sockaddr *)&a, &len), 0);
	fake.port = ntohs(a.sin_port);
	fake.power_fd = open_fifo("power");
	fake.net_fd = open_fifo("net");
	assert_int_equal(pipe(fake.quit), 0);
	snprintf(text, sizeof(text),
	         "lab: engine-unit\n"
	         "boards:\n"
	         "  - name: fake1\n"
	         "    tags: [fake]\n"
	         "    power: {driver: command, on: [sh, -c, 'echo on > %s/power'],"
	         " off: [sh, -c, 'echo off > %s/power']}\n"
	         "    network: {driver: command, on: [sh, -c, 'echo up > %s/net'],"
	         " off: [sh, -c, 'echo down > %s/net']}\n"
	         "    console: {type: tcp, host: 127.0.0.1, port: %d}\n"
	         "    probes:\n"
	         "      version: 'hilctl-probe: version=(?<version>\\S+) slot=(?<slot>[AB]) "
	         "committed=(?<committed>[01])'\n"
	         "      banner: '^U-Boot 20\\d\\d'\n"
	         "      commit: 'hilctl-agent: commit slot='\n"
	         "      phase: '^hilctl-agent: (?<phase>[a-z]+)'\n"
	         "      alive: {send: 'echo hilctl-alive-$((6*7))', expect: 'hilctl-alive-42'}\n",
	         dir, dir, dir, dir, fake.port);
	write_text("lab.yaml", text);
	lab = lab_load(path_in("lab.yaml"));
	assert_non_null(lab);
	assert_int_equal(pthread_create(&fake.th, NULL, fake_main, &fake), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	if (write(fake.quit[1], "q", 1) != 1)
		return -1;
	pthread_join(fake.th, NULL);
	lab_free(lab);
	close(fake.listen_fd);
	if (fake.client_fd >= 0)
		close(fake.client_fd);
	close(fake.power_fd);
	close(fake.net_fd);
	close(fake.quit[0]);
	close(fake.quit[1]);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

#define STEPS                                                                                      \
	"steps:\n"                                                                                 \
	"  - power: on\n"                                                                          \
	"  - expect: 'hilctl-probe: version=1 slot=A committed=1'\n"                               \
	"    timeout: 10s\n"                                                                       \
	"  - expect: 'fake# '\n"                                                                   \
	"    timeout: 10s\n"                                                                       \
	"  - send: 'hilctl-update now'\n"

#define ORACLE "oracle: {boot_timeout: 5s, settle: 3s, ladder: 1, loop_limit: 4, alive: true}\n"

/* Run the scenario text (its steps and faults) once on fake1. */
static void run(const char *scenario_text, struct run_result *res)
{
	struct board b;
	struct engine_ctx ctx = {0};
	struct scenario *sc;
	struct run_spec spec = {.point = "-", .seed = 1, .run_id = 1};

	write_text("sc.yaml", scenario_text);
	sc = scenario_load(path_in("sc.yaml"));
	assert_non_null(sc);
	spec.sc = sc;
	spec.timeline_path = path_in("timeline.jsonl");
	assert_int_equal(board_open(&b, lab, "fake1", NULL, 0), 0);
	ctx.board = &b;
	memset(res, 0, sizeof(*res));
	engine_run(&ctx, &spec, res);
	engine_ctx_close(&ctx);
	board_close(&b);
	scenario_free(sc);
}

/* What the board recorded, once it has caught up: the engine's last power
 * or link command may still sit in the fifo when engine_run() returns, and
 * a sent line in the socket. Waits up to 5 s for buf to equal (exact) or
 * contain want; returns whether it did. */
static bool board_saw(char *buf, const char *want, bool exact)
{
	int64_t deadline = now_ns() + 5000 * MS;
	bool ok;

	for (;;) {
		pthread_mutex_lock(&fake.mu);
		ok = exact ? strcmp(buf, want) == 0 : strstr(buf, want) != NULL;
		pthread_mutex_unlock(&fake.mu);
		if (ok || now_ns() > deadline)
			return ok;
		nanosleep(&(struct timespec){.tv_nsec = 10 * MS}, NULL);
	}
}

static bool evidence_has(const struct run_result *res, const char *text)
{
	for (size_t i = 0; i < res->n_evidence; i++)
		if (strstr(res->evidence[i].text, text))
			return true;
	return false;
}

static void test_engine_update_without_fault_is_upgraded_with_commit_evidence(void **state)
{
	struct run_result res;

	(void)state;
	run("scenario: plain\nfits: [fake]\nallowed: [upgraded]\nversions: {old: '1', new: "
	    "'2'}\n" STEPS ORACLE,
	    &res);
	assert_int_equal(res.verdict, VERDICT_UPGRADED);
	assert_true(res.pass);
	assert_true(evidence_has(&res, "commit slot=B"));
	assert_true(board_saw(fake.sent, "hilctl-update now\n", false));
	/* Off before the run (a known start), on, and off at the end. */
	assert_true(board_saw(fake.changes, "off on off ", true));
}

static void test_engine_power_cut_at_its_marker_then_judges_the_board(void **state)
{
	struct run_result res;

	(void)state;
	run("scenario: cut\nfits: [fake]\nallowed: [upgraded, rolled_back]\n"
	    "versions: {old: '1', new: '2'}\n" STEPS "  - fault:\n"
	    "      kind: power_cut\n"
	    "      marker: 'hilctl-agent: write offset=2097152\\b'\n"
	    "      off_time: 100ms\n"
	    "      timeout: 10s\n" ORACLE,
	    &res);
	assert_int_equal(res.n_faults, 1);
	assert_int_equal(res.faults[0].kind, FAULT_POWER_CUT);
	assert_true(res.faults[0].injected);
	assert_non_null(strstr(res.faults[0].trigger, "write offset=2097152"));
	/* Cut before the flip: the board comes back on its old slot. */
	assert_int_equal(res.verdict, VERDICT_ROLLED_BACK);
	assert_true(res.pass);
	assert_true(board_saw(fake.changes, "off on off on off ", true));
}

static void test_engine_fault_whose_marker_never_comes_is_not_a_pass(void **state)
{
	struct run_result res;

	(void)state;
	run("scenario: never\nfits: [fake]\nallowed: [upgraded, rolled_back]\n"
	    "versions: {old: '1', new: '2'}\n" STEPS "  - fault:\n"
	    "      kind: power_cut\n"
	    "      marker: 'hilctl-agent: write offset=99999999'\n"
	    "      timeout: 2s\n" ORACLE,
	    &res);
	assert_int_equal(res.n_faults, 1);
	assert_false(res.faults[0].injected);
	assert_true(res.not_injected);
	assert_false(res.pass);
}

static void test_engine_failed_selftest_falls_back_and_says_why(void **state)
{
	struct run_result res;

	(void)state;
	fake.selftest_fails = true;
	run("scenario: selftest\nfits: [fake]\nallowed: [rolled_back]\n"
	    "versions: {old: '1', new: '2'}\n" STEPS ORACLE,
	    &res);
	assert_int_equal(res.verdict, VERDICT_ROLLED_BACK);
	assert_true(res.pass);
	assert_true(evidence_has(&res, "version=1 slot=A"));
	assert_false(evidence_has(&res, "commit slot=B"));
}

static void test_engine_board_silent_after_flip_is_not_a_pass(void **state)
{
	struct run_result res;

	(void)state;
	fake.brick_on_flip = true;
	run("scenario: brick\nfits: [fake]\nallowed: [upgraded, rolled_back]\n"
	    "versions: {old: '1', new: '2'}\n" STEPS ORACLE,
	    &res);
	assert_false(res.pass);
	assert_true(res.verdict == VERDICT_BRICKED || res.verdict == VERDICT_HUNG);
}

static void test_engine_precondition_timeout_is_an_infra_error(void **state)
{
	struct run_result res;

	(void)state;
	run("scenario: pre\nfits: [fake]\nallowed: [upgraded]\nversions: {old: '1', new: '2'}\n"
	    "steps:\n"
	    "  - power: on\n"
	    "  - expect: 'hilctl-probe: version=7'\n"
	    "    timeout: 1s\n" ORACLE,
	    &res);
	assert_int_equal(res.verdict, VERDICT_INFRA_ERROR);
	assert_false(res.pass);
	assert_non_null(strstr(res.reason, "version=7"));
	/* The engine leaves the board off, whatever happened. */
	assert_true(board_saw(fake.changes, "off on off ", true));
}

static void test_engine_network_fault_takes_the_link_down_and_up(void **state)
{
	struct run_result res;

	(void)state;
	run("scenario: net\nfits: [fake]\nallowed: [upgraded]\nversions: {old: '1', new: "
	    "'2'}\n" STEPS "  - fault:\n"
	    "      kind: network\n"
	    "      marker: 'hilctl-agent: download start'\n"
	    "      down: 100ms\n"
	    "      timeout: 10s\n" ORACLE,
	    &res);
	assert_int_equal(res.n_faults, 1);
	assert_int_equal(res.faults[0].kind, FAULT_NETWORK);
	assert_true(res.faults[0].injected);
	assert_true(board_saw(fake.changes, "down up ", false));
	assert_int_equal(res.verdict, VERDICT_UPGRADED);
}

static void test_engine_hang_fault_sends_its_command_on_the_console(void **state)
{
	struct run_result res;

	(void)state;
	run("scenario: hang\nfits: [fake]\nallowed: [upgraded]\nversions: {old: '1', new: "
	    "'2'}\n" STEPS "  - fault:\n"
	    "      kind: hang\n"
	    "      marker: 'hilctl-agent: download start'\n"
	    "      command: 'kill -STOP 1234'\n"
	    "      timeout: 10s\n" ORACLE,
	    &res);
	assert_int_equal(res.n_faults, 1);
	assert_true(res.faults[0].injected);
	assert_true(board_saw(fake.sent, "kill -STOP 1234", false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_engine_update_without_fault_is_upgraded_with_commit_evidence, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_engine_power_cut_at_its_marker_then_judges_the_board, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_engine_fault_whose_marker_never_comes_is_not_a_pass, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_failed_selftest_falls_back_and_says_why,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_board_silent_after_flip_is_not_a_pass,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_precondition_timeout_is_an_infra_error,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_network_fault_takes_the_link_down_and_up,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_hang_fault_sends_its_command_on_the_console,
	                                    setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
