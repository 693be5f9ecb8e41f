/* bench/relay_latency.c — how long the relay drivers take to cut power once
 * the trigger came (make bench-latency): the time of the gpio and ftdi
 * drivers' set() with the link-seam fakes of the unit tests standing in for
 * libgpiod and libftdi1 (tests/unit/fakes/), so what is timed is hilctl's
 * own code plus the fakes' cmocka bookkeeping; the fakes' cost alone is
 * timed too, to subtract. Real hardware adds its own call time (a GPIO
 * ioctl: microseconds; an FTDI session over USB: milliseconds).
 *
 *   relay_latency N OUT.tsv TIMELINE.jsonl
 *
 * OUT.tsv gets "driver path n p50_ns p99_ns max_ns" lines for:
 *   ops_set    the driver's set() alone, alternating on and off
 *   power_set  power_set(off) with a timeline, as the engine cuts power
 *   fake_only  the fake library calls one set() makes, called directly
 * It runs as two cmocka tests so the fakes' expectations are checked. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/cfg.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/timeline.h"
#include "power/power.h"
#include "fakes/ftdi_fake.h"
#include "fakes/gpiod_fake.h"
#include "lib/stop.h"


static long n_calls = 1000;
static FILE *out;
static const char *timeline_file;
static int64_t *samples;

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void summary(const char *driver, const char *path)
{
	size_t n = (size_t)n_calls;
	size_t p99 = (n * 99 + 99) / 100 - 1;

	qsort(samples, n, sizeof(*samples), cmp64);
	fprintf(out, "%s\t%s\t%zu\t%lld\t%lld\t%lld\n", driver, path, n,
	        (long long)samples[(n + 1) / 2 - 1], (long long)samples[p99],
	        (long long)samples[n - 1]);
}

static struct cfg_node *load(const char *driver_and_settings)
{
	char yaml[512];

	snprintf(yaml, sizeof(yaml), "boards:\n  - name: relay-01\n    power:\n%s",
	         driver_and_settings);
	return cfg_load_buf("bench.yaml", yaml, strlen(yaml));
}

static const struct cfg_node *power_node(struct cfg_node *root)
{
	return cfg_get(cfg_get(root, "boards")->child, "power");
}

/* ---- gpio: one gpiod_line_set_value() per set once the line is held */

static void expect_gpio_set(int level)
{
	expect_function_call(__wrap_gpiod_line_set_value);
	expect_value(__wrap_gpiod_line_set_value, value, level);
	will_return(__wrap_gpiod_line_set_value, 0);
}

static void bench_gpio(void **state)
{
	struct cfg_node *root = load("      driver: gpio\n      chip: gpiochip0\n      line: 17\n");
	struct power pw = {.ops = &power_gpio_ops, .board = "relay-01"};
	int64_t t;

	fake_gpiod_reset();
	expect_function_call(__wrap_gpiod_chip_open_lookup);
	expect_string(__wrap_gpiod_chip_open_lookup, descr, "gpiochip0");
	will_return(__wrap_gpiod_chip_open_lookup, FAKE_CHIP);
	expect_function_call(__wrap_gpiod_chip_get_line);
	expect_value(__wrap_gpiod_chip_get_line, offset, 17);
	will_return(__wrap_gpiod_chip_get_line, FAKE_LINE);
	assert_int_equal(power_gpio_ops.open(&pw, power_node(root)), 0);
	/* The first set requests the line; every later one just sets it. */
	expect_function_call(__wrap_gpiod_line_request_output);
	expect_string(__wrap_gpiod_line_request_output, consumer, "hilctl");
	expect_value(__wrap_gpiod_line_request_output, default_val, 1);
	will_return(__wrap_gpiod_line_request_output, 0);
	assert_int_equal(power_gpio_ops.set(&pw, true), 0);

	for (long i = 0; i < n_calls; i++) {
		bool on = i & 1;
		expect_gpio_set(on);
		t = clock_now_ns();
		assert_int_equal(power_gpio_ops.set(&pw, on), 0);
		samples[i] = clock_now_ns() - t;
	}
	summary("gpio", "ops_set");

	pw.tl = timeline_open(timeline_file, "relay-01");
	for (long i = 0; i < n_calls; i++) {
		expect_gpio_set(1);
		assert_int_equal(power_set(&pw, true), 0);
		expect_gpio_set(0);
		t = clock_now_ns();
		assert_int_equal(power_set(&pw, false), 0);
		samples[i] = pw.t_stopped_ns - t;
	}
	summary("gpio", "power_set");
	timeline_close(pw.tl);
	pw.tl = NULL;

	for (long i = 0; i < n_calls; i++) {
		expect_gpio_set(0);
		t = clock_now_ns();
		__wrap_gpiod_line_set_value(FAKE_LINE, 0);
		samples[i] = clock_now_ns() - t;
	}
	summary("gpio", "fake_only");

	expect_function_call(__wrap_gpiod_line_release);
	expect_function_call(__wrap_gpiod_chip_close);
	power_gpio_ops.close(&pw);
	cfg_free(root);
}

/* ---- ftdi: each set is a USB session: open, read pins, bitbang mode, read
 * pins, write, close (read-modify-write keeps the other channels) */

#define FTDI_OPEN "s:0x0403:0x6001:A50285BI"

static void expect_ftdi_set(unsigned char pins, unsigned char written)
{
	expect_function_call(__wrap_ftdi_usb_open_string);
	expect_string(__wrap_ftdi_usb_open_string, description, FTDI_OPEN);
	will_return(__wrap_ftdi_usb_open_string, 0);
	expect_function_call(__wrap_ftdi_read_pins);
	will_return(__wrap_ftdi_read_pins, pins);
	expect_function_call(__wrap_ftdi_set_bitmode);
	expect_value(__wrap_ftdi_set_bitmode, bitmask, 0xFF);
	expect_value(__wrap_ftdi_set_bitmode, mode, BITMODE_BITBANG);
	will_return(__wrap_ftdi_set_bitmode, 0);
	expect_function_call(__wrap_ftdi_read_pins);
	will_return(__wrap_ftdi_read_pins, pins);
	expect_function_call(__wrap_ftdi_write_data);
	expect_value(__wrap_ftdi_write_data, size, 1);
	expect_value(__wrap_ftdi_write_data, byte, written);
	will_return(__wrap_ftdi_write_data, 1);
	expect_function_call(__wrap_ftdi_usb_close);
}

/* Channel 2 (bit 1) of a board whose other pins read 0xA5. */
static unsigned char ftdi_pins(bool on)
{
	return on ? 0xA7 : 0xA5;
}

static void ftdi_fakes_directly(void)
{
	unsigned char pins, byte = 0xA5;

	__wrap_ftdi_usb_open_string(&fake_ftdi_ctx, FTDI_OPEN);
	__wrap_ftdi_read_pins(&fake_ftdi_ctx, &pins);
	__wrap_ftdi_set_bitmode(&fake_ftdi_ctx, 0xFF, BITMODE_BITBANG);
	__wrap_ftdi_read_pins(&fake_ftdi_ctx, &pins);
	__wrap_ftdi_write_data(&fake_ftdi_ctx, &byte, 1);
	__wrap_ftdi_usb_close(&fake_ftdi_ctx);
}

static void bench_ftdi(void **state)
{
	struct cfg_node *root =
	    load("      driver: ftdi\n      serial: A50285BI\n      channel: 2\n");
	struct power pw = {.ops = &power_ftdi_ops, .board = "relay-01"};
	int64_t t;

	memset(&fake_ftdi_ctx, 0, sizeof(fake_ftdi_ctx));
	expect_function_call(__wrap_ftdi_new);
	will_return(__wrap_ftdi_new, &fake_ftdi_ctx);
	assert_int_equal(power_ftdi_ops.open(&pw, power_node(root)), 0);

	for (long i = 0; i < n_calls; i++) {
		bool on = i & 1;
		expect_ftdi_set(ftdi_pins(!on), ftdi_pins(on));
		t = clock_now_ns();
		assert_int_equal(power_ftdi_ops.set(&pw, on), 0);
		samples[i] = clock_now_ns() - t;
	}
	summary("ftdi", "ops_set");

	pw.tl = timeline_open(timeline_file, "relay-01");
	for (long i = 0; i < n_calls; i++) {
		expect_ftdi_set(ftdi_pins(false), ftdi_pins(true));
		assert_int_equal(power_set(&pw, true), 0);
		expect_ftdi_set(ftdi_pins(true), ftdi_pins(false));
		t = clock_now_ns();
		assert_int_equal(power_set(&pw, false), 0);
		samples[i] = pw.t_stopped_ns - t;
	}
	summary("ftdi", "power_set");
	timeline_close(pw.tl);
	pw.tl = NULL;

	for (long i = 0; i < n_calls; i++) {
		expect_ftdi_set(0xA5, 0xA5);
		t = clock_now_ns();
		ftdi_fakes_directly();
		samples[i] = clock_now_ns() - t;
	}
	summary("ftdi", "fake_only");

	expect_function_call(__wrap_ftdi_free);
	power_ftdi_ops.close(&pw);
	cfg_free(root);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest benches[] = {
	    cmocka_unit_test(bench_gpio),
	    cmocka_unit_test(bench_ftdi),
	};
	int rc;

	if (argc < 4) {
		fprintf(stderr, "usage: relay_latency N OUT.tsv TIMELINE.jsonl\n");
		return 2;
	}
	n_calls = strtol(argv[1], NULL, 10);
	timeline_file = argv[3];
	samples = calloc((size_t)(n_calls > 0 ? n_calls : 1), sizeof(*samples));
	out = fopen(argv[2], "w");
	if (n_calls <= 0 || !samples || !out) {
		fprintf(stderr, "relay_latency: bad N or cannot write %s\n", argv[2]);
		return 2;
	}
	fprintf(out, "driver\tpath\tn\tp50_ns\tp99_ns\tmax_ns\n");
	rc = cmocka_run_group_tests(benches, NULL, NULL);
	fclose(out);
	free(samples);
	return rc;
}
