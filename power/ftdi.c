/* power/ftdi.c — placeholder until the ftdi driver lands. */
#include <errno.h>

#include "../harness/log.h"
#include "power.h"

static int stub_open(struct power *p, const struct cfg_node *settings)
{
	hil_error("board \"%s\": power driver \"ftdi\" is not built yet", p->board);
	return -ENOSYS;
}

static int stub_set(struct power *p, bool on)
{
	return -ENOSYS;
}

static int stub_get(struct power *p, enum power_state *out)
{
	*out = POWER_UNKNOWN;
	return 0;
}

const struct power_ops power_ftdi_ops = {
	.name = "ftdi",
	.open = stub_open,
	.set = stub_set,
	.get = stub_get,
};
