/* harness/lab/network.c — cut and restore a board's network link. */
#include <errno.h>
#include <string.h>

#include "harness/lab/board.h"
#include "lib/cfg.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "harness/lab/network.h"
#include "lib/timeline.h"

int network_open(struct network *n, struct board *b)
{
	const struct cfg_node *drv;
	int rc;

	memset(n, 0, sizeof(*n));
	n->b = b;
	if (!b->cfg->network) {
		hil_error("board \"%s\" has no network: control in the lab file; a network fault "
		          "needs one (driver: qemu, or a power driver used as a switch)",
		          b->cfg->name);
		return -EINVAL;
	}
	drv = cfg_get(b->cfg->network, "driver");
	if (drv && drv->type == CFG_SCALAR && !strcmp(drv->value, "qemu")) {
		if (!b->power.ops->link) {
			cfg_error(drv, "needs the board's power driver to be qemu");
			return -EINVAL;
		}
		n->via_power = true;
		n->open = true;
		return 0;
	}
	rc = power_open(&n->sw, b->cfg->name, b->run_dir, b->cfg->network, 0);
	if (rc == 0)
		n->open = true;
	return rc;
}

int network_set(struct network *n, bool up)
{
	int rc;

	if (!n->open)
		return -EBADF;
	rc = n->via_power ? n->b->power.ops->link(&n->b->power, up) : n->sw.ops->set(&n->sw, up);
	timeline_event(n->b->tl, clock_now_ns(), "network", "link %s%s%s", up ? "up" : "down",
	               rc < 0 ? " failed: " : "", rc < 0 ? strerror(-rc) : "");
	return rc;
}

void network_close(struct network *n)
{
	if (n->open && !n->via_power)
		power_close(&n->sw);
	n->open = false;
}
