/* tests/unit/fakes/gpiod_fake.c — the libgpiod 1.6 fakes described in
 * gpiod_fake.h. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gpiod_fake.h"

struct fake_gpiod fake_gpiod;

void fake_gpiod_reset(void)
{
	fake_gpiod =
	    (struct fake_gpiod){.chip_name = "gpiochip0", .num_lines = 54, .line_offset = 17};
}

/* A failing call takes errno from the queue after its return value (a macro:
 * cmocka queues values per calling function). */
#define RETURN_PTR_OR_ERRNO(type)                                                                  \
	do {                                                                                       \
		type ret_ = mock_ptr_type(type);                                                   \
		if (!ret_)                                                                         \
			errno = mock_type(int);                                                    \
		return ret_;                                                                       \
	} while (0)

#define RETURN_RC_OR_ERRNO()                                                                       \
	do {                                                                                       \
		int ret_ = mock_type(int);                                                         \
		if (ret_ < 0)                                                                      \
			errno = mock_type(int);                                                    \
		return ret_;                                                                       \
	} while (0)

struct gpiod_chip *__wrap_gpiod_chip_open_lookup(const char *descr)
{
	function_called();
	check_expected(descr);
	RETURN_PTR_OR_ERRNO(struct gpiod_chip *);
}

void __wrap_gpiod_chip_close(struct gpiod_chip *chip)
{
	function_called();
	assert_ptr_equal(chip, FAKE_CHIP);
}

const char *__wrap_gpiod_chip_name(struct gpiod_chip *chip)
{
	return fake_gpiod.chip_name;
}

unsigned int __wrap_gpiod_chip_num_lines(struct gpiod_chip *chip)
{
	return fake_gpiod.num_lines;
}

struct gpiod_line *__wrap_gpiod_chip_get_line(struct gpiod_chip *chip, unsigned int offset)
{
	function_called();
	assert_ptr_equal(chip, FAKE_CHIP);
	check_expected(offset);
	RETURN_PTR_OR_ERRNO(struct gpiod_line *);
}

struct gpiod_line *__wrap_gpiod_chip_find_line(struct gpiod_chip *chip, const char *name)
{
	function_called();
	assert_ptr_equal(chip, FAKE_CHIP);
	check_expected(name);
	RETURN_PTR_OR_ERRNO(struct gpiod_line *);
}

unsigned int __wrap_gpiod_line_offset(struct gpiod_line *line)
{
	return fake_gpiod.line_offset;
}

int __wrap_gpiod_line_request_output(struct gpiod_line *line, const char *consumer, int default_val)
{
	function_called();
	assert_ptr_equal(line, FAKE_LINE);
	check_expected(consumer);
	check_expected(default_val);
	RETURN_RC_OR_ERRNO();
}

int __wrap_gpiod_line_set_value(struct gpiod_line *line, int value)
{
	function_called();
	assert_ptr_equal(line, FAKE_LINE);
	check_expected(value);
	RETURN_RC_OR_ERRNO();
}

int __wrap_gpiod_line_get_value(struct gpiod_line *line)
{
	function_called();
	assert_ptr_equal(line, FAKE_LINE);
	RETURN_RC_OR_ERRNO();
}

int __wrap_gpiod_line_update(struct gpiod_line *line)
{
	function_called();
	assert_ptr_equal(line, FAKE_LINE);
	return 0;
}

const char *__wrap_gpiod_line_consumer(struct gpiod_line *line)
{
	return fake_gpiod.consumer;
}

void __wrap_gpiod_line_release(struct gpiod_line *line)
{
	function_called();
	assert_ptr_equal(line, FAKE_LINE);
}

int __wrap_glob(const char *pattern, int flags, int (*errfunc)(const char *, int), glob_t *g)
{
	static char *paths[2];

	assert_string_equal(pattern, "/dev/gpiochip*");
	memset(g, 0, sizeof(*g));
	if (!fake_gpiod.forbidden_dev)
		return GLOB_NOMATCH;
	paths[0] = (char *)fake_gpiod.forbidden_dev;
	paths[1] = NULL;
	g->gl_pathc = 1;
	g->gl_pathv = paths;
	return 0;
}

void __wrap_globfree(glob_t *g)
{
	/* the fake's paths are static */
}

int __wrap_access(const char *path, int mode)
{
	if (fake_gpiod.forbidden_dev && strcmp(path, fake_gpiod.forbidden_dev) == 0) {
		errno = EACCES;
		return -1;
	}
	return 0;
}
