/* tests/unit/test_filemode.c — the umask hilctl runs with: group write and
 * every bit for others taken away from the inherited mask, a stricter one
 * kept, $HILCTL_UMASK used as given when it is an octal mask. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/filemode.h"

static void test_umask_adds_group_write_and_other_bits(void **state)
{
	assert_int_equal(hil_umask_for(022, NULL), 027);
	assert_int_equal(hil_umask_for(002, ""), 027);
	assert_int_equal(hil_umask_for(0, NULL), 027);
}

static void test_stricter_umask_stays_stricter(void **state)
{
	assert_int_equal(hil_umask_for(077, NULL), 077);
	assert_int_equal(hil_umask_for(0277, NULL), 0277);
}

static void test_env_umask_is_used_as_given(void **state)
{
	assert_int_equal(hil_umask_for(077, "022"), 022);
	assert_int_equal(hil_umask_for(022, "0"), 0);
	assert_int_equal(hil_umask_for(022, "0777"), 0777);
}

static void test_env_umask_that_is_not_octal_is_refused(void **state)
{
	assert_int_equal(hil_umask_for(022, "8"), -1);
	assert_int_equal(hil_umask_for(022, "022x"), -1);
	assert_int_equal(hil_umask_for(022, "1000"), -1);
	assert_int_equal(hil_umask_for(022, "-1"), -1);
	assert_int_equal(hil_umask_for(022, "u=rwx"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_umask_adds_group_write_and_other_bits),
	    cmocka_unit_test(test_stricter_umask_stays_stricter),
	    cmocka_unit_test(test_env_umask_is_used_as_given),
	    cmocka_unit_test(test_env_umask_that_is_not_octal_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
