/* power/power.c — the only list of power drivers, and the calls that log
 * every power action on the board's timeline. */
#include <errno.h>
#include <string.h>

#include "lib/cfg.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/timeline.h"
#include "power/power.h"

static const struct power_ops *const drivers[] = {
    &power_gpio_ops, &power_ftdi_ops, &power_qemu_ops, &power_pdudaemon_ops, &power_command_ops,
};

#define N_DRIVERS (sizeof(drivers) / sizeof(drivers[0]))

const struct power_ops *power_find(const char *name)
{
	for (size_t i = 0; i < N_DRIVERS; i++)
		if (strcmp(drivers[i]->name, name) == 0)
			return drivers[i];
	return NULL;
}

const char *power_driver_list(void)
{
	static char list[128];

	if (!list[0])
		for (size_t i = 0; i < N_DRIVERS; i++) {
			if (i)
				strcat(list, ", ");
			strcat(list, drivers[i]->name);
		}
	return list;
}

static const struct power_ops *driver_of(const struct cfg_node *power_node)
{
	const struct cfg_node *drv = cfg_get(power_node, "driver");
	const struct power_ops *ops;

	if (!drv || drv->type != CFG_SCALAR) {
		cfg_error(drv ? drv : power_node, "needs \"driver:\", one of %s",
		          power_driver_list());
		return NULL;
	}
	ops = power_find(drv->value);
	if (!ops)
		cfg_error(drv, "\"%s\" is not one of %s", drv->value, power_driver_list());
	return ops;
}

int power_check(const struct cfg_node *power_node, const char *board)
{
	const struct power_ops *ops = driver_of(power_node);
	int64_t timeout_ns;

	if (!ops)
		return -EINVAL;
	if (cfg_get_duration(power_node, "timeout", false, &timeout_ns) < 0)
		return -EINVAL;
	return ops->check ? ops->check(power_node, board) : 0;
}

int power_open(struct power *p, const char *board, const char *run_dir,
               const struct cfg_node *power_node, unsigned flags)
{
	const struct power_ops *ops;
	int rc;

	memset(p, 0, sizeof(*p));
	p->board = board;
	p->run_dir = run_dir;
	p->flags = flags;
	ops = driver_of(power_node);
	if (!ops)
		return -EINVAL;
	p->ops = ops;
	rc = cfg_get_duration(power_node, "timeout", false, &p->timeout_ns);
	if (rc < 0)
		return rc;
	rc = ops->open(p, power_node);
	if (rc < 0)
		p->ops = NULL;
	return rc;
}

int power_set(struct power *p, bool on)
{
	int rc;

	timeline_event(p->tl, clock_now_ns(), "power", "%s requested (%s)", on ? "on" : "off",
	               p->ops->name);
	p->t_stopped_ns = 0;
	p->t_requested_ns = clock_now_ns();
	rc = p->ops->set(p, on);
	if (!on && rc == 0 && p->t_stopped_ns == 0)
		p->t_stopped_ns = clock_now_ns();
	if (rc < 0)
		timeline_event(p->tl, clock_now_ns(), "power", "%s failed: %s", on ? "on" : "off",
		               strerror(-rc));
	else
		timeline_event(p->tl, clock_now_ns(), "power", "%s", on ? "on" : "off");
	return rc;
}

int power_get(struct power *p, enum power_state *out)
{
	*out = POWER_UNKNOWN;
	return p->ops->get(p, out);
}

int power_started(struct power *p)
{
	return p->ops && p->ops->started ? p->ops->started(p) : 0;
}

int power_prepare(struct power *p)
{
	return p->ops && p->ops->prepare ? p->ops->prepare(p) : 0;
}

int power_snapshot(struct power *p, enum power_snapshot_op op, const char *key)
{
	return p->ops && p->ops->snapshot ? p->ops->snapshot(p, op, key) : -EOPNOTSUPP;
}

int power_disk_writes(struct power *p, uint64_t *writes)
{
	return p->ops && p->ops->disk_writes ? p->ops->disk_writes(p, writes) : -EOPNOTSUPP;
}

int power_keep_disk(struct power *p, const char *out, char *why, size_t why_len)
{
	return p->ops && p->ops->keep_disk ? p->ops->keep_disk(p, out, why, why_len) : -EOPNOTSUPP;
}

int power_install_disk(struct power *p, const char *path, char *why, size_t why_len)
{
	return p->ops && p->ops->install_disk ? p->ops->install_disk(p, path, why, why_len)
	                                      : -EOPNOTSUPP;
}

void power_close(struct power *p)
{
	if (p && p->ops && p->ops->close)
		p->ops->close(p);
	if (p)
		p->ops = NULL;
}

const char *power_state_name(enum power_state s)
{
	switch (s) {
	case POWER_ON:
		return "on";
	case POWER_OFF:
		return "off";
	default:
		return "unknown";
	}
}
