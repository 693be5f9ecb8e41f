/* storage/storage.c — the only list of storage mux drivers, and the lookup. */
#include <errno.h>
#include <string.h>

#include "lib/cfg.h"
#include "storage/storage.h"

static const struct storage_ops *const drivers[] = {
    &storage_command_ops,
    &storage_usbsdmux_ops,
    &storage_sdwire_ops,
    &storage_qemu_ops,
};

#define N_DRIVERS (sizeof(drivers) / sizeof(drivers[0]))

const struct storage_ops *storage_find(const char *name)
{
	for (size_t i = 0; i < N_DRIVERS; i++)
		if (strcmp(drivers[i]->name, name) == 0)
			return drivers[i];
	return NULL;
}

const char *storage_driver_list(void)
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

static const struct storage_ops *lookup(const struct cfg_node *node)
{
	const struct cfg_node *drv = cfg_get(node, "driver");
	const struct storage_ops *ops;

	if (!drv || drv->type != CFG_SCALAR) {
		cfg_error(drv ? drv : node, "needs \"driver:\", one of %s", storage_driver_list());
		return NULL;
	}
	ops = storage_find(drv->value);
	if (!ops)
		cfg_error(drv, "\"%s\" is not one of %s", drv->value, storage_driver_list());
	return ops;
}

int storage_check(const struct cfg_node *node)
{
	const struct storage_ops *ops = lookup(node);

	if (!ops)
		return -EINVAL;
	return ops->check ? ops->check(node) : 0;
}

int storage_open(struct storage *s, const char *board, const struct cfg_node *node)
{
	const struct storage_ops *ops;
	int rc;

	memset(s, 0, sizeof(*s));
	s->board = board;
	ops = lookup(node);
	if (!ops)
		return -EINVAL;
	rc = cfg_get_duration(node, "timeout", false, &s->timeout_ns);
	if (rc == 0 && ops->check)
		rc = ops->check(node);
	if (rc < 0)
		return rc;
	s->ops = ops;
	rc = ops->open(s, node);
	if (rc < 0)
		s->ops = NULL;
	return rc;
}

int storage_to_host(struct storage *s)
{
	return s->ops->to_host(s);
}

int storage_to_board(struct storage *s)
{
	return s->ops->to_board(s);
}

int storage_device(struct storage *s, char *path, size_t size)
{
	return s->ops->device(s, path, size);
}

void storage_close(struct storage *s)
{
	if (s && s->ops && s->ops->close)
		s->ops->close(s);
	if (s)
		s->ops = NULL;
}
