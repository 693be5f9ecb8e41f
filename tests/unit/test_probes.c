/* tests/unit/test_probes.c — a lab's probes: checked at load: a version
 * probe with no way to observe a commit is refused at its line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/cfg.h"
#include "lib/log.h"
#include "harness/lab/probes.h"

static char logbuf[1024];

static int check(const char *probes_yaml)
{
	struct cfg_node *root;
	int rc;

	logbuf[0] = '\0';
	log_capture(logbuf, sizeof(logbuf));
	root = cfg_load_buf("lab.yaml", probes_yaml, strlen(probes_yaml));
	assert_non_null(root);
	rc = probes_check(cfg_get(root, "probes"));
	cfg_free(root);
	log_capture(NULL, 0);
	return rc;
}

static void test_probes_version_without_commit_evidence_is_refused(void **s)
{
	assert_int_equal(
	    check("probes:\n"
	          "  version: 'rauc-probe: version=(?<version>\\S+) slot=(?<slot>\\S+)'\n"),
	    -EINVAL);
	assert_non_null(strstr(logbuf, "lab.yaml:2:"));
	assert_non_null(strstr(logbuf, "no way to observe a commit"));
	assert_non_null(strstr(logbuf, "(?<committed>"));
}

static void test_probes_commit_line_or_group_is_enough(void **s)
{
	assert_int_equal(check("probes:\n"
	                       "  version: 'rauc-probe: version=(?<version>\\S+)'\n"
	                       "  commit: 'rauc: mark-good'\n"),
	                 0);
	assert_int_equal(check("probes:\n"
	                       "  version: 'v=(?<version>\\S+) c=(?<committed>[01])'\n"),
	                 0);
	assert_int_equal(check("probes:\n"
	                       "  version: 'mender: version=(?<version>\\S+)'\n"
	                       "  commit: {send: 'fw_printenv upgrade_available',\n"
	                       "           expect: '^upgrade_available=0$', timeout: 5s}\n"),
	                 0);
	assert_int_equal(check("probes:\n"
	                       "  version: 'mender: version=(?<version>\\S+)'\n"
	                       "  commit: {send: 'fw_printenv upgrade_available'}\n"),
	                 -EINVAL);
	assert_non_null(strstr(logbuf, "needs send:"));
	/* No version probe: the board is not judged, nothing to observe. */
	assert_int_equal(check("probes:\n  banner: '^U-Boot'\n"), 0);
}

static void test_probes_bad_alive_and_evidence_are_named(void **s)
{
	assert_int_equal(check("probes:\n"
	                       "  version: 'v=(?<version>\\S+) c=(?<committed>[01])'\n"
	                       "  alive: {send: 'echo hi', expect: 'hi', timeout: soon}\n"),
	                 -EINVAL);
	assert_non_null(strstr(logbuf, "timeout"));
	assert_int_equal(check("probes:\n"
	                       "  version: 'v=(?<version>\\S+) c=(?<committed>[01])'\n"
	                       "  alive: {send: 'echo hi'}\n"),
	                 -EINVAL);
	assert_non_null(strstr(logbuf, "expect:"));
	assert_int_equal(check("probes:\n"
	                       "  version: 'v=(?<version>\\S+) c=(?<committed>[01])'\n"
	                       "  evidence: ['^hilctl-boot: ', 'slot=(']\n"),
	                 -EINVAL);
	assert_non_null(strstr(logbuf, "lab.yaml:3:"));
	assert_non_null(strstr(logbuf, "not a valid regex"));
	assert_int_equal(check("probes:\n"
	                       "  version: 'v=(?<version>\\S+) c=(?<committed>[01])'\n"
	                       "  evidence: '^hilctl-boot: '\n"
	                       "  alive: {send: 'echo hi', expect: 'hi', timeout: 20s}\n"),
	                 0);
}

static void test_probes_flip_needs_a_trial_line(void **s)
{
	assert_int_equal(check("probes:\n"
	                       "  version: 'v=(?<version>\\S+) c=(?<committed>[01])'\n"
	                       "  flip: 'flip slot=(?<slot>[AB])'\n"),
	                 -EINVAL);
	assert_non_null(strstr(logbuf, "lab.yaml:3:"));
	assert_non_null(strstr(logbuf, "needs probes.trial:"));
	assert_int_equal(check("probes:\n"
	                       "  version: 'v=(?<version>\\S+) c=(?<committed>[01])'\n"
	                       "  flip: 'flip slot=(?<slot>[AB])'\n"
	                       "  trial: 'slot=(?<slot>[AB]'\n"),
	                 -EINVAL);
	assert_non_null(strstr(logbuf, "lab.yaml:4:"));
	assert_int_equal(check("probes:\n"
	                       "  version: 'v=(?<version>\\S+) c=(?<committed>[01])'\n"
	                       "  flip: 'flip slot=(?<slot>[AB])'\n"
	                       "  trial: 'slot=(?<slot>[AB]) reason=trial'\n"),
	                 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_probes_version_without_commit_evidence_is_refused),
	    cmocka_unit_test(test_probes_commit_line_or_group_is_enough),
	    cmocka_unit_test(test_probes_bad_alive_and_evidence_are_named),
	    cmocka_unit_test(test_probes_flip_needs_a_trial_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
