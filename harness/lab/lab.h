/* harness/lab/lab.h — the lab file: which boards exist and how each is wired.
 *
 * lab_load() parses and checks the structure (names, driver and console
 * names, known keys); each driver checks its own settings when opened.
 * The struct lab owns the YAML tree; board entries borrow from it.
 *
 *   lab: desk-qemu                # optional name
 *   boards:
 *     - name: qemu-01
 *       tags: [aarch64, refdut]   # optional, scenarios select boards by tag
 *       host: lab-host-1          # optional: the lab host it is wired to (Slurm NodeName);
 *                                 # without it the board is on every host (a one-host lab)
 *       power:   {driver: qemu, ...driver settings}
 *       console: {type: qemu, ...console settings}
 *       network: {driver: qemu | command | <any power driver>, ...}   # optional
 *       probes:  {version: 'regex with (?<version>...)', ...}          # optional
 *       storage: {mux: {driver: ...}, image: ..., restore: auto}       # optional,
 *                                 # the baseline image and how to put it back (restore.h)
 *       vars:    {key: value}     # optional, substituted into scenarios as ${key}
 *   vars: {variant: good}         # optional: ${variant} anywhere in this file
 *
 * ${name} in any value of the lab file is replaced by the value given with
 * hilctl --set name=VALUE, else by the top-level vars: entry; an unknown
 * name is an error that points at it. Relative paths in a lab file are
 * relative to the lab file's directory (lab_path()).
 */
#ifndef HILCTL_LAB_H
#define HILCTL_LAB_H

#include <stddef.h>

struct cfg_node;

struct board_cfg {
	const char *name;
	const char *host;            /* host: the lab host it hangs off; NULL = any host */
	const struct cfg_node *node; /* the board's mapping */
	const struct cfg_node *power, *console, *network, *probes, *vars;
	const struct cfg_node *storage; /* optional: harness/lab/restore.h */
	const char **tags;              /* NULL-terminated, may be empty */
};

struct lab {
	char *path;
	char *dir; /* the lab file's directory */
	const char *name;
	struct cfg_node *root;
	struct board_cfg *boards;
	size_t n_boards;
};

/* Returns NULL after printing an error with file:line:col. */
struct lab *lab_load(const char *path);
/* "name=value" overrides for ${name}, from --set; the array is borrowed and
 * must outlive every lab_load(). */
void lab_set_overrides(const char *const *name_value);
const char *const *lab_get_overrides(void);
/* A path from the lab file made usable from the current directory
 * (malloc'd). */
char *lab_path(const struct lab *lab, const char *path);
void lab_free(struct lab *lab);
const struct board_cfg *lab_board(const struct lab *lab, const char *name);
/* Is the board wired to this host (its host: is that name, or it has none)? */
int board_on_host(const struct board_cfg *b, const char *host);
/* Which lab host this process runs on: $SLURMD_NODENAME (a Slurm task:
 * the node it was given), else $HILCTL_HOST, else the hostname. */
const char *lab_this_host(void);
/* Does the board carry this tag? */
int board_has_tag(const struct board_cfg *b, const char *tag);

/* Per-board state directory, created on demand and private to this user:
 * harness/lab/rundir.c says where and what it refuses. Returns 0 or -errno
 * (-EPERM: refused, the message printed). */
int board_run_dir(const char *board, char *buf, size_t size);

#endif
