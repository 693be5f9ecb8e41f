/* harness/run/expect.h — wait for one of several regexes on a console stream.
 *
 * Patterns are PCRE2 (byte mode, multiline: ^ and $ match at line ends).
 * Bytes are fed as they are read; a match that spans two reads is found
 * because the unmatched tail that could still start a match is kept (PCRE2
 * partial matching). NUL bytes and invalid UTF-8 are ordinary bytes. When
 * several patterns match, the one whose match ends first in the stream wins
 * (ties: the lower index). The window kept is bounded (EXPECT_WINDOW).
 *
 * expect_new() returns an object freed with expect_free(); it copies the
 * patterns. */
#ifndef HILCTL_EXPECT_H
#define HILCTL_EXPECT_H

#include <stddef.h>
#include <stdint.h>

#define EXPECT_WINDOW (64 * 1024)
#define EXPECT_MAX_PATTERNS 32

struct expect;

struct expect_match {
	int index;           /* which pattern */
	uint64_t end_offset; /* stream offset just past the match */
	char text[512];      /* the matched bytes, NUL-terminated (truncated) */
	size_t text_len;
	/* capture groups 1..9 as NUL-terminated copies (empty when unset) */
	char groups[10][128];
	int n_groups;
};

/* Compile; on a bad pattern prints "pattern N (\"...\"): error at offset K:
 * message" and returns NULL. */
struct expect *expect_new(const char *const patterns[], size_t n);
void expect_free(struct expect *e);

struct cfg_node;
/* Check at load that a pattern from a lab or scenario file compiles as
 * expect_new() would compile it; each ${name} (expanded when the run
 * executes) stands for "0" and $${ for a literal ${. On error prints
 * "file:line:col: <where> is not a valid regex: <why> at offset K"
 * (cfg_error on node) and returns -EINVAL. */
int expect_regex_ok(const struct cfg_node *node, const char *pattern);
/* That pattern (checked) has a named group `group` among the groups a match
 * keeps (1..9, struct expect_match); else cfg_error on node, -EINVAL. */
int expect_regex_group_ok(const struct cfg_node *node, const char *pattern, const char *group);
/* The same for a scalar or each item of a sequence of scalars. */
int expect_regex_node_ok(const struct cfg_node *node);

/* Feed bytes. Returns 1 and fills *m when a pattern matched: the stream up
 * to the match end is consumed and what followed stays buffered, so call
 * again with len 0 until it returns 0 to see a second match in the same read.
 * Returns 0 when nothing matched yet. */
int expect_feed(struct expect *e, const void *buf, size_t len, struct expect_match *m);
/* Total bytes fed so far. */
uint64_t expect_offset(const struct expect *e);
/* Forget everything buffered (e.g. after a power cycle). */
void expect_reset(struct expect *e);
/* Look up a named group in the last match's pattern; -1 if none. */
int expect_group_index(const struct expect *e, int pattern, const char *name);

#endif
