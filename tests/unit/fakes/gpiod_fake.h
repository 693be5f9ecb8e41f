/* tests/unit/fakes/gpiod_fake.h — stand-ins for the libgpiod 1.6 calls that
 * power/gpio.c makes, linked in with -Wl,--wrap=SYMBOL (see test_gpio.mk).
 *
 * Calls that act on the hardware (open, look up, request, set, get, release,
 * close) are checked with cmocka: each records function_called(), checks its
 * arguments against expect_*() and returns what will_return() queued; a
 * failing call takes a second will_return() value for errno. Plain getters
 * (chip name, number of lines, line offset, consumer) answer from fake_gpiod.
 * glob() and access() see the /dev/gpiochip* files fake_gpiod describes, not
 * the host's. */
#ifndef HILCTL_GPIOD_FAKE_H
#define HILCTL_GPIOD_FAKE_H

#include <glob.h>
#include <stdbool.h>

#include <gpiod.h>

struct fake_gpiod {
	const char *chip_name;     /* gpiod_chip_name() */
	unsigned int num_lines;    /* gpiod_chip_num_lines() */
	unsigned int line_offset;  /* gpiod_line_offset() */
	const char *consumer;      /* gpiod_line_consumer(), NULL when free */
	const char *forbidden_dev; /* a /dev/gpiochip* this user may not open */
};

extern struct fake_gpiod fake_gpiod;

/* Distinct non-NULL handles; never dereferenced. */
#define FAKE_CHIP ((struct gpiod_chip *)(void *)&fake_gpiod)
#define FAKE_LINE ((struct gpiod_line *)(void *)&fake_gpiod.line_offset)

/* Reset fake_gpiod to gpiochip0 with 54 lines and line 17. */
void fake_gpiod_reset(void);

struct gpiod_chip *__wrap_gpiod_chip_open_lookup(const char *descr);
void __wrap_gpiod_chip_close(struct gpiod_chip *chip);
const char *__wrap_gpiod_chip_name(struct gpiod_chip *chip);
unsigned int __wrap_gpiod_chip_num_lines(struct gpiod_chip *chip);
struct gpiod_line *__wrap_gpiod_chip_get_line(struct gpiod_chip *chip, unsigned int offset);
struct gpiod_line *__wrap_gpiod_chip_find_line(struct gpiod_chip *chip, const char *name);
unsigned int __wrap_gpiod_line_offset(struct gpiod_line *line);
int __wrap_gpiod_line_request_output(struct gpiod_line *line, const char *consumer,
                                     int default_val);
int __wrap_gpiod_line_set_value(struct gpiod_line *line, int value);
int __wrap_gpiod_line_get_value(struct gpiod_line *line);
int __wrap_gpiod_line_update(struct gpiod_line *line);
const char *__wrap_gpiod_line_consumer(struct gpiod_line *line);
void __wrap_gpiod_line_release(struct gpiod_line *line);
int __wrap_glob(const char *pattern, int flags, int (*errfunc)(const char *, int), glob_t *g);
void __wrap_globfree(glob_t *g);
int __wrap_access(const char *path, int mode);

#endif
