/* lib/cfg.c — load YAML (libyaml's event parser) into a cfg_node tree
 * with line/column for every node, and the typed getters that report errors. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "lib/cfg.h"
#include "lib/log.h"

#define CFG_MAX_DEPTH 64

#define CFG_MAX_ANCHORS 256

struct loader {
	yaml_parser_t parser;
	const char *name; /* owned by the root node's file field */
	int depth;
	struct {
		char *name;
		const struct cfg_node *node;
	} anchors[CFG_MAX_ANCHORS];
	int n_anchors;
	size_t copied; /* nodes made by aliases: bounded against alias bombs */
};

static struct cfg_node *node_copy(struct loader *ld, const struct cfg_node *src)
{
	struct cfg_node *n, *tail = NULL;

	if (++ld->copied > 100000)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	*n = *src;
	n->key = src->key ? strdup(src->key) : NULL;
	n->value = src->value ? strdup(src->value) : NULL;
	n->parent = n->child = n->next = NULL;
	for (const struct cfg_node *c = src->child; c; c = c->next) {
		struct cfg_node *cc = node_copy(ld, c);
		if (!cc)
			return n; /* partial copy; the caller sees ld->copied overflow */
		cc->parent = n;
		if (tail)
			tail->next = cc;
		else
			n->child = cc;
		tail = cc;
	}
	return n;
}

static void remember_anchor(struct loader *ld, const yaml_char_t *anchor, const struct cfg_node *n)
{
	if (anchor && n && ld->n_anchors < CFG_MAX_ANCHORS) {
		ld->anchors[ld->n_anchors].name = strdup((const char *)anchor);
		ld->anchors[ld->n_anchors].node = n;
		ld->n_anchors++;
	}
}

static struct cfg_node *node_new(struct loader *ld, enum cfg_type type, const yaml_mark_t *mark)
{
	struct cfg_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->type = type;
	n->file = ld->name;
	n->line = (int)mark->line + 1;
	n->col = (int)mark->column + 1;
	return n;
}

static void node_free(struct cfg_node *n)
{
	while (n) {
		struct cfg_node *next = n->next;
		node_free(n->child);
		free(n->key);
		free(n->value);
		free(n);
		n = next;
	}
}

static void append_child(struct cfg_node *parent, struct cfg_node *child, struct cfg_node **tail)
{
	child->parent = parent;
	if (*tail)
		(*tail)->next = child;
	else
		parent->child = child;
	*tail = child;
}

static void parse_error(struct loader *ld, const char *what, const yaml_mark_t *mark)
{
	hil_error("%s:%zu:%zu: %s", ld->name, mark->line + 1, mark->column + 1, what);
}

static int next_event(struct loader *ld, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&ld->parser, ev)) {
		const char *problem = ld->parser.problem ? ld->parser.problem : "malformed YAML";
		char msg[256];

		snprintf(msg, sizeof(msg), "malformed YAML: %s", problem);
		parse_error(ld, msg, &ld->parser.problem_mark);
		return -EINVAL;
	}
	return 0;
}

static struct cfg_node *load_node(struct loader *ld, yaml_event_t *ev);

static struct cfg_node *load_collection(struct loader *ld, yaml_event_t *start, bool is_map)
{
	struct cfg_node *coll = node_new(ld, is_map ? CFG_MAP : CFG_SEQ, &start->start_mark);
	struct cfg_node *tail = NULL;
	yaml_event_type_t end = is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;

	if (!coll)
		return NULL;
	if (++ld->depth > CFG_MAX_DEPTH) {
		parse_error(ld, "nesting too deep", &start->start_mark);
		goto fail;
	}
	for (;;) {
		yaml_event_t ev;
		struct cfg_node *key = NULL, *val;

		if (next_event(ld, &ev) < 0)
			goto fail;
		if (ev.type == end) {
			yaml_event_delete(&ev);
			break;
		}
		if (is_map) {
			if (ev.type != YAML_SCALAR_EVENT) {
				parse_error(ld, "a mapping key must be a plain word",
				            &ev.start_mark);
				yaml_event_delete(&ev);
				goto fail;
			}
			key = load_node(ld, &ev);
			yaml_event_delete(&ev);
			if (!key)
				goto fail;
			if (!strcmp(key->value, "<<")) {
				/* Merge key: take the mapping's entries that this
				 * mapping does not set itself (YAML 1.1). */
				node_free(key);
				if (next_event(ld, &ev) < 0)
					goto fail;
				val = load_node(ld, &ev);
				yaml_event_delete(&ev);
				if (!val || val->type != CFG_MAP) {
					if (val)
						cfg_error(val, "<< must merge a mapping");
					node_free(val);
					goto fail;
				}
				while (val->child) {
					struct cfg_node *c = val->child;
					val->child = c->next;
					c->next = NULL;
					c->merged = true;
					if (cfg_get(coll, c->key))
						node_free(c);
					else
						append_child(coll, c, &tail);
				}
				for (int i = 0; i < ld->n_anchors; i++)
					if (ld->anchors[i].node == val)
						ld->anchors[i].node = coll;
				node_free(val);
				continue;
			}
			if (cfg_get(coll, key->value) && cfg_get(coll, key->value)->merged) {
				/* An explicit key overrides a merged one. */
				struct cfg_node **pp = &coll->child;
				tail = NULL;
				while (*pp) {
					if ((*pp)->key && !strcmp((*pp)->key, key->value)) {
						struct cfg_node *gone = *pp;
						*pp = gone->next;
						gone->next = NULL;
						node_free(gone);
						continue;
					}
					tail = *pp;
					pp = &(*pp)->next;
				}
			}
			if (cfg_get(coll, key->value)) {
				cfg_error(key, "key \"%s\" is given twice", key->value);
				node_free(key);
				goto fail;
			}
			if (next_event(ld, &ev) < 0) {
				node_free(key);
				goto fail;
			}
		}
		val = load_node(ld, &ev);
		yaml_event_delete(&ev);
		if (!val) {
			node_free(key);
			goto fail;
		}
		if (key) {
			val->key = key->value;
			val->key_line = key->line;
			val->key_col = key->col;
			key->value = NULL;
			/* A null value points at its key, where the user looks. */
			if (val->type == CFG_SCALAR && val->value[0] == '\0' && !val->quoted) {
				val->line = key->line;
				val->col = key->col;
			}
			node_free(key);
		}
		append_child(coll, val, &tail);
	}
	ld->depth--;
	return coll;
fail:
	node_free(coll);
	return NULL;
}

static struct cfg_node *load_node(struct loader *ld, yaml_event_t *ev)
{
	struct cfg_node *n;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n = node_new(ld, CFG_SCALAR, &ev->start_mark);
		if (!n)
			return NULL;
		n->value = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		n->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
		            ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
		if (!n->value) {
			free(n);
			return NULL;
		}
		if (!n->quoted && (strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0))
			n->value[0] = '\0';
		remember_anchor(ld, ev->data.scalar.anchor, n);
		return n;
	case YAML_MAPPING_START_EVENT:
		n = load_collection(ld, ev, true);
		remember_anchor(ld, ev->data.mapping_start.anchor, n);
		return n;
	case YAML_SEQUENCE_START_EVENT:
		n = load_collection(ld, ev, false);
		remember_anchor(ld, ev->data.sequence_start.anchor, n);
		return n;
	case YAML_ALIAS_EVENT:
		for (int i = ld->n_anchors - 1; i >= 0; i--)
			if (!strcmp(ld->anchors[i].name, (const char *)ev->data.alias.anchor)) {
				n = node_copy(ld, ld->anchors[i].node);
				if (!n || ld->copied > 100000) {
					parse_error(ld, "aliases expand to too many values",
					            &ev->start_mark);
					node_free(n);
					return NULL;
				}
				free(n->key); /* its container names it */
				n->key = NULL;
				n->line = (int)ev->start_mark.line + 1;
				n->col = (int)ev->start_mark.column + 1;
				return n;
			}
		parse_error(ld, "alias to an unknown anchor", &ev->start_mark);
		return NULL;
	default:
		parse_error(ld, "unexpected YAML structure", &ev->start_mark);
		return NULL;
	}
}

static struct cfg_node *load(struct loader *ld)
{
	struct cfg_node *root = NULL;
	yaml_event_t ev;

	for (;;) {
		if (next_event(ld, &ev) < 0)
			goto fail;
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type == YAML_STREAM_START_EVENT || ev.type == YAML_DOCUMENT_START_EVENT ||
		    ev.type == YAML_DOCUMENT_END_EVENT) {
			yaml_event_delete(&ev);
			continue;
		}
		if (root) {
			parse_error(ld, "only one YAML document per file", &ev.start_mark);
			yaml_event_delete(&ev);
			goto fail;
		}
		root = load_node(ld, &ev);
		yaml_event_delete(&ev);
		if (!root)
			goto fail;
	}
	if (!root) {
		yaml_mark_t start = {0};
		parse_error(ld, "the file is empty", &start);
		return NULL;
	}
	return root;
fail:
	node_free(root);
	return NULL;
}

struct cfg_node *cfg_load_buf(const char *name, const char *buf, size_t len)
{
	struct loader ld = {0};
	struct cfg_node *root;
	char *owned_name = strdup(name);

	if (!owned_name)
		return NULL;
	ld.name = owned_name;
	if (!yaml_parser_initialize(&ld.parser)) {
		free(owned_name);
		return NULL;
	}
	yaml_parser_set_input_string(&ld.parser, (const unsigned char *)buf, len);
	root = load(&ld);
	yaml_parser_delete(&ld.parser);
	for (int i = 0; i < ld.n_anchors; i++)
		free(ld.anchors[i].name);
	if (!root) {
		free(owned_name);
		return NULL;
	}
	return root; /* root->file == owned_name, freed in cfg_free */
}

struct cfg_node *cfg_load_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	struct cfg_node *root;

	if (!f) {
		hil_error("%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		size_t got;
		if (cap - len < 4096) {
			char *nb;
			if (cap > (16u << 20)) {
				hil_error("%s: file is larger than 16 MiB; is it the right file?",
				          path);
				free(buf);
				fclose(f);
				return NULL;
			}
			nb = realloc(buf, cap ? cap * 2 : 8192);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
			cap = cap ? cap * 2 : 8192;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		hil_error("%s: %s", path, strerror(errno));
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	root = cfg_load_buf(path, buf, len);
	free(buf);
	return root;
}

void cfg_free(struct cfg_node *root)
{
	char *name;

	if (!root)
		return;
	name = (char *)root->file;
	node_free(root);
	free(name);
}

const struct cfg_node *cfg_get(const struct cfg_node *map, const char *key)
{
	const struct cfg_node *c;

	if (!map || map->type != CFG_MAP)
		return NULL;
	for (c = map->child; c; c = c->next)
		if (c->key && strcmp(c->key, key) == 0)
			return c;
	return NULL;
}

size_t cfg_count(const struct cfg_node *node)
{
	size_t n = 0;

	for (const struct cfg_node *c = node ? node->child : NULL; c; c = c->next)
		n++;
	return n;
}

/* The list item that names this node's context: a map inside a sequence that
 * has a "name" key. "boards" gives "board". */
static const struct cfg_node *named_item(const struct cfg_node *node)
{
	for (const struct cfg_node *n = node; n; n = n->parent)
		if (n->type == CFG_MAP && n->parent && n->parent->type == CFG_SEQ) {
			const struct cfg_node *name = cfg_get(n, "name");
			if (name && name->type == CFG_SCALAR)
				return n;
		}
	return NULL;
}

void cfg_describe(const struct cfg_node *node, char *buf, size_t size)
{
	const struct cfg_node *item = named_item(node);
	const char *keys[CFG_MAX_DEPTH + 2];
	int nkeys = 0;
	size_t used = 0;

	buf[0] = '\0';
	if (item) {
		const char *list = item->parent->key ? item->parent->key : "item";
		size_t l = strlen(list);
		if (l > 1 && list[l - 1] == 's')
			l--;
		used += (size_t)snprintf(buf, size, "%.*s \"%s\"", (int)l, list,
		                         cfg_get(item, "name")->value);
	}
	for (const struct cfg_node *n = node; n && n != item && nkeys < CFG_MAX_DEPTH;
	     n = n->parent)
		if (n->key)
			keys[nkeys++] = n->key;
	if (nkeys && used < size)
		used += (size_t)snprintf(buf + used, size - used, "%s", used ? ": " : "");
	for (int i = nkeys - 1; i >= 0 && used < size; i--)
		used += (size_t)snprintf(buf + used, size - used, "%s%s", keys[i], i ? "." : "");
}

static void error_at(const struct cfg_node *node, bool at_key, const char *fmt, va_list ap)
{
	char where[512], msg[1024];
	int line, col;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!node) {
		hil_error("%s", msg);
		return;
	}
	line = at_key && node->key ? node->key_line : node->line;
	col = at_key && node->key ? node->key_col : node->col;
	cfg_describe(node, where, sizeof(where));
	hil_error("%s:%d:%d: %s%s%s", node->file, line, col, where, where[0] ? " " : "", msg);
}

void cfg_error(const struct cfg_node *node, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_at(node, false, fmt, ap);
	va_end(ap);
}

void cfg_error_at_key(const struct cfg_node *node, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_at(node, true, fmt, ap);
	va_end(ap);
}

static const struct cfg_node *get_scalar(const struct cfg_node *map, const char *key, bool required,
                                         int *rc)
{
	const struct cfg_node *n = cfg_get(map, key);

	*rc = 0;
	if (!n) {
		if (required) {
			cfg_error(map, "needs key \"%s\"", key);
			*rc = -EINVAL;
		}
		return NULL;
	}
	if (n->type != CFG_SCALAR) {
		cfg_error(n, "must be a single value, not a %s",
		          n->type == CFG_MAP ? "mapping" : "list");
		*rc = -EINVAL;
		return NULL;
	}
	if (n->value[0] == '\0' && !n->quoted) {
		if (required) {
			cfg_error(n, "is empty; give a value");
			*rc = -EINVAL;
		}
		return NULL;
	}
	return n;
}

int cfg_get_str(const struct cfg_node *map, const char *key, bool required, const char **out)
{
	int rc;
	const struct cfg_node *n = get_scalar(map, key, required, &rc);

	if (n)
		*out = n->value;
	return rc;
}

int cfg_get_int(const struct cfg_node *map, const char *key, bool required, long long min,
                long long max, long long *out)
{
	int rc;
	const struct cfg_node *n = get_scalar(map, key, required, &rc);
	char *end;
	long long v;

	if (!n)
		return rc;
	errno = 0;
	v = strtoll(n->value, &end, 0);
	if (errno || end == n->value || *end) {
		cfg_error(n, "\"%s\" is not a whole number", n->value);
		return -EINVAL;
	}
	if (v < min || v > max) {
		cfg_error(n, "%lld is out of range (%lld to %lld)", v, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int cfg_get_bool(const struct cfg_node *map, const char *key, bool required, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1", NULL};
	static const char *const no[] = {"false", "no", "off", "0", NULL};
	int rc;
	const struct cfg_node *n = get_scalar(map, key, required, &rc);

	if (!n)
		return rc;
	for (int i = 0; yes[i]; i++)
		if (strcasecmp(n->value, yes[i]) == 0)
			return *out = true, 0;
	for (int i = 0; no[i]; i++)
		if (strcasecmp(n->value, no[i]) == 0)
			return *out = false, 0;
	cfg_error(n, "\"%s\" is not true or false", n->value);
	return -EINVAL;
}

/* Strict: digits, an optional fraction, then a unit (none: seconds); no
 * sign, blanks, exponent, hex, inf or nan; at most CFG_DURATION_MAX_S. */
int cfg_parse_duration(const char *text, int64_t *out_ns)
{
	static const struct {
		const char *suffix;
		double scale;
	} units[] = {{"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}, {"", 1e9}};
	const char *p = text;
	char *end;
	double v;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	errno = 0;
	v = strtod(text, &end);
	if (errno || end != p)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].suffix) == 0) {
			double ns = v * units[i].scale;
			if (ns > (double)CFG_DURATION_MAX_S * 1e9)
				return -ERANGE;
			*out_ns = (int64_t)(ns + 0.5);
			return 0;
		}
	return -EINVAL;
}

int cfg_get_duration(const struct cfg_node *map, const char *key, bool required, int64_t *out_ns)
{
	int rc;
	const struct cfg_node *n = get_scalar(map, key, required, &rc);

	if (!n)
		return rc;
	if (cfg_parse_duration(n->value, out_ns) < 0) {
		cfg_error(n, "%s", cfg_duration_error(n->value));
		return -EINVAL;
	}
	return 0;
}

const char *cfg_duration_error(const char *text)
{
	static __thread char msg[256];
	int64_t ns;

	if (cfg_parse_duration(text, &ns) == -ERANGE)
		snprintf(msg, sizeof(msg), "\"%.64s\" is too long a duration (at most %dh)", text,
		         CFG_DURATION_MAX_S / 3600);
	else
		snprintf(msg, sizeof(msg), "\"%.64s\" is not a duration (like 500ms, 2s, 1.5s, 3m)",
		         text);
	return msg;
}

static void join_words(const char *const words[], char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; words[i] && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", words[i]);
}

int cfg_get_enum(const struct cfg_node *map, const char *key, bool required,
                 const char *const words[], int *out)
{
	int rc;
	const struct cfg_node *n = get_scalar(map, key, required, &rc);
	char list[512];

	if (!n)
		return rc;
	for (int i = 0; words[i]; i++)
		if (strcmp(n->value, words[i]) == 0)
			return *out = i, 0;
	join_words(words, list, sizeof(list));
	cfg_error(n, "\"%s\" is not one of %s", n->value, list);
	return -EINVAL;
}

int cfg_get_strv(const struct cfg_node *map, const char *key, bool required, const char ***out)
{
	const struct cfg_node *n = cfg_get(map, key);
	const char **v;
	size_t i = 0;

	if (!n) {
		if (required) {
			cfg_error(map, "needs key \"%s\"", key);
			return -EINVAL;
		}
		return 0;
	}
	if (n->type == CFG_MAP) {
		cfg_error(n, "must be a value or a list of values, not a mapping");
		return -EINVAL;
	}
	v = calloc(cfg_count(n) + 2, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (n->type == CFG_SCALAR) {
		v[i++] = n->value;
	} else {
		for (const struct cfg_node *c = n->child; c; c = c->next) {
			if (c->type != CFG_SCALAR) {
				cfg_error(c, "must be a single value");
				free(v);
				return -EINVAL;
			}
			v[i++] = c->value;
		}
	}
	v[i] = NULL;
	*out = v;
	return 0;
}

int cfg_check_keys(const struct cfg_node *map, const char *const allowed[])
{
	char list[512];

	if (cfg_expect_type(map, CFG_MAP) < 0)
		return -EINVAL;
	for (const struct cfg_node *c = map->child; c; c = c->next) {
		bool ok = false;
		for (int i = 0; allowed[i] && !ok; i++)
			ok = strcmp(c->key, allowed[i]) == 0;
		if (!ok) {
			join_words(allowed, list, sizeof(list));
			cfg_error_at_key(c, "is not a known key here (known: %s)", list);
			return -EINVAL;
		}
	}
	return 0;
}

int cfg_expect_type(const struct cfg_node *node, enum cfg_type type)
{
	static const char *const names[] = {"a single value", "a mapping (key: value)", "a list"};

	if (!node || node->type == type)
		return 0;
	cfg_error(node, "must be %s, not %s", names[type], names[node->type]);
	return -EINVAL;
}
