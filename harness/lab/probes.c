/* harness/lab/probes.c — the lab's probes: (what the oracle reads) checked
 * at load: regexes compile, alive: and a commit command are complete, and a
 * commit is observable. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "lib/cfg.h"
#include "harness/lab/probes.h"
#include "harness/run/expect.h"

#define EVIDENCE_MAX 8

/* One probe regex, compiled the way the expect engine will (the one check,
 * harness/run/expect.c); "" or absent is fine. */
static int check_one(const struct cfg_node *n)
{
	if (!n)
		return 0;
	if (n->type != CFG_SCALAR) {
		cfg_error(n, "must be a regular expression (a string)");
		return -EINVAL;
	}
	return n->value[0] ? expect_regex_ok(n, n->value) : 0;
}

/* Whether a (checked) version probe names a committed group. */
static bool has_committed_group(const char *pattern)
{
	pcre2_code *code;
	PCRE2_SIZE at;
	int err;
	bool has;

	code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_MULTILINE, &err, &at,
	                     NULL);
	if (!code)
		return false;
	has = pcre2_substring_number_from_name(code, (PCRE2_SPTR) "committed") > 0;
	pcre2_code_free(code);
	return has;
}

/* alive: and a command commit: probe are both {send, expect, timeout}. */
static int check_command(const struct cfg_node *alive)
{
	static const char *const keys[] = {"send", "expect", "timeout", NULL};
	int64_t timeout;

	if (!alive)
		return 0;
	if (cfg_expect_type(alive, CFG_MAP) < 0 || cfg_check_keys(alive, keys) < 0 ||
	    !cfg_get(alive, "send") || !cfg_get(alive, "expect")) {
		if (alive->type == CFG_MAP)
			cfg_error(alive, "needs send: (a line for the board) and expect: (a regex "
			                 "for its answer)");
		return -EINVAL;
	}
	if (check_one(cfg_get(alive, "expect")) < 0 ||
	    cfg_get_duration(alive, "timeout", false, &timeout) < 0)
		return -EINVAL;
	return 0;
}

static int check_evidence(const struct cfg_node *ev)
{
	size_t n = 0;

	if (!ev || ev->type == CFG_SCALAR)
		return check_one(ev);
	if (cfg_expect_type(ev, CFG_SEQ) < 0)
		return -EINVAL;
	for (const struct cfg_node *c = ev->child; c; c = c->next, n++)
		if (check_one(c) < 0)
			return -EINVAL;
	if (n > EVIDENCE_MAX) {
		cfg_error(ev, "lists %zu patterns; at most %d", n, EVIDENCE_MAX);
		return -EINVAL;
	}
	return 0;
}

int probes_check(const struct cfg_node *probes)
{
	static const char *const own[] = {"version", "commit", "banner", "alive", "evidence", NULL};
	const struct cfg_node *version = cfg_get(probes, "version");
	const struct cfg_node *commit = cfg_get(probes, "commit");

	if ((commit && commit->type == CFG_MAP ? check_command(commit) : check_one(commit)) < 0 ||
	    check_one(cfg_get(probes, "banner")) < 0 ||
	    check_command(cfg_get(probes, "alive")) < 0 ||
	    check_evidence(cfg_get(probes, "evidence")) < 0 || check_one(version) < 0)
		return -EINVAL;
	if (cfg_get(probes, "flip") && !cfg_get(probes, "trial")) {
		cfg_error(cfg_get(probes, "flip"),
		          "needs probes.trial: (the bootloader's line when it boots a slot on "
		          "trial, with a (?<slot>...) group): without it a failed self-test that "
		          "rolls back before any version probe would read as a new slot never "
		          "tried");
		return -EINVAL;
	}
	/* Any other probe is a regex too. */
	for (const struct cfg_node *c = probes ? probes->child : NULL; c; c = c->next) {
		bool known = false;
		for (int i = 0; own[i]; i++)
			known |= !strcmp(c->key, own[i]);
		if (!known && check_one(c) < 0)
			return -EINVAL;
	}
	if (!version || !version->value[0])
		return 0;
	if (has_committed_group(version->value) ||
	    (commit && (commit->type == CFG_MAP || commit->value[0])))
		return 0;
	cfg_error(version,
	          "gives no way to observe a commit, so a trial boot would pass as upgraded: add "
	          "a (?<committed>...) group to it, or probes.commit: (the line your update "
	          "client prints when it marks a version good, or {send: CMD, expect: REGEX} "
	          "whose answer matches only when committed)");
	return -EINVAL;
}
