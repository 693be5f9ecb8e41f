/* harness/console_qemu.c — placeholder until the qemu console lands. */
#include <errno.h>

#include "console.h"
#include "log.h"

static int stub_open(struct console *c, const struct cfg_node *settings)
{
	hil_error("board \"%s\": console type \"qemu\" is not built yet", c->board);
	return -ENOSYS;
}

static int stub_connect(struct console *c, int64_t deadline_ns)
{
	return -ENOSYS;
}

static ssize_t stub_io(struct console *c, void *buf, size_t len)
{
	return -ENOSYS;
}

static ssize_t stub_write(struct console *c, const void *buf, size_t len)
{
	return -ENOSYS;
}

static void stub_disconnect(struct console *c)
{
}

const struct console_ops console_qemu_ops = {
	.name = "qemu",
	.open = stub_open,
	.connect = stub_connect,
	.read = stub_io,
	.write = stub_write,
	.disconnect = stub_disconnect,
};
