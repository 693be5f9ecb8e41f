/* tests/unit/test_oracle.c — the oracle on recorded console transcripts,
 * one per verdict and per rule (tests/unit/data/oracle/). A transcript is
 * lines of "SECONDS TEXT" (console lines; \0 and \xNN stand for raw bytes)
 * and "SECONDS @action result" for what the harness did when the oracle
 * asked: @power (power came back) or @start (judging starts with the board
 * running) first, then @cycle, @alive ok|fail, @check ok|fail, @commit
 * ok|fail (the commit command probe matched or not). Console
 * lines before the first @power/@start came before judging; lines just
 * before an action's line came while the harness was asking. Directives:
 * "cfg KEY VALUE" changes the lab/scenario settings (probe, commit, banner,
 * evidence, max_boots, commit_probe on, flip, trial; "none" for no flip or
 * trial probe), "expect VERDICT", "reason TEXT" / "reason-lacks
 * TEXT" (the reason does / does not contain it), "evidence TEXT" (some
 * evidence line contains it), "no-evidence-kind KIND". The test replays
 * it, checks that the oracle asks for exactly those actions, consumes every
 * line, and reaches that verdict. */
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
#define MAX_EVENTS 96
#define MAX_ASSERTS 8

struct event {
	int64_t t;
	char text[512];
	size_t len;
	bool action;
};

struct transcript {
	struct event ev[MAX_EVENTS];
	size_t n;
	int n_checks;
	char expect[32];
	char probe[256], commit[256], banner[256], evidence[256], flip[256], trial[256];
	bool has_probe, has_commit, has_banner, has_evidence, has_flip, has_trial;
	int max_boots;
	bool commit_probe;
	char asserts[MAX_ASSERTS][128]; /* "reason X", "evidence X", ... */
	size_t n_asserts;
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

static void setting(struct transcript *tr, const char *kv)
{
	const char *v = strchr(kv, ' ');

	assert_non_null(v);
	v++;
	if (!strncmp(kv, "probe ", 6))
		tr->has_probe = snprintf(tr->probe, sizeof(tr->probe), "%s", v) > 0;
	else if (!strncmp(kv, "commit ", 7))
		tr->has_commit =
		    snprintf(tr->commit, sizeof(tr->commit), "%s", strcmp(v, "none") ? v : "") >= 0;
	else if (!strncmp(kv, "banner ", 7))
		tr->has_banner = snprintf(tr->banner, sizeof(tr->banner), "%s", v) > 0;
	else if (!strncmp(kv, "evidence ", 9))
		tr->has_evidence = snprintf(tr->evidence, sizeof(tr->evidence), "%s", v) > 0;
	else if (!strncmp(kv, "flip ", 5))
		tr->has_flip =
		    snprintf(tr->flip, sizeof(tr->flip), "%s", strcmp(v, "none") ? v : "") >= 0;
	else if (!strncmp(kv, "trial ", 6))
		tr->has_trial =
		    snprintf(tr->trial, sizeof(tr->trial), "%s", strcmp(v, "none") ? v : "") >= 0;
	else if (!strncmp(kv, "max_boots ", 10))
		tr->max_boots = atoi(v);
	else if (!strncmp(kv, "commit_probe ", 13))
		tr->commit_probe = !strcmp(v, "on");
	else
		fail_msg("unknown cfg line: %s", kv);
}

static void load(const char *name, struct transcript *tr)
{
	char path[256], line[600];
	FILE *f;

	snprintf(path, sizeof(path), DATA "%s", name);
	f = fopen(path, "r");
	assert_non_null(f);
	tr->max_boots = 8;
	while (fgets(line, sizeof(line), f)) {
		struct event *e = &tr->ev[tr->n];
		char *sp;
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || !line[0])
			continue;
		if (!strncmp(line, "expect ", 7)) {
			snprintf(tr->expect, sizeof(tr->expect), "%.31s", line + 7);
			continue;
		}
		if (!strncmp(line, "cfg ", 4)) {
			setting(tr, line + 4);
			continue;
		}
		if (line[0] < '0' || line[0] > '9') {
			assert_true(tr->n_asserts < MAX_ASSERTS);
			snprintf(tr->asserts[tr->n_asserts++], 128, "%.127s", line);
			continue;
		}
		assert_true(tr->n < MAX_EVENTS);
		sp = strchr(line, ' ');
		assert_non_null(sp);
		e->t = (int64_t)(strtod(line, NULL) * NS_PER_S);
		e->action = sp[1] == '@';
		e->len = unescape(sp + 1, e->text);
		tr->n_checks += !strncmp(sp + 1, "@check", 6);
		tr->n++;
	}
	fclose(f);
}

static bool evidence_has(const struct oracle *o, const char *kind, const char *text)
{
	const struct oracle_evidence *e;
	size_t ne = oracle_evidence(o, &e);

	for (size_t i = 0; i < ne; i++)
		if ((!kind || !strcmp(e[i].kind, kind)) && (!text || strstr(e[i].text, text)))
			return true;
	return false;
}

static void check_asserts(const char *name, const struct transcript *tr, const struct oracle *o)
{
	for (size_t k = 0; k < tr->n_asserts; k++) {
		const char *a = tr->asserts[k], *arg = strchr(a, ' ');
		bool ok = false;
		assert_non_null(arg);
		arg++;
		if (!strncmp(a, "reason ", 7))
			ok = strstr(oracle_reason(o), arg) != NULL;
		else if (!strncmp(a, "reason-lacks ", 13))
			ok = strstr(oracle_reason(o), arg) == NULL;
		else if (!strncmp(a, "evidence ", 9))
			ok = evidence_has(o, NULL, arg);
		else if (!strncmp(a, "no-evidence-kind ", 17))
			ok = !evidence_has(o, arg, NULL);
		else
			fail_msg("%s: unknown directive: %s", name, a);
		/* fail_msg does not return */
		if (!ok)
			fail_msg("%s: \"%s\" does not hold (reason: %s)", name, a,
			         oracle_reason(o));
	}
}

/* Feed console lines up to the next action: they came while the harness
 * waited or asked. */
static size_t feed_until_action(struct oracle *o, const struct transcript *tr, size_t i)
{
	for (; i < tr->n && !tr->ev[i].action; i++)
		oracle_line(o, tr->ev[i].t, tr->ev[i].text, tr->ev[i].len);
	return i;
}

static void act(struct oracle *o, enum oracle_action a, const struct event *e, int index)
{
	if (a == ORACLE_POWER_CYCLE) {
		assert_string_equal(e->text, "@cycle");
		oracle_power_restored(o, e->t);
	} else if (a == ORACLE_COMMIT_PROBE) {
		assert_int_equal(strncmp(e->text, "@commit", 7), 0);
		oracle_commit_probed(o, e->t, strstr(e->text, "ok") != NULL);
	} else if (a == ORACLE_ALIVE) {
		assert_int_equal(strncmp(e->text, "@alive", 6), 0);
		oracle_alive(o, e->t, strstr(e->text, "ok") != NULL);
	} else {
		assert_int_equal(strncmp(e->text, "@check", 6), 0);
		oracle_check(o, e->t, index, strstr(e->text, "ok") != NULL, "data check");
	}
}

/* The lab and scenario of the reference board, changed by "cfg" lines. */
static void make_cfg(struct transcript *tr, struct oracle_cfg *cfg, const char **evidence)
{
	*cfg = (struct oracle_cfg){
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
	    .alive_re = "hilctl-alive-42",
	    .n_checks = tr->n_checks,
	    .max_boots = tr->max_boots,
	    .commit_probe = tr->commit_probe,
	    .flip_re = "^hilctl-agent: flip slot=(?<slot>[AB])",
	    .trial_re = "^hilctl-boot: slot=(?<slot>[AB]) reason=trial",
	};
	if (tr->has_probe)
		cfg->probe_re = tr->probe;
	if (tr->has_commit)
		cfg->commit_re = tr->commit;
	if (tr->has_banner)
		cfg->banner_re = tr->banner;
	if (tr->has_flip)
		cfg->flip_re = tr->flip;
	if (tr->has_trial)
		cfg->trial_re = tr->trial;
	evidence[0] = tr->has_evidence ? tr->evidence : NULL;
	evidence[1] = NULL;
	cfg->evidence_re = evidence;
}

/* Drive the oracle from event i on; returns the events consumed. */
static size_t drive(const char *name, struct oracle *o, const struct transcript *tr, size_t i)
{
	int64_t now = tr->ev[i - 1].t, deadline;
	int index = 0, guard = 0;

	for (;;) {
		enum oracle_action a = oracle_next(o, now, &deadline, &index);

		assert_true(guard++ < 1000);
		if (a == ORACLE_DONE)
			return i;
		if (a == ORACLE_WAIT) {
			if (i < tr->n && !tr->ev[i].action && tr->ev[i].t <= deadline) {
				now = tr->ev[i].t;
				oracle_line(o, now, tr->ev[i].text, tr->ev[i].len);
				i++;
			} else {
				now = deadline;
			}
			continue;
		}
		/* The oracle asked for an action: the transcript must say what
		 * the harness did next (and what came meanwhile). */
		i = feed_until_action(o, tr, i);
		if (i >= tr->n)
			fail_msg("%s: the oracle asks for action %d, the transcript has none left",
			         name, (int)a);
		now = tr->ev[i].t;
		act(o, a, &tr->ev[i], index);
		i++;
	}
}

static void replay(const char *name)
{
	static struct transcript tr;
	struct oracle_cfg cfg;
	const char *evidence[2];
	const struct oracle_evidence *e;
	struct oracle *o;
	size_t i, ne;

	memset(&tr, 0, sizeof(tr));
	load(name, &tr);
	make_cfg(&tr, &cfg, evidence);
	o = oracle_new(&cfg);
	assert_non_null(o);
	i = feed_until_action(o, &tr, 0);
	assert_true(i < tr.n);
	if (!strcmp(tr.ev[i].text, "@start"))
		oracle_start(o, tr.ev[i].t);
	else if (!strcmp(tr.ev[i].text, "@power"))
		oracle_power_restored(o, tr.ev[i].t);
	else
		fail_msg("%s: the first action must be @power or @start", name);
	i = drive(name, o, &tr, i + 1);
	if (strcmp(verdict_name(oracle_verdict(o)), tr.expect) != 0)
		fail_msg("%s: verdict %s (%s), transcript expects %s", name,
		         verdict_name(oracle_verdict(o)), oracle_reason(o), tr.expect);
	if (i != tr.n)
		fail_msg("%s: decided at line %zu of %zu events: %s", name, i, tr.n,
		         oracle_reason(o));
	check_asserts(name, &tr, o);
	/* The evidence ends with the decision and its reason. */
	ne = oracle_evidence(o, &e);
	assert_true(ne >= 2);
	assert_string_equal(e[ne - 1].kind, "verdict");
	assert_string_equal(e[ne - 1].text, oracle_reason(o));
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

static void test_oracle_no_commit_line_means_trial_not_upgraded(void **s)
{
	replay("commit_line_required.txt");
}
static void test_oracle_new_version_without_commit_line_is_inconsistent(void **s)
{
	replay("commit_line_never_came.txt");
}
static void test_oracle_commit_line_makes_upgraded_with_its_evidence(void **s)
{
	replay("commit_line_upgraded.txt");
}
static void test_oracle_says_when_commit_is_not_observable(void **s)
{
	replay("commit_not_observable.txt");
}
static void test_oracle_a_late_alive_answer_counts(void **s)
{
	replay("alive_late_answer.txt");
}
static void test_oracle_alive_is_asked_once_more_before_hung(void **s)
{
	replay("alive_asked_again.txt");
}
static void test_oracle_old_version_on_the_new_slot_is_inconsistent(void **s)
{
	replay("slot_old_version_on_new_slot.txt");
}
static void test_oracle_new_version_on_the_old_slot_is_inconsistent(void **s)
{
	replay("slot_new_version_on_old_slot.txt");
}
static void test_oracle_boots_past_max_boots_are_a_boot_loop(void **s)
{
	replay("boot_loop_through_probe.txt");
}
static void test_oracle_a_check_answer_is_not_a_new_boot(void **s)
{
	replay("check_answer_is_not_a_boot.txt");
}
static void test_oracle_decision_lines_stay_in_the_evidence(void **s)
{
	replay("evidence_decision_lines.txt");
}
static void test_oracle_a_run_without_power_fault_shows_no_power_on(void **s)
{
	replay("fault_free_no_power_event.txt");
}
static void test_oracle_the_commit_probe_is_commit_evidence(void **s)
{
	replay("commit_probe_upgraded.txt");
}
static void test_oracle_a_commit_probe_that_never_says_committed_is_inconsistent(void **s)
{
	replay("commit_probe_never.txt");
}

static void test_oracle_a_flip_never_tried_is_inconsistent(void **s)
{
	replay("never_tried.txt");
}
static void test_oracle_a_flip_tried_then_fallen_back_is_rolled_back(void **s)
{
	replay("never_tried_but_tried.txt");
}
static void test_oracle_a_cut_trial_boot_counts_as_tried(void **s)
{
	replay("never_tried_cut_trial.txt");
}
static void test_oracle_the_last_flip_counts_after_an_earlier_rollback(void **s)
{
	replay("never_tried_after_rollback.txt");
}
static void test_oracle_without_a_flip_probe_a_fallback_is_rolled_back(void **s)
{
	replay("never_tried_no_flip_probe.txt");
}

static void test_oracle_a_fault_that_keeps_coming_back_is_a_boot_loop(void **s)
{
	struct oracle_cfg cfg = {.probe_re =
	                             "version=(?<version>\\S+) committed=(?<committed>[01])",
	                         .boot_timeout_ns = 40 * NS_PER_S,
	                         .evidence_re = (const char *const[]){"^boot: ", NULL}};
	struct oracle *o = oracle_new(&cfg);
	const struct oracle_evidence *e;
	size_t n;

	assert_non_null(o);
	oracle_power_restored(o, 0);
	oracle_line(o, NS_PER_S, "boot: slot=B reason=trial bootcount=1",
	            strlen("boot: slot=B reason=trial bootcount=1"));
	oracle_boot_loop(o, 2 * NS_PER_S, "the fault's trigger came again after 4 power cuts");
	assert_int_equal(oracle_verdict(o), VERDICT_BOOT_LOOP);
	assert_non_null(strstr(oracle_reason(o), "after 4 power cuts"));
	n = oracle_evidence(o, &e);
	assert_true(n >= 2);
	assert_string_equal(e[1].text, "boot: slot=B reason=trial bootcount=1");
	oracle_free(o);
}

/* Real console logs of the RAUC board (fixtures/raucdut, rauc 1.8). */
static void test_oracle_raucdut_upgraded_on_rauc_mark_good(void **s)
{
	replay("raucdut_upgraded.txt");
}
static void test_oracle_raucdut_cut_between_fw_setenv_calls_rolls_back(void **s)
{
	replay("raucdut_cut_between_fw_setenv.txt");
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
	    cmocka_unit_test(test_oracle_raucdut_upgraded_on_rauc_mark_good),
	    cmocka_unit_test(test_oracle_raucdut_cut_between_fw_setenv_calls_rolls_back),
	    cmocka_unit_test(test_oracle_rolled_back),
	    cmocka_unit_test(test_oracle_rolled_back_after_failed_trials),
	    cmocka_unit_test(test_oracle_bricked_after_the_ladder),
	    cmocka_unit_test(test_oracle_boot_loop),
	    cmocka_unit_test(test_oracle_hung),
	    cmocka_unit_test(test_oracle_inconsistent_when_never_committed),
	    cmocka_unit_test(test_oracle_inconsistent_when_a_check_fails),
	    cmocka_unit_test(test_oracle_hostile_console_bytes),
	    cmocka_unit_test(test_oracle_no_commit_line_means_trial_not_upgraded),
	    cmocka_unit_test(test_oracle_new_version_without_commit_line_is_inconsistent),
	    cmocka_unit_test(test_oracle_commit_line_makes_upgraded_with_its_evidence),
	    cmocka_unit_test(test_oracle_says_when_commit_is_not_observable),
	    cmocka_unit_test(test_oracle_a_late_alive_answer_counts),
	    cmocka_unit_test(test_oracle_alive_is_asked_once_more_before_hung),
	    cmocka_unit_test(test_oracle_old_version_on_the_new_slot_is_inconsistent),
	    cmocka_unit_test(test_oracle_new_version_on_the_old_slot_is_inconsistent),
	    cmocka_unit_test(test_oracle_boots_past_max_boots_are_a_boot_loop),
	    cmocka_unit_test(test_oracle_a_check_answer_is_not_a_new_boot),
	    cmocka_unit_test(test_oracle_decision_lines_stay_in_the_evidence),
	    cmocka_unit_test(test_oracle_a_run_without_power_fault_shows_no_power_on),
	    cmocka_unit_test(test_oracle_the_commit_probe_is_commit_evidence),
	    cmocka_unit_test(test_oracle_a_commit_probe_that_never_says_committed_is_inconsistent),
	    cmocka_unit_test(test_oracle_a_flip_never_tried_is_inconsistent),
	    cmocka_unit_test(test_oracle_a_fault_that_keeps_coming_back_is_a_boot_loop),
	    cmocka_unit_test(test_oracle_a_flip_tried_then_fallen_back_is_rolled_back),
	    cmocka_unit_test(test_oracle_a_cut_trial_boot_counts_as_tried),
	    cmocka_unit_test(test_oracle_the_last_flip_counts_after_an_earlier_rollback),
	    cmocka_unit_test(test_oracle_without_a_flip_probe_a_fallback_is_rolled_back),
	    cmocka_unit_test(test_oracle_infra_error_is_never_the_board),
	    cmocka_unit_test(test_oracle_forbidden_line_is_inconsistent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
