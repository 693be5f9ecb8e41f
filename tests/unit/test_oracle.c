/* tests/unit/test_oracle.c — the oracle on recorded console transcripts,
 * one per verdict (tests/unit/data/oracle/). A transcript is lines of
 * "SECONDS TEXT" (console lines; \0 and \xNN stand for raw bytes) and
 * "SECONDS @action result" for what the harness did when the oracle asked
 * (@power at the start, @cycle, @alive ok|fail, @check ok|fail); the last
 * line says "expect VERDICT". The test replays it and checks that the
 * oracle asks for exactly those actions and reaches that verdict. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/clock.h"
#include "harness/run/oracle.h"

#define DATA "tests/unit/data/oracle/"

struct event {
	int64_t t;
	char text[512];
	size_t len;
	bool action;
};

static size_t unescape(const char *in, char *out)
{
	size_t o = 0;

	for (const char *p = in; *p; p++) {
		if (p[0] == '\\' && p[1] == '0') {
			out[o++] = '\0';
			p++;
		} else if (p[0] == '\\' && p[1] == 'x' && p[2] && p[3]) {
			char hex[3] = {p[2], p[3], 0};
			out[o++] = (char)strtol(hex, NULL, 16);
			p += 3;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	return o;
}

static size_t load(const char *name, struct event *ev, size_t max, char *expect, int *n_checks)
{
	char path[256], line[600];
	FILE *f;
	size_t n = 0;

	snprintf(path, sizeof(path), DATA "%s", name);
	f = fopen(path, "r");
	assert_non_null(f);
	*n_checks = 0;
	while (fgets(line, sizeof(line), f) && n < max) {
		char *sp;
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || !line[0])
			continue;
		if (!strncmp(line, "expect ", 7)) {
			strcpy(expect, line + 7);
			continue;
		}
		sp = strchr(line, ' ');
		assert_non_null(sp);
		ev[n].t = (int64_t)(strtod(line, NULL) * NS_PER_S);
		ev[n].action = sp[1] == '@';
		ev[n].len = unescape(sp + 1, ev[n].text);
		*n_checks += !strncmp(sp + 1, "@check", 6);
		n++;
	}
	fclose(f);
	return n;
}

static void replay(const char *name)
{
	struct event ev[64];
	char expect[32] = "";
	int n_checks;
	size_t n = load(name, ev, 64, expect, &n_checks), i = 0;
	struct oracle_cfg cfg = {
	    .probe_re = "hilctl-probe: version=(?<version>\\S+) slot=(?<slot>[AB]) "
	                "committed=(?<committed>[01])",
	    .banner_re = "^U-Boot 20\\d\\d",
	    .commit_re = "hilctl-agent: commit slot=",
	    .panic_re = "Kernel panic",
	    .old_version = "1",
	    .new_version = "2",
	    .boot_timeout_ns = 40 * NS_PER_S,
	    .settle_ns = 20 * NS_PER_S,
	    .ladder = 2,
	    .loop_limit = 6,
	    .alive_check = true,
	    .n_checks = n_checks,
	};
	struct oracle *o = oracle_new(&cfg);
	int64_t now = 0, deadline;
	int index, guard = 0;

	assert_non_null(o);
	assert_string_equal(ev[0].text, "@power");
	oracle_power_restored(o, ev[0].t);
	i = 1;
	for (;;) {
		enum oracle_action a = oracle_next(o, now, &deadline, &index);

		assert_true(guard++ < 1000);
		if (a == ORACLE_DONE)
			break;
		if (a == ORACLE_WAIT) {
			if (i < n && !ev[i].action && ev[i].t <= deadline) {
				now = ev[i].t;
				oracle_line(o, now, ev[i].text, ev[i].len);
				i++;
			} else {
				now = deadline;
			}
			continue;
		}
		/* The oracle asked for an action: the transcript must say what
		 * the harness did next. */
		assert_true(i < n);
		assert_true(ev[i].action);
		now = ev[i].t;
		if (a == ORACLE_POWER_CYCLE) {
			assert_string_equal(ev[i].text, "@cycle");
			oracle_power_restored(o, now);
		} else if (a == ORACLE_ALIVE) {
			assert_int_equal(strncmp(ev[i].text, "@alive", 6), 0);
			oracle_alive(o, now, strstr(ev[i].text, "ok") != NULL);
		} else {
			assert_int_equal(strncmp(ev[i].text, "@check", 6), 0);
			oracle_check(o, now, index, strstr(ev[i].text, "ok") != NULL, "data check");
		}
		i++;
	}
	if (strcmp(verdict_name(oracle_verdict(o)), expect) != 0)
		fail_msg("%s: verdict %s (%s), transcript expects %s", name,
		         verdict_name(oracle_verdict(o)), oracle_reason(o), expect);
	{
		const struct oracle_evidence *e;
		size_t ne = oracle_evidence(o, &e);
		/* The evidence ends with the decision and its reason. */
		assert_true(ne >= 2);
		assert_string_equal(e[ne - 1].kind, "verdict");
		assert_string_equal(e[ne - 1].text, oracle_reason(o));
	}
	oracle_free(o);
}

static void test_oracle_upgraded(void **s)
{
	replay("upgraded.txt");
}
static void test_oracle_rolled_back(void **s)
{
	replay("rolled_back.txt");
}
static void test_oracle_rolled_back_after_failed_trials(void **s)
{
	replay("rolled_back_after_failed_trials.txt");
}
static void test_oracle_bricked_after_the_ladder(void **s)
{
	replay("bricked.txt");
}
static void test_oracle_boot_loop(void **s)
{
	replay("boot_loop.txt");
}
static void test_oracle_hung(void **s)
{
	replay("hung.txt");
}
static void test_oracle_inconsistent_when_never_committed(void **s)
{
	replay("inconsistent_uncommitted.txt");
}
static void test_oracle_inconsistent_when_a_check_fails(void **s)
{
	replay("inconsistent_check.txt");
}
static void test_oracle_hostile_console_bytes(void **s)
{
	replay("hostile.txt");
}

static void test_oracle_infra_error_is_never_the_board(void **s)
{
	struct oracle_cfg cfg = {.probe_re = "version=(?<version>\\S+)",
	                         .boot_timeout_ns = NS_PER_S};
	struct oracle *o = oracle_new(&cfg);

	oracle_power_restored(o, 0);
	oracle_infra(o, 1, "console closed under the harness (qemu exited?)");
	assert_int_equal(oracle_verdict(o), VERDICT_INFRA_ERROR);
	/* Nothing after that changes it. */
	oracle_line(o, 2, "version=2", 9);
	assert_int_equal(oracle_verdict(o), VERDICT_INFRA_ERROR);
	oracle_free(o);
}

static void test_oracle_forbidden_line_is_inconsistent(void **s)
{
	static const char *const forbid[] = {"hilctl-boot: slot=B", NULL};
	struct oracle_cfg cfg = {.probe_re = "version=(?<version>\\S+)",
	                         .boot_timeout_ns = NS_PER_S,
	                         .old_version = "1",
	                         .forbid = forbid};
	struct oracle *o = oracle_new(&cfg);

	oracle_power_restored(o, 0);
	oracle_line(o, 1, "hilctl-boot: slot=B reason=trial bootcount=1", 44);
	assert_int_equal(oracle_verdict(o), VERDICT_INCONSISTENT);
	assert_non_null(strstr(oracle_reason(o), "forbids"));
	oracle_free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_oracle_upgraded),
	    cmocka_unit_test(test_oracle_rolled_back),
	    cmocka_unit_test(test_oracle_rolled_back_after_failed_trials),
	    cmocka_unit_test(test_oracle_bricked_after_the_ladder),
	    cmocka_unit_test(test_oracle_boot_loop),
	    cmocka_unit_test(test_oracle_hung),
	    cmocka_unit_test(test_oracle_inconsistent_when_never_committed),
	    cmocka_unit_test(test_oracle_inconsistent_when_a_check_fails),
	    cmocka_unit_test(test_oracle_hostile_console_bytes),
	    cmocka_unit_test(test_oracle_infra_error_is_never_the_board),
	    cmocka_unit_test(test_oracle_forbidden_line_is_inconsistent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
