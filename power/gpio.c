/* power/gpio.c — the gpio power driver: a relay on one GPIO line, switched
 * through libgpiod's character-device API.
 *
 * It builds against libgpiod 1.6 (Debian 12, Raspberry Pi OS bookworm) and
 * 2.x. Everything that differs between the two sits in the "library glue"
 * block below, behind GPIOD_MAJOR (the Makefile sets it from pkg-config);
 * the rest of the file talks only to the glue.
 *
 * The line is requested on the first set, as an output with the wanted value
 * (so the request itself never glitches the relay), and held until close.
 * Only while we hold it does the kernel keep the value for us, and only then
 * can status read it back without touching the relay: requesting a line just
 * to look at it would reconfigure it, and releasing it again may let the pin
 * fall back to an input on some GPIO controllers. So status without our own
 * request answers "unknown". docs/power-gpio.md says what this means for a
 * one-shot "hilctl power on". */
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gpiod.h>

#include "lib/cfg.h"
#include "lib/log.h"
#include "power/power.h"

#define GPIO_CONSUMER "hilctl"

struct gpio_relay {
	const char *chip_descr; /* as written: name, label, path or number */
	const char *line_name;  /* NULL when the line is given by offset */
	unsigned int offset;
	bool active_low;
	bool held; /* our request on the line is live */
	char chip_name[64];
	unsigned int num_lines;
	struct gpiod_chip *chip;
#if GPIOD_MAJOR >= 2
	struct gpiod_line_request *request;
#else
	struct gpiod_line *line;
#endif
};

/* libgpiod reports failures through errno; never let a stray 0 look like
 * success. */
static int neg_errno(void)
{
	return errno ? -errno : -EIO;
}

/* ---- library glue: the only code that differs between libgpiod 1.6 and 2.x.
 * Every function returns 0 (or a value) on success and -errno on failure;
 * values are physical line levels (0 low, 1 high), active_low is applied by
 * the caller so both versions request lines the same way. */
#if GPIOD_MAJOR >= 2

/* libgpiod 2 opens chips only by path: resolve a number, name or label the way
 * 1.6's gpiod_chip_open_lookup() did. Labels need every chip opened. */
static struct gpiod_chip *open_chip_by_label(const char *label)
{
	struct gpiod_chip *found = NULL;
	bool forbidden = false;
	glob_t g;

	if (glob("/dev/gpiochip*", 0, NULL, &g) != 0) {
		errno = ENOENT;
		return NULL;
	}
	for (size_t i = 0; i < g.gl_pathc && !found; i++) {
		struct gpiod_chip *chip = gpiod_chip_open(g.gl_pathv[i]);
		struct gpiod_chip_info *info;

		if (!chip) {
			forbidden |= errno == EACCES;
			continue;
		}
		info = gpiod_chip_get_info(chip);
		if (info && strcmp(gpiod_chip_info_get_label(info), label) == 0)
			found = chip;
		else
			gpiod_chip_close(chip);
		gpiod_chip_info_free(info);
	}
	globfree(&g);
	if (!found)
		errno = forbidden ? EACCES : ENOENT;
	return found;
}

static bool all_digits(const char *s)
{
	return s[0] && strspn(s, "0123456789") == strlen(s);
}

static int glue_open_chip(struct gpio_relay *g)
{
	const char *d = g->chip_descr;
	struct gpiod_chip_info *info;
	char path[PATH_MAX];

	errno = 0;
	if (all_digits(d))
		snprintf(path, sizeof(path), "/dev/gpiochip%s", d);
	else
		snprintf(path, sizeof(path), "%s%s", d[0] == '/' ? "" : "/dev/", d);
	/* A path, a number, or a name that exists under /dev; else a label. */
	if (d[0] == '/' || all_digits(d) || access(path, F_OK) == 0)
		g->chip = gpiod_chip_open(path);
	else
		g->chip = open_chip_by_label(d);
	if (!g->chip)
		return neg_errno();
	info = gpiod_chip_get_info(g->chip);
	if (!info)
		return neg_errno();
	snprintf(g->chip_name, sizeof(g->chip_name), "%s", gpiod_chip_info_get_name(info));
	g->num_lines = (unsigned int)gpiod_chip_info_get_num_lines(info);
	gpiod_chip_info_free(info);
	return 0;
}

static int glue_find_line(struct gpio_relay *g)
{
	int offset;

	if (!g->line_name)
		return g->offset < g->num_lines ? 0 : -EINVAL;
	errno = 0;
	offset = gpiod_chip_get_line_offset_from_name(g->chip, g->line_name);
	if (offset < 0)
		return neg_errno();
	g->offset = (unsigned int)offset;
	return 0;
}

static int glue_request(struct gpio_relay *g, int value)
{
	struct gpiod_line_settings *settings = gpiod_line_settings_new();
	struct gpiod_line_config *line_cfg = gpiod_line_config_new();
	struct gpiod_request_config *req_cfg = gpiod_request_config_new();
	int rc = -ENOMEM;

	errno = 0;
	if (settings && line_cfg && req_cfg &&
	    gpiod_line_settings_set_direction(settings, GPIOD_LINE_DIRECTION_OUTPUT) == 0 &&
	    gpiod_line_settings_set_output_value(
	        settings, value ? GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE) == 0 &&
	    gpiod_line_config_add_line_settings(line_cfg, &g->offset, 1, settings) == 0) {
		gpiod_request_config_set_consumer(req_cfg, GPIO_CONSUMER);
		g->request = gpiod_chip_request_lines(g->chip, req_cfg, line_cfg);
		rc = g->request ? 0 : neg_errno();
	} else if (settings && line_cfg && req_cfg) {
		rc = neg_errno();
	}
	gpiod_request_config_free(req_cfg);
	gpiod_line_config_free(line_cfg);
	gpiod_line_settings_free(settings);
	return rc;
}

static int glue_set(struct gpio_relay *g, int value)
{
	errno = 0;
	if (gpiod_line_request_set_value(g->request, g->offset,
	                                 value ? GPIOD_LINE_VALUE_ACTIVE
	                                       : GPIOD_LINE_VALUE_INACTIVE) < 0)
		return neg_errno();
	return 0;
}

static int glue_get(struct gpio_relay *g)
{
	enum gpiod_line_value v;

	errno = 0;
	v = gpiod_line_request_get_value(g->request, g->offset);
	if (v == GPIOD_LINE_VALUE_ERROR)
		return neg_errno();
	return v == GPIOD_LINE_VALUE_ACTIVE;
}

static void glue_consumer(struct gpio_relay *g, char *buf, size_t size)
{
	struct gpiod_line_info *info = gpiod_chip_get_line_info(g->chip, g->offset);
	const char *consumer = info ? gpiod_line_info_get_consumer(info) : NULL;

	snprintf(buf, size, "%s", consumer ? consumer : "");
	gpiod_line_info_free(info);
}

static void glue_release(struct gpio_relay *g)
{
	gpiod_line_request_release(g->request);
	g->request = NULL;
}

#else /* libgpiod 1.x */

static int glue_open_chip(struct gpio_relay *g)
{
	errno = 0;
	g->chip = gpiod_chip_open_lookup(g->chip_descr);
	if (!g->chip)
		return neg_errno();
	snprintf(g->chip_name, sizeof(g->chip_name), "%s", gpiod_chip_name(g->chip));
	g->num_lines = gpiod_chip_num_lines(g->chip);
	return 0;
}

static int glue_find_line(struct gpio_relay *g)
{
	errno = 0;
	if (g->line_name)
		g->line = gpiod_chip_find_line(g->chip, g->line_name);
	else
		g->line = gpiod_chip_get_line(g->chip, g->offset);
	if (!g->line)
		return neg_errno();
	g->offset = gpiod_line_offset(g->line);
	return 0;
}

static int glue_request(struct gpio_relay *g, int value)
{
	errno = 0;
	return gpiod_line_request_output(g->line, GPIO_CONSUMER, value) < 0 ? neg_errno() : 0;
}

static int glue_set(struct gpio_relay *g, int value)
{
	errno = 0;
	return gpiod_line_set_value(g->line, value) < 0 ? neg_errno() : 0;
}

static int glue_get(struct gpio_relay *g)
{
	int v;

	errno = 0;
	v = gpiod_line_get_value(g->line);
	return v < 0 ? neg_errno() : v;
}

static void glue_consumer(struct gpio_relay *g, char *buf, size_t size)
{
	/* The line info was read when we looked the line up; refresh it. */
	const char *consumer =
	    gpiod_line_update(g->line) == 0 ? gpiod_line_consumer(g->line) : NULL;

	snprintf(buf, size, "%s", consumer ? consumer : "");
}

static void glue_release(struct gpio_relay *g)
{
	gpiod_line_release(g->line);
}

#endif /* GPIOD_MAJOR */
/* ---- end of library glue */

/* A label lookup opens every chip; one this user may not open makes the
 * lookup end in ENOENT (1.6) although the chip may well be there. Find such
 * a chip so the error says "permission denied" instead of "not found". */
static bool chip_forbidden(char *path, size_t size)
{
	bool found = false;
	glob_t g;

	if (glob("/dev/gpiochip*", 0, NULL, &g) != 0)
		return false;
	for (size_t i = 0; i < g.gl_pathc && !found; i++)
		if (access(g.gl_pathv[i], R_OK | W_OK) < 0 && errno == EACCES) {
			snprintf(path, size, "%s", g.gl_pathv[i]);
			found = true;
		}
	globfree(&g);
	return found;
}

static int open_chip(struct gpio_relay *g, const struct cfg_node *settings)
{
	const struct cfg_node *at = cfg_get(settings, "chip");
	char forbidden[PATH_MAX] = "";
	int rc = glue_open_chip(g);

	if (rc == -ENOENT && chip_forbidden(forbidden, sizeof(forbidden)))
		rc = -EACCES;
	if (rc == 0)
		return 0;
	if (rc == -ENOENT || rc == -ENODEV) {
		cfg_error(at,
		          "\"%s\" is not a gpio chip here (gpiodetect lists the chips: name "
		          "[label] (lines); give a name, label or /dev path)",
		          g->chip_descr);
		return -ENODEV;
	}
	if (rc == -EACCES || rc == -EPERM) {
		cfg_error(at,
		          "\"%s\": permission denied%s%s (add the user to the \"gpio\" group, "
		          "or give /dev/gpiochip* to it with a udev rule)",
		          g->chip_descr, forbidden[0] ? " on " : "", forbidden);
		return -EACCES;
	}
	cfg_error(at, "\"%s\": cannot open the gpio chip: %s", g->chip_descr, strerror(-rc));
	return rc;
}

static int find_line(struct gpio_relay *g, const struct cfg_node *settings)
{
	const struct cfg_node *at = cfg_get(settings, "line");
	int rc = glue_find_line(g);

	if (rc == 0)
		return 0;
	if (g->line_name && rc == -ENOENT)
		cfg_error(at, "\"%s\" is not a line name on %s (gpioinfo %s lists the names)",
		          g->line_name, g->chip_name, g->chip_name);
	else if (!g->line_name && rc == -EINVAL)
		cfg_error(at, "%u is out of range: %s has %u lines (0 to %u)", g->offset,
		          g->chip_name, g->num_lines, g->num_lines ? g->num_lines - 1 : 0);
	else
		cfg_error(at, "cannot look up the line on %s: %s", g->chip_name, strerror(-rc));
	return rc == -ENOENT ? -EINVAL : rc;
}

static int parse_settings(struct gpio_relay *g, const struct cfg_node *settings)
{
	static const char *const keys[] = {"driver", "type",       "timeout", "chip",
	                                   "line",   "active_low", NULL};
	const char *line;
	long long offset;

	if (cfg_check_keys(settings, keys) < 0 ||
	    cfg_get_str(settings, "chip", true, &g->chip_descr) < 0 ||
	    cfg_get_str(settings, "line", true, &line) < 0 ||
	    cfg_get_bool(settings, "active_low", false, &g->active_low) < 0)
		return -EINVAL;
	/* A number is an offset (decimal, as gpioinfo prints it), anything else
	 * a line name. */
	if (!line[0]) {
		cfg_error(cfg_get(settings, "line"), "is empty; give an offset or a line name");
		return -EINVAL;
	}
	if (strspn(line, "0123456789") == strlen(line)) {
		offset = strtoll(line, NULL, 10);
		if (strlen(line) > 5 || offset > 65535) {
			cfg_error(cfg_get(settings, "line"), "%s is not a line offset (0 to 65535)",
			          line);
			return -EINVAL;
		}
		g->offset = (unsigned int)offset;
	} else {
		g->line_name = line;
	}
	return 0;
}

static void gpio_close(struct power *p);

/* The settings only: which chip and line exist is known when opened. */
static int gpio_check(const struct cfg_node *settings, const char *board)
{
	struct gpio_relay g = {0};

	return parse_settings(&g, settings);
}

static int gpio_open(struct power *p, const struct cfg_node *settings)
{
	struct gpio_relay *g = calloc(1, sizeof(*g));
	int rc;

	if (!g)
		return -ENOMEM;
	p->priv = g;
	rc = parse_settings(g, settings);
	if (rc == 0)
		rc = open_chip(g, settings);
	if (rc == 0)
		rc = find_line(g, settings);
	if (rc < 0)
		gpio_close(p);
	return rc;
}

static void describe_line(const struct gpio_relay *g, char *buf, size_t size)
{
	if (g->line_name)
		snprintf(buf, size, "line %u (\"%s\") of %s", g->offset, g->line_name,
		         g->chip_name);
	else
		snprintf(buf, size, "line %u of %s", g->offset, g->chip_name);
}

static int set_error(struct power *p, struct gpio_relay *g, int rc)
{
	char line[128], consumer[64];

	describe_line(g, line, sizeof(line));
	if (rc == -EBUSY) {
		glue_consumer(g, consumer, sizeof(consumer));
		hil_error("board \"%s\": gpio %s is busy, used by %s%s%s (stop that program, or "
		          "look for a driver or gpio-hog holding it; gpioinfo %s shows consumers)",
		          p->board, line, consumer[0] ? "\"" : "another consumer", consumer,
		          consumer[0] ? "\"" : "", g->chip_name);
	} else if (rc == -EACCES || rc == -EPERM) {
		hil_error("board \"%s\": gpio %s: permission denied (add the user to the \"gpio\" "
		          "group, or give /dev/gpiochip* to it with a udev rule)",
		          p->board, line);
	} else {
		hil_error("board \"%s\": gpio %s: cannot drive it: %s", p->board, line,
		          strerror(-rc));
	}
	return rc;
}

static int gpio_set(struct power *p, bool on)
{
	struct gpio_relay *g = p->priv;
	int level = on != g->active_low;
	int rc;

	if (g->held)
		rc = glue_set(g, level);
	else
		rc = glue_request(g, level);
	if (rc < 0)
		return set_error(p, g, rc);
	g->held = true;
	return 0;
}

static int gpio_get(struct power *p, enum power_state *out)
{
	struct gpio_relay *g = p->priv;
	char line[128];
	int level;

	*out = POWER_UNKNOWN;
	if (!g->held) {
		/* Reading needs a request, and a request reconfigures the line. */
		hil_debug("board \"%s\": gpio status unknown: this process does not hold the line",
		          p->board);
		return 0;
	}
	level = glue_get(g);
	if (level < 0) {
		describe_line(g, line, sizeof(line));
		hil_error("board \"%s\": gpio %s: cannot read it back: %s", p->board, line,
		          strerror(-level));
		return level;
	}
	*out = (level != 0) != g->active_low ? POWER_ON : POWER_OFF;
	return 0;
}

static void gpio_close(struct power *p)
{
	struct gpio_relay *g = p->priv;

	if (!g)
		return;
	if (g->held) {
		if (p->flags & POWER_F_PERSIST)
			hil_info("board \"%s\": releasing the gpio line; the relay keeps its state "
			         "only if the gpio controller keeps driving a released line",
			         p->board);
		glue_release(g);
	}
	if (g->chip)
		gpiod_chip_close(g->chip);
	free(g);
	p->priv = NULL;
}

const struct power_ops power_gpio_ops = {
    .name = "gpio",
    .check = gpio_check,
    .open = gpio_open,
    .set = gpio_set,
    .get = gpio_get,
    .close = gpio_close,
};
