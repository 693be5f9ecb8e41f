/* tests/unit/test_journal_write.c — the one journal writer
 * (reports/journal_write.c): whole synced lines, a full disk reported with
 * the file and what to do, and never half a record left behind. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/log.h"
#include "reports/journal_write.h"

static char logbuf[4096];

static int setup(void **state)
{
	(void)state;
	memset(logbuf, 0, sizeof(logbuf));
	log_capture(logbuf, sizeof(logbuf));
	return 0;
}

static void test_journal_write_appends_whole_lines(void **state)
{
	char path[] = "/tmp/test_journal_write.XXXXXX";
	int fd = mkstemp(path);
	char buf[128] = "";
	ssize_t n;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(journal_write_line(fd, path, "{\"a\":1}\n", "resume"), 0);
	assert_int_equal(journal_write_line(fd, path, "{\"b\":2}\n", "resume"), 0);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	assert_int_equal(n, 16);
	assert_string_equal(buf, "{\"a\":1}\n{\"b\":2}\n");
	assert_string_equal(logbuf, "");
	close(fd);
	unlink(path);
}

static void test_journal_write_names_file_and_fix_on_a_full_disk(void **state)
{
	int fd = open("/dev/full", O_WRONLY);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(
	    journal_write_line(fd, "/out/journal.jsonl", "{\"a\":1}\n", "resume with --resume"),
	    -ENOSPC);
	assert_non_null(strstr(logbuf, "/out/journal.jsonl"));
	assert_non_null(strstr(logbuf, "No space left on device"));
	assert_non_null(strstr(logbuf, "resume with --resume"));
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_journal_write_appends_whole_lines, setup),
	    cmocka_unit_test_setup(test_journal_write_names_file_and_fix_on_a_full_disk, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
