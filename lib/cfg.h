/* lib/cfg.h — YAML files (lab files, scenarios) as a tree of nodes that
 * remember where they came from, so every error names file:line:col.
 *
 * cfg_load_file() returns a tree the caller frees with cfg_free(); every node,
 * key and value in it belongs to that tree. Lookups never allocate.
 * Getters print the error themselves (through cfg_error) and return -EINVAL,
 * so callers only propagate. */
#ifndef HILCTL_CFG_H
#define HILCTL_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cfg_type { CFG_SCALAR, CFG_MAP, CFG_SEQ };

struct cfg_node {
	enum cfg_type type;
	char *key;   /* key when this node is a value in a map, else NULL */
	char *value; /* scalar text (NUL-terminated; "" for null), else NULL */
	bool quoted; /* scalar was written in quotes */
	bool merged; /* came in through a << merge key */
	const char *file;
	int line, col;         /* 1-based, of the value */
	int key_line, key_col; /* of the key, when key is set */
	struct cfg_node *parent, *child, *next;
};

/* Parse a YAML document. On error prints "file:line:col: ..." and returns NULL. */
struct cfg_node *cfg_load_file(const char *path);
struct cfg_node *cfg_load_buf(const char *name, const char *buf, size_t len);
void cfg_free(struct cfg_node *root);

/* Map lookup; NULL if map is NULL, not a map, or has no such key. */
const struct cfg_node *cfg_get(const struct cfg_node *map, const char *key);
size_t cfg_count(const struct cfg_node *node);

/* Print "hilctl: file:line:col: <context>: <key path> <message>". The context
 * names the enclosing list item by its name (board "rpi4-03"). */
void cfg_error(const struct cfg_node *node, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "board \"x\": power.driver" for messages built by hand. */
/* The same, pointing at the node's key (unknown or misplaced keys). */
void cfg_error_at_key(const struct cfg_node *node, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cfg_describe(const struct cfg_node *node, char *buf, size_t size);

/* Typed getters. required=false: a missing key leaves *out at the default the
 * caller put there and returns 0. */
int cfg_get_str(const struct cfg_node *map, const char *key, bool required, const char **out);
int cfg_get_int(const struct cfg_node *map, const char *key, bool required, long long min,
                long long max, long long *out);
int cfg_get_bool(const struct cfg_node *map, const char *key, bool required, bool *out);
/* Durations: "250ms", "2s", "1.5s", "3m", "500us", or a bare number of seconds. */
int cfg_get_duration(const struct cfg_node *map, const char *key, bool required, int64_t *out_ns);
/* -EINVAL: not a duration; -ERANGE: longer than CFG_DURATION_MAX_S. */
#define CFG_DURATION_MAX_S (1000 * 3600)
int cfg_parse_duration(const char *text, int64_t *out_ns);
/* The message for a text cfg_parse_duration() refused: "\"banana\" is not a
 * duration (like ...)" or "... is too long a duration (at most 1000h)". */
const char *cfg_duration_error(const char *text);
/* One of a fixed set; error lists the valid words. Returns the index. */
int cfg_get_enum(const struct cfg_node *map, const char *key, bool required,
                 const char *const words[], int *out);
/* A scalar or a sequence of scalars as a NULL-terminated array of borrowed
 * strings; caller frees only the array. */
int cfg_get_strv(const struct cfg_node *map, const char *key, bool required, const char ***out);

/* Refuse keys not in allowed (NULL-terminated): catches typos like "drvier". */
int cfg_check_keys(const struct cfg_node *map, const char *const allowed[]);
/* Require the node to be a map/sequence/scalar. */
int cfg_expect_type(const struct cfg_node *node, enum cfg_type type);

#endif
