/* tests/unit/test_load_checks.c — lab files and scenarios are checked whole
 * when loaded (every driver's check(), consoles, network:, probe and
 * scenario regexes), each error naming file:line:col; no hardware is
 * opened. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness/lab/lab.h"
#include "harness/run/expect.h"
#include "harness/run/scenario.h"
#include "lib/cfg.h"
#include "lib/log.h"
#include "power/power.h"

static char logbuf[4096];
static char path[64];

static const char *write_file(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/hilctl-unit-%d.yaml", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Load text as a lab; expect it refused with "<path>:where" and what. */
static void lab_refused(const char *text, const char *where, const char *what)
{
	char at[128];
	struct lab *lab;

	log_capture(logbuf, sizeof(logbuf));
	lab = lab_load(write_file(text));
	unlink(path);
	if (lab)
		fail_msg("accepted: %s", text);
	snprintf(at, sizeof(at), "%s%s", path, where);
	if (!strstr(logbuf, at) || !strstr(logbuf, what))
		fail_msg("wanted \"%s\" and \"%s\" in: %s", at, what, logbuf);
}

#define BOARD "boards:\n  - name: b1\n    power: {driver: command, on: [true], off: [true]}\n"

static void test_lab_refuses_bad_driver_settings_at_load(void **state)
{
	lab_refused("boards:\n  - name: b1\n    power: {driver: command, on: [true], off: [true], "
	            "timeout: banana}\n",
	            ":3:64:", "\"banana\" is not a duration");
	lab_refused(
	    "boards:\n  - name: b1\n    power: {driver: gpio, chip: gpiochip0, line: 99999999}\n",
	    ":3:", "is not a line offset");
	lab_refused("boards:\n  - name: b1\n    power: {driver: ftdi, serial: A1, channel: 0}\n",
	            ":3:48:", "0 is out of range (1 to 8)");
	lab_refused("boards:\n  - name: b1\n    power: {driver: qemu, machine: virt}\n",
	            ":3:", "binary");
	lab_refused("boards:\n  - name: b1\n    power: {driver: pdudaemon, hostname: p}\n",
	            ":3:", "url:");
}

static void test_lab_refuses_bad_console_network_and_probes(void **state)
{
	lab_refused(BOARD "    console: {type: tcp, port: 99999999999}\n",
	            ":4:32:", "99999999999 is out of range (1 to 65535)");
	lab_refused(BOARD "    console: {type: serial, path: /dev/x, stop_bits: 3}\n",
	            ":4:", "3 is out of range (1 to 2)");
	lab_refused(BOARD "    network: {driver: qemu}\n",
	            ":4:23:", "needs the board's power driver to be qemu");
	lab_refused(BOARD "    network: {driver: command, on: [true], timeout: 5x}\n",
	            ":4:", "\"5x\" is not a duration");
	lab_refused(BOARD "    probes: {version: 'v=(?<version>\\S+'}\n",
	            ":4:23:", "is not a valid regex: missing closing parenthesis");
	lab_refused(BOARD "    probes: {alive: {send: x}}\n",
	            ":4:", "needs send: (a line for the board) and expect:");
}

static void test_lab_accepts_the_shipped_labs_without_hardware(void **state)
{
	static const char *const labs[] = {"fixtures/lab-qemu.yaml", "fixtures/lab-rpi-gpio.yaml",
	                                   "fixtures/lab-bbb-ftdi.yaml", NULL};

	for (int i = 0; labs[i]; i++) {
		struct lab *lab;
		log_capture(logbuf, sizeof(logbuf));
		lab = lab_load(labs[i]);
		if (!lab)
			fail_msg("%s refused: %s", labs[i], logbuf);
		lab_free(lab);
	}
}

static void test_power_check_opens_nothing(void **state)
{
	const char *text = "power: {driver: gpio, chip: /dev/gpiochip-none, line: 3}\n";
	struct cfg_node *root = cfg_load_buf("lab.yaml", text, strlen(text));

	/* The chip does not exist: only open() would find out. */
	assert_int_equal(power_check(cfg_get(root, "power"), "b1"), 0);
	cfg_free(root);
}

static void scenario_refused(const char *steps, const char *where, const char *what)
{
	char text[1024], at[128];
	struct scenario *s;

	snprintf(text, sizeof(text), "scenario: s\nallowed: [upgraded]\n%s", steps);
	log_capture(logbuf, sizeof(logbuf));
	s = scenario_load(write_file(text));
	unlink(path);
	if (s)
		fail_msg("accepted: %s", text);
	snprintf(at, sizeof(at), "%s%s", path, where);
	if (!strstr(logbuf, at) || !strstr(logbuf, what))
		fail_msg("wanted \"%s\" and \"%s\" in: %s", at, what, logbuf);
}

static void test_scenario_compiles_every_regex_at_load(void **state)
{
	scenario_refused("steps:\n  - expect: 'a(b'\n", ":4:13:", "is not a valid regex");
	scenario_refused("steps:\n  - expect: [ok, 'a[b']\n", ":4:18:", "is not a valid regex");
	scenario_refused("steps:\n  - fault: {kind: power_cut, marker: 'x(?<'}\n",
	                 ":4:38:", "marker \"x(?<\" is not a valid regex");
	scenario_refused("steps:\n  - fault: {kind: network, until: '*x'}\n",
	                 ":4:35:", "until \"*x\" is not a valid regex");
	scenario_refused("forbid: [ok, 'a)b']\nsteps: []\n", ":3:14:", "is not a valid regex");
	scenario_refused("checks:\n  - {send: x, expect: '(('}\nsteps: []\n",
	                 ":4:23:", "is not a valid regex");
	scenario_refused("forbid: [a, b, c, d, e, f, g, h, i]\nsteps: []\n", ":3:", "at most 8");
}

static void test_scenario_value_checks_are_checked_at_load(void **state)
{
	const char *good = "scenario: s\nallowed: [upgraded]\nversions: {old: '1', new: '2'}\n"
	                   "slots: {old: A, new: B}\nsteps: []\nchecks:\n"
	                   "  - send: 'cat /proc/cmdline'\n"
	                   "    expect: 'hilctl\\.slot=(?<slot>\\S+)'\n"
	                   "    compare: {slot: new_slot}\n"
	                   "  - send: 'hilctl-update --probe'\n"
	                   "    expect: 'version=(?<v>\\S+) slot=(?<s>\\S+)'\n"
	                   "    compare: {v: new_version, s: new_slot}\n";
	struct scenario *s;

	log_capture(logbuf, sizeof(logbuf));
	s = scenario_load(write_file(good));
	unlink(path);
	if (!s)
		fail_msg("refused: %s", logbuf);
	assert_int_equal(s->checks[0].n_compare, 1);
	assert_int_equal(s->checks[1].n_compare, 2);
	assert_string_equal(scenario_check_value(s, s->checks[1].compare[0].target), "2");
	assert_string_equal(scenario_check_value(s, s->checks[0].compare[0].target), "B");
	scenario_free(s);
	/* The group must be in the regex; the target known and given. */
	scenario_refused("slots: {old: A, new: B}\nsteps: []\nchecks:\n"
	                 "  - {send: x, expect: 'slot=(?<slot>.)', compare: {slt: new_slot}}\n",
	                 ":6:", "names group slt, which \"slot=(?<slot>.)\" does not have");
	scenario_refused("slots: {old: A, new: B}\nsteps: []\nchecks:\n"
	                 "  - {send: x, expect: 'slot=(?<slot>.)', compare: {slot: newest}}\n",
	                 ":6:",
	                 "\"newest\" is not one of old_version, new_version, old_slot, "
	                 "new_slot");
	scenario_refused("steps: []\nchecks:\n"
	                 "  - {send: x, expect: 'slot=(?<slot>.)', compare: {slot: new_slot}}\n",
	                 ":5:",
	                 "compares with new_slot, which this scenario does not give "
	                 "(slots: {old, new})");
	scenario_refused("steps: []\nchecks:\n"
	                 "  - {send: x, expect: 'v=(?<v>.)', compare: {v: old_version}}\n",
	                 ":5:", "compares with old_version");
	scenario_refused("slots: {old: A, neu: B}\nsteps: []\n", ":3:", "neu is not a known key");
	scenario_refused("slots: {old: A, new: B}\nsteps: []\nchecks:\n"
	                 "  - {send: x, expect: '(?<slot>', compare: {slot: new_slot}}\n",
	                 ":6:", "is not a valid regex");
}

static void test_scenario_repeat_is_a_power_cut_at_a_marker(void **state)
{
	const char *good =
	    "scenario: s\nallowed: [rolled_back]\nsteps:\n"
	    "  - fault: {kind: power_cut, marker: 'trial', repeat: 4, until: 'fb'}\n";
	struct scenario *s;

	log_capture(logbuf, sizeof(logbuf));
	s = scenario_load(write_file(good));
	unlink(path);
	if (!s)
		fail_msg("refused: %s", logbuf);
	assert_int_equal(s->steps[0].fault.repeat, 4);
	scenario_free(s);
	scenario_refused("steps:\n  - fault: {kind: power_cut, after: 1s, repeat: 2}\n",
	                 ":4:", "repeats a power cut at a marker");
	scenario_refused("steps:\n  - fault: {kind: hang, process: x, marker: m, repeat: 2}\n",
	                 ":4:", "repeats a power cut at a marker");
	scenario_refused("steps:\n  - fault: {kind: power_cut, marker: m, write: 2, repeat: 2}\n",
	                 ":4:", "not write:");
	scenario_refused("steps:\n  - fault: {kind: power_cut, marker: m, repeat: 0}\n",
	                 ":4:", "repeat");
	scenario_refused(
	    "steps:\n  - fault: {kind: power_cut, marker: m, repeat: 2, until: '(('}\n",
	    ":4:", "is not a valid regex");
}

static void test_scenario_regex_may_hold_run_variables(void **state)
{
	const char *text = "scenario: s\nallowed: [upgraded]\nsteps:\n"
	                   "  - expect: 'write offset=${point}\\d{6}\\b'\n"
	                   "  - expect: 'literal $${x}'\n";
	struct scenario *s;

	log_capture(logbuf, sizeof(logbuf));
	s = scenario_load(write_file(text));
	unlink(path);
	if (!s)
		fail_msg("refused: %s", logbuf);
	scenario_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lab_refuses_bad_driver_settings_at_load),
	    cmocka_unit_test(test_lab_refuses_bad_console_network_and_probes),
	    cmocka_unit_test(test_lab_accepts_the_shipped_labs_without_hardware),
	    cmocka_unit_test(test_power_check_opens_nothing),
	    cmocka_unit_test(test_scenario_compiles_every_regex_at_load),
	    cmocka_unit_test(test_scenario_regex_may_hold_run_variables),
	    cmocka_unit_test(test_scenario_value_checks_are_checked_at_load),
	    cmocka_unit_test(test_scenario_repeat_is_a_power_cut_at_a_marker),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
