/* storage/command.c — the command storage driver: any mux with a CLI. Two
 * argv lists (to the host, to the board; run without a shell, "{board}"
 * replaced by the board's name) and the path of the card's block device on
 * the host, which should be a stable name (/dev/disk/by-id/..., by-path). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cfg.h"
#include "lib/log.h"
#include "storage/argv.h"
#include "storage/storage.h"

struct command_mux {
	char **to_host, **to_board;
	const char *device;
};

static const char *const keys[] = {"driver", "timeout", "to_host", "to_board", "device", NULL};

static void strv_free(char **v)
{
	for (char **s = v; s && *s; s++)
		free(*s);
	free(v);
}

static char *substitute(const char *tmpl, const char *board)
{
	static const char key[] = "{board}";
	const char *at = strstr(tmpl, key);
	char *out;

	if (!at)
		return strdup(tmpl);
	if (asprintf(&out, "%.*s%s%s", (int)(at - tmpl), tmpl, board, at + sizeof(key) - 1) < 0)
		return NULL;
	return out;
}

static int parse_argv(const struct cfg_node *settings, const char *key, const char *board,
                      char ***out)
{
	const char **tmpl = NULL;
	size_t n = 0;
	int rc = cfg_get_strv(settings, key, true, &tmpl);

	if (rc < 0)
		return rc;
	while (tmpl[n])
		n++;
	if (n == 0 || !tmpl[0][0]) {
		cfg_error(cfg_get(settings, key),
		          "needs a program and its arguments, e.g. [sd-mux-ctrl, -e, SERIAL, -s]");
		free(tmpl);
		return -EINVAL;
	}
	if (out) {
		char **argv = calloc(n + 1, sizeof(*argv));
		for (size_t i = 0; argv && i < n; i++)
			if (!(argv[i] = substitute(tmpl[i], board))) {
				strv_free(argv);
				argv = NULL;
			}
		*out = argv;
		if (!argv)
			rc = -ENOMEM;
	}
	free(tmpl);
	return rc;
}

static int command_check(const struct cfg_node *settings)
{
	const char *device = NULL;

	if (cfg_check_keys(settings, keys) < 0 || parse_argv(settings, "to_host", "", NULL) < 0 ||
	    parse_argv(settings, "to_board", "", NULL) < 0 ||
	    cfg_get_str(settings, "device", true, &device) < 0)
		return -EINVAL;
	if (device[0] != '/') {
		cfg_error(cfg_get(settings, "device"),
		          "\"%s\" is not an absolute path (give the card's block device on the lab "
		          "host, best a /dev/disk/by-id/ or by-path name)",
		          device);
		return -EINVAL;
	}
	return 0;
}

static int command_open(struct storage *s, const struct cfg_node *settings)
{
	struct command_mux *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	s->priv = c;
	rc = parse_argv(settings, "to_host", s->board, &c->to_host);
	if (rc == 0)
		rc = parse_argv(settings, "to_board", s->board, &c->to_board);
	if (rc == 0)
		rc = cfg_get_str(settings, "device", true, &c->device);
	if (rc < 0) {
		strv_free(c->to_host);
		strv_free(c->to_board);
		free(c);
		s->priv = NULL;
	}
	return rc;
}

static int command_to_host(struct storage *s)
{
	struct command_mux *c = s->priv;

	return storage_run_argv(s->board, "to_host", c->to_host, s->timeout_ns);
}

static int command_to_board(struct storage *s)
{
	struct command_mux *c = s->priv;

	return storage_run_argv(s->board, "to_board", c->to_board, s->timeout_ns);
}

static int command_device(struct storage *s, char *path, size_t size)
{
	struct command_mux *c = s->priv;

	if ((size_t)snprintf(path, size, "%s", c->device) >= size)
		return -ENAMETOOLONG;
	return 0;
}

static void command_close(struct storage *s)
{
	struct command_mux *c = s->priv;

	if (!c)
		return;
	strv_free(c->to_host);
	strv_free(c->to_board);
	free(c);
	s->priv = NULL;
}

const struct storage_ops storage_command_ops = {
    .name = "command",
    .check = command_check,
    .open = command_open,
    .to_host = command_to_host,
    .to_board = command_to_board,
    .device = command_device,
    .close = command_close,
};
