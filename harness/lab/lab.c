/* harness/lab/lab.c — load a lab file and check its structure. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "power/power.h"
#include "lib/cfg.h"
#include "harness/console/console.h"
#include "harness/lab/lab.h"
#include "harness/server/server.h"
#include "harness/lab/probes.h"
#include "harness/lab/restore.h"
#include "lib/log.h"
#include "lib/num.h"
#include "lib/stop.h"
#include "qemu/launch.h"
#include "qemu/netdev.h"

static const char *const lab_keys[] = {"lab", "boards", "defaults", "vars", NULL};
static const char *const *overrides;

void lab_set_overrides(const char *const *name_value)
{
	overrides = name_value;
}

const char *const *lab_get_overrides(void)
{
	return overrides;
}
static const char *const board_keys[] = {"name",    "tags",    "power", "console",
                                         "network", "probes",  "vars",  "description",
                                         "host",    "storage", NULL};

static int name_ok(const char *name)
{
	if (!name[0] || strlen(name) > 64)
		return 0;
	for (const char *p = name; *p; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && *p != '-' && *p != '_' && *p != '.')
			return 0;
	return name[0] != '.';
}

/* network: driver: qemu is the QEMU machine's own link; any other driver
 * is a power driver used as a switch. */
static int check_network(const struct board_cfg *b)
{
	const struct cfg_node *drv = cfg_get(b->network, "driver");
	const struct cfg_node *pdrv = cfg_get(b->power, "driver");

	if (drv && drv->type == CFG_SCALAR && !strcmp(drv->value, "qemu")) {
		if (strcmp(pdrv->value, "qemu") != 0) {
			cfg_error(drv,
			          "needs the board's power driver to be qemu (it is %s); use "
			          "a power driver as a switch instead",
			          pdrv->value);
			return -EINVAL;
		}
		return 0;
	}
	return power_check(b->network, b->name);
}

/* The update server's keys among the board's vars: server_bind (the address
 * this host has on the board's network; default 127.0.0.1) must be one this
 * host can listen on, server_port a port. */
static int check_server_vars(const struct board_cfg *b)
{
	const struct cfg_node *bind = b->vars ? cfg_get(b->vars, "server_bind") : NULL;
	const struct cfg_node *port = b->vars ? cfg_get(b->vars, "server_port") : NULL;
	char why[300];
	long long n;

	if (bind) {
		if (cfg_expect_type(bind, CFG_SCALAR) < 0)
			return -EINVAL;
		if (server_check_bind(bind->value, why, sizeof(why)) < 0) {
			cfg_error(bind, "board \"%s\": vars: server_bind: %s", b->name, why);
			return -EINVAL;
		}
	}
	if (port) {
		if (cfg_expect_type(port, CFG_SCALAR) < 0)
			return -EINVAL;
		if (num_parse_ll(port->value, 0, 65535, &n) < 0) {
			cfg_error(port,
			          "board \"%s\": vars: server_port \"%s\" is not a port "
			          "(0-65535; 0: any free one)",
			          b->name, port->value);
			return -EINVAL;
		}
	}
	return 0;
}

/* A QEMU board on its restricted user network (the default) reaches the
 * update server only at an address QEMU can forward: not 10.0.2.2. */
static int check_server_host(const struct board_cfg *b)
{
	const struct cfg_node *host = b->vars ? cfg_get(b->vars, "server_host") : NULL;
	const struct cfg_node *drv = cfg_get(b->power, "driver");
	struct qemu_config qc;
	char why[400];
	int rc;

	if (!host || host->type != CFG_SCALAR || !drv || drv->type != CFG_SCALAR ||
	    strcmp(drv->value, "qemu") != 0)
		return 0;
	if (qemu_config_parse(&qc, b->power) < 0)
		return -EINVAL;
	rc = qemu_forward_check(&qc, host->value, why, sizeof(why));
	qemu_config_free(&qc);
	if (rc < 0)
		cfg_error(host, "%s", why);
	return rc;
}

/* Everything a board's drivers would refuse when opened, checked now
 * without touching hardware: a bad value fails at load with exit 2, not
 * when the board is first used. */
static int check_board(const struct board_cfg *b)
{
	if (power_check(b->power, b->name) < 0)
		return -EINVAL;
	if (b->console && console_check_settings(b->console, b->name) < 0)
		return -EINVAL;
	if (b->network && check_network(b) < 0)
		return -EINVAL;
	if (check_server_vars(b) < 0 || check_server_host(b) < 0)
		return -EINVAL;
	if (b->storage) {
		struct restore_cfg rc;
		if (restore_cfg_parse(b, &rc, true) < 0)
			return -EINVAL;
		restore_cfg_free(&rc);
	}
	return 0;
}

static int load_board(struct lab *lab, const struct cfg_node *n, struct board_cfg *b)
{
	const struct cfg_node *drv, *type;
	int rc;

	if (cfg_expect_type(n, CFG_MAP) < 0)
		return -EINVAL;
	if (cfg_get_str(n, "name", true, &b->name) < 0)
		return -EINVAL;
	if (!name_ok(b->name)) {
		cfg_error(cfg_get(n, "name"),
		          "\"%s\" is not a usable board name (letters, digits, - _ ., up to 64)",
		          b->name);
		return -EINVAL;
	}
	if (cfg_check_keys(n, board_keys) < 0)
		return -EINVAL;
	for (size_t i = 0; i < lab->n_boards; i++)
		if (strcmp(lab->boards[i].name, b->name) == 0) {
			cfg_error(cfg_get(n, "name"), "board \"%s\" is listed twice", b->name);
			return -EINVAL;
		}
	b->node = n;
	b->host = NULL;
	if (cfg_get_str(n, "host", false, &b->host) < 0)
		return -EINVAL;
	if (b->host && !name_ok(b->host)) {
		cfg_error(cfg_get(n, "host"),
		          "\"%s\" is not a usable host name (the lab host's Slurm NodeName or "
		          "hostname: letters, digits, - _ .)",
		          b->host);
		return -EINVAL;
	}
	b->power = cfg_get(n, "power");
	b->console = cfg_get(n, "console");
	b->network = cfg_get(n, "network");
	b->probes = cfg_get(n, "probes");
	b->vars = cfg_get(n, "vars");
	b->storage = cfg_get(n, "storage");
	if (!b->power) {
		cfg_error(n, "needs a power: mapping with driver: (one of %s)",
		          power_driver_list());
		return -EINVAL;
	}
	if (cfg_expect_type(b->power, CFG_MAP) < 0)
		return -EINVAL;
	drv = cfg_get(b->power, "driver");
	if (!drv || drv->type != CFG_SCALAR || !drv->value[0]) {
		cfg_error(drv ? drv : b->power, "needs driver:, one of %s", power_driver_list());
		return -EINVAL;
	}
	if (!power_find(drv->value)) {
		cfg_error(drv, "\"%s\" is not one of %s", drv->value, power_driver_list());
		return -EINVAL;
	}
	if (b->console) {
		if (cfg_expect_type(b->console, CFG_MAP) < 0)
			return -EINVAL;
		type = cfg_get(b->console, "type");
		if (!type || type->type != CFG_SCALAR || !type->value[0]) {
			cfg_error(type ? type : b->console, "needs type:, one of %s",
			          console_type_list());
			return -EINVAL;
		}
		if (!console_find(type->value)) {
			cfg_error(type, "\"%s\" is not one of %s", type->value,
			          console_type_list());
			return -EINVAL;
		}
	}
	if (b->network && cfg_expect_type(b->network, CFG_MAP) < 0)
		return -EINVAL;
	if (b->probes && (cfg_expect_type(b->probes, CFG_MAP) < 0 || probes_check(b->probes) < 0))
		return -EINVAL;
	if (b->vars && cfg_expect_type(b->vars, CFG_MAP) < 0)
		return -EINVAL;
	b->tags = NULL;
	rc = cfg_get_strv(n, "tags", false, &b->tags);
	if (rc < 0)
		return rc;
	if (!b->tags) {
		b->tags = calloc(1, sizeof(*b->tags));
		if (!b->tags)
			return -ENOMEM;
	}
	return 0;
}

static const char *var_value(const struct lab *lab, const char *name, size_t len)
{
	const struct cfg_node *vars = cfg_get(lab->root, "vars");

	for (size_t i = 0; overrides && overrides[i]; i++)
		if (!strncmp(overrides[i], name, len) && overrides[i][len] == '=')
			return overrides[i] + len + 1;
	for (const struct cfg_node *c = vars ? vars->child : NULL; c; c = c->next)
		if (c->type == CFG_SCALAR && strlen(c->key) == len && !strncmp(c->key, name, len))
			return c->value;
	return NULL;
}

/* Replace ${name} in every scalar, in place; a name the lab does not
 * define is an error that points at the value. */
static int expand_node(const struct lab *lab, struct cfg_node *n)
{
	for (; n; n = n->next) {
		char *p;
		if (n->child && expand_node(lab, n->child) < 0)
			return -EINVAL;
		if (n->type != CFG_SCALAR || !n->value || !(p = strstr(n->value, "${")))
			continue;
		while ((p = strstr(n->value, "${"))) {
			char *end = strchr(p, '}'), *nv;
			const char *val;
			if (!end) {
				cfg_error(n, "\"%s\": unterminated ${", n->value);
				return -EINVAL;
			}
			val = var_value(lab, p + 2, (size_t)(end - p - 2));
			if (!val) {
				cfg_error(
				    n,
				    "${%.*s} is not defined: give --set %.*s=VALUE or a vars: "
				    "entry",
				    (int)(end - p - 2), p + 2, (int)(end - p - 2), p + 2);
				return -EINVAL;
			}
			if (asprintf(&nv, "%.*s%s%s", (int)(p - n->value), n->value, val, end + 1) <
			    0)
				return -ENOMEM;
			free(n->value);
			n->value = nv;
		}
	}
	return 0;
}

char *lab_path(const struct lab *lab, const char *path)
{
	char *out;

	if (path[0] == '/' || !lab->dir[0])
		return strdup(path);
	if (asprintf(&out, "%s/%s", lab->dir, path) < 0)
		return NULL;
	return out;
}

struct lab *lab_load(const char *path)
{
	struct lab *lab = calloc(1, sizeof(*lab));
	const struct cfg_node *boards;

	if (!lab)
		return NULL;
	if (access(path, F_OK) < 0 && errno == ENOENT) {
		hil_error("%s: No such file or directory: name the lab file with --lab FILE or "
		          "HILCTL_LAB=FILE (fixtures/lab-*.yaml are examples)",
		          path);
		free(lab);
		return NULL;
	}
	lab->path = strdup(path);
	lab->dir = strdup(path);
	if (!lab->path || !lab->dir)
		goto fail;
	if (strrchr(lab->dir, '/'))
		*strrchr(lab->dir, '/') = '\0';
	else
		lab->dir[0] = '\0';
	lab->root = cfg_load_file(path);
	if (!lab->root || expand_node(lab, lab->root) < 0)
		goto fail;
	if (cfg_expect_type(lab->root, CFG_MAP) < 0 || cfg_check_keys(lab->root, lab_keys) < 0)
		goto fail;
	lab->name = "lab";
	if (cfg_get_str(lab->root, "lab", false, &lab->name) < 0)
		goto fail;
	boards = cfg_get(lab->root, "boards");
	if (!boards) {
		cfg_error(lab->root, "needs a boards: list");
		goto fail;
	}
	if (cfg_expect_type(boards, CFG_SEQ) < 0)
		goto fail;
	if (cfg_count(boards) == 0) {
		cfg_error(boards, "is empty; list at least one board");
		goto fail;
	}
	lab->boards = calloc(cfg_count(boards), sizeof(*lab->boards));
	if (!lab->boards)
		goto fail;
	for (const struct cfg_node *n = boards->child; n; n = n->next) {
		if (load_board(lab, n, &lab->boards[lab->n_boards]) < 0)
			goto fail;
		lab->n_boards++;
	}
	/* The structure of every board first (names, duplicates, driver
	 * names), then each board's settings. */
	for (size_t i = 0; i < lab->n_boards; i++)
		if (stop_requested() || check_board(&lab->boards[i]) < 0)
			goto fail;
	return lab;
fail:
	lab_free(lab);
	return NULL;
}

void lab_free(struct lab *lab)
{
	if (!lab)
		return;
	for (size_t i = 0; i < lab->n_boards; i++)
		free(lab->boards[i].tags);
	free(lab->boards);
	cfg_free(lab->root);
	free(lab->path);
	free(lab->dir);
	free(lab);
}

const struct board_cfg *lab_board(const struct lab *lab, const char *name)
{
	for (size_t i = 0; i < lab->n_boards; i++)
		if (strcmp(lab->boards[i].name, name) == 0)
			return &lab->boards[i];
	return NULL;
}

int board_on_host(const struct board_cfg *b, const char *host)
{
	return !b->host || !host || strcmp(b->host, host) == 0;
}

const char *lab_this_host(void)
{
	static char host[256];
	const char *env = getenv("SLURMD_NODENAME");

	if (!env || !env[0])
		env = getenv("HILCTL_HOST");
	if (env && env[0])
		snprintf(host, sizeof(host), "%s", env);
	else if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "localhost");
	return host;
}

int board_has_tag(const struct board_cfg *b, const char *tag)
{
	for (size_t i = 0; b->tags && b->tags[i]; i++)
		if (strcmp(b->tags[i], tag) == 0)
			return 1;
	return 0;
}
