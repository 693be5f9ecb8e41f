/* harness/run/expect.c — several PCRE2 patterns over a console byte stream,
 * with partial matching so that a match split across reads is found. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "harness/run/expect.h"
#include "lib/cfg.h"
#include "lib/log.h"

struct expect {
	pcre2_code *code[EXPECT_MAX_PATTERNS];
	pcre2_match_data *md;
	size_t n;
	unsigned char *buf; /* window: bytes not yet ruled out */
	size_t len;
	uint64_t base;     /* stream offset of buf[0] */
	uint64_t fed;      /* total bytes fed */
	size_t lookbehind; /* bytes to keep before a possible match start */
	int bol;           /* buf[0] starts a line */
};

/* A full match wins as soon as it exists (soft partial); "$" only matches
 * at a real line end, never at the end of what has arrived so far. */
static uint32_t match_flags(const struct expect *e)
{
	return PCRE2_PARTIAL_SOFT | PCRE2_NOTEOL | (e->bol ? 0 : PCRE2_NOTBOL);
}

/* Every pattern is compiled the same way: multi-line, and a line ends at
 * "\n", "\r\n" or "\r", so "$" matches before a serial console's CRLF (with
 * only "\n" as newline, "done$" never matched "done\r\n"). */
static pcre2_code *compile(const char *pattern, int *err, PCRE2_SIZE *at)
{
	pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
	pcre2_code *code;

	if (!cc) {
		*err = PCRE2_ERROR_NOMEMORY;
		*at = 0;
		return NULL;
	}
	pcre2_set_newline(cc, PCRE2_NEWLINE_ANYCRLF);
	code =
	    pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_MULTILINE, err, at, cc);
	pcre2_compile_context_free(cc);
	return code;
}

static void drop_front(struct expect *e, size_t k)
{
	if (k == 0)
		return;
	e->bol = e->buf[k - 1] == '\n';
	memmove(e->buf, e->buf + k, e->len - k);
	e->len -= k;
	e->base += k;
}

struct expect *expect_new(const char *const patterns[], size_t n)
{
	struct expect *e;
	uint32_t max_lb = 0;

	if (n == 0 || n > EXPECT_MAX_PATTERNS) {
		hil_error("expect: give 1 to %d patterns", EXPECT_MAX_PATTERNS);
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->buf = malloc(EXPECT_WINDOW);
	if (!e->buf)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		int err;
		PCRE2_SIZE at;
		uint32_t lb = 0;

		e->code[i] = compile(patterns[i], &err, &at);
		if (!e->code[i]) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(err, msg, sizeof(msg));
			hil_error("pattern %zu (\"%.80s\"): error at offset %zu: %s", i + 1,
			          patterns[i], (size_t)at, (char *)msg);
			goto fail;
		}
		e->n = i + 1;
		pcre2_pattern_info(e->code[i], PCRE2_INFO_MAXLOOKBEHIND, &lb);
		if (lb > max_lb)
			max_lb = lb;
	}
	/* ^ needs the byte before a match start to decide "start of line". */
	e->lookbehind = max_lb + 1;
	e->bol = 1;
	e->md = pcre2_match_data_create(10, NULL);
	if (!e->md)
		goto fail;
	return e;
fail:
	expect_free(e);
	return NULL;
}

void expect_free(struct expect *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++)
		pcre2_code_free(e->code[i]);
	pcre2_match_data_free(e->md);
	free(e->buf);
	free(e);
}

uint64_t expect_offset(const struct expect *e)
{
	return e->fed;
}

void expect_reset(struct expect *e)
{
	e->base += e->len;
	e->len = 0;
	e->bol = 1;
}

int expect_group_index(const struct expect *e, int pattern, const char *name)
{
	int rc;

	if (pattern < 0 || (size_t)pattern >= e->n)
		return -1;
	rc = pcre2_substring_number_from_name(e->code[pattern], (PCRE2_SPTR)name);
	return rc < 0 ? -1 : rc;
}

static void fill_match(struct expect *e, int idx, struct expect_match *m)
{
	PCRE2_SIZE *ov;
	size_t start, end, len;
	int pairs;

	/* Re-run the winner to get its own ovector. */
	pairs = pcre2_match(e->code[idx], e->buf, e->len, 0,
	                    match_flags(e) & ~(uint32_t)PCRE2_PARTIAL_SOFT, e->md, NULL);
	ov = pcre2_get_ovector_pointer(e->md);
	start = ov[0];
	end = ov[1];
	memset(m, 0, sizeof(*m));
	m->index = idx;
	m->end_offset = e->base + end;
	len = end - start;
	m->text_len = len < sizeof(m->text) - 1 ? len : sizeof(m->text) - 1;
	memcpy(m->text, e->buf + start, m->text_len);
	m->n_groups = pairs > 10 ? 10 : pairs;
	for (int g = 1; g < m->n_groups; g++) {
		size_t gs = ov[2 * g], ge = ov[2 * g + 1], gl;
		if (gs == PCRE2_UNSET)
			continue;
		gl = ge - gs < sizeof(m->groups[g]) - 1 ? ge - gs : sizeof(m->groups[g]) - 1;
		memcpy(m->groups[g], e->buf + gs, gl);
	}
}

/* Scan the window: returns the winning pattern or -1, and in *keep_from the
 * first byte that a later read could still turn into a match. */
static int scan(struct expect *e, size_t *keep_from)
{
	int best = -1;
	size_t best_end = 0;

	*keep_from = e->len;
	for (size_t i = 0; i < e->n; i++) {
		int rc = pcre2_match(e->code[i], e->buf, e->len, 0, match_flags(e), e->md, NULL);
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(e->md);

		if (rc > 0 || rc == 0) {
			if (best < 0 || ov[1] < best_end) {
				best = (int)i;
				best_end = ov[1];
			}
		} else if (rc == PCRE2_ERROR_PARTIAL) {
			if (ov[0] < *keep_from)
				*keep_from = ov[0];
		}
		/* other negative codes (no match, match limit) rule nothing in */
	}
	return best;
}

static int feed_window(struct expect *e, struct expect_match *m)
{
	size_t keep_from;
	int idx = scan(e, &keep_from);

	if (idx >= 0) {
		size_t consumed;
		fill_match(e, idx, m);
		consumed = (size_t)(m->end_offset - e->base);
		/* An empty match must still move the stream on. */
		drop_front(e, consumed ? consumed : (e->len ? 1 : 0));
		return 1;
	}
	/* Keep what a later byte could complete, and the line in progress:
	 * PCRE2 reports no partial match where only "$" is missing. */
	for (size_t i = e->len; i > 0; i--)
		if (e->buf[i - 1] == '\n') {
			if (i < keep_from)
				keep_from = i;
			break;
		} else if (i == 1) {
			keep_from = 0;
		}
	keep_from = keep_from > e->lookbehind ? keep_from - e->lookbehind : 0;
	drop_front(e, keep_from);
	return 0;
}

int expect_feed(struct expect *e, const void *data, size_t len, struct expect_match *m)
{
	const unsigned char *p = data;

	if (len == 0)
		return e->len ? feed_window(e, m) : 0;
	while (len) {
		size_t room = EXPECT_WINDOW - e->len, take;
		int rc;

		if (room == 0) {
			/* A partial match longer than the window cannot be
			 * a console marker: drop the older half. */
			size_t drop = EXPECT_WINDOW / 2;
			drop_front(e, drop);
			room = drop;
		}
		take = len < room ? len : room;
		memcpy(e->buf + e->len, p, take);
		e->len += take;
		e->fed += take;
		p += take;
		len -= take;
		rc = feed_window(e, m);
		if (rc != 0) {
			/* Put back what followed the match: the caller sees the
			 * match first; the bytes after it stay in the window for
			 * the next call. */
			if (len) {
				size_t more =
				    len < EXPECT_WINDOW - e->len ? len : EXPECT_WINDOW - e->len;
				memcpy(e->buf + e->len, p, more);
				e->len += more;
				e->fed += more;
			}
			return rc;
		}
	}
	return 0;
}

/* pattern with ${name} replaced by "0" and $${ by ${ (malloc'd). */
static char *placeholders(const char *pattern)
{
	char *out = malloc(strlen(pattern) + 1), *o = out;

	if (!out)
		return NULL;
	for (const char *p = pattern; *p;) {
		if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
			*o++ = '$';
			*o++ = '{';
			p += 3;
		} else if (p[0] == '$' && p[1] == '{' && strchr(p, '}')) {
			*o++ = '0';
			p = strchr(p, '}') + 1;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

int expect_regex_ok(const struct cfg_node *node, const char *pattern)
{
	char *text = placeholders(pattern);
	pcre2_code *code;
	PCRE2_SIZE at;
	int err;

	if (!text)
		return -ENOMEM;
	code = compile(text, &err, &at);
	free(text);
	if (!code) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(err, msg, sizeof(msg));
		cfg_error(node, "\"%.80s\" is not a valid regex: %s at offset %zu", pattern,
		          (char *)msg, (size_t)at);
		return -EINVAL;
	}
	pcre2_code_free(code);
	return 0;
}

int expect_regex_group_ok(const struct cfg_node *node, const char *pattern, const char *group)
{
	char *text = placeholders(pattern);
	pcre2_code *code;
	PCRE2_SIZE at;
	int err, n;

	if (!text)
		return -ENOMEM;
	code = compile(text, &err, &at);
	free(text);
	if (!code)
		return expect_regex_ok(node, pattern);
	n = pcre2_substring_number_from_name(code, (PCRE2_SPTR)group);
	pcre2_code_free(code);
	if (n < 0) {
		cfg_error(node, "names group %s, which \"%.80s\" does not have (write (?<%s>...))",
		          group, pattern, group);
		return -EINVAL;
	}
	if (n > 9) {
		cfg_error(node, "group %s is group %d of \"%.80s\"; only groups 1-9 are kept",
		          group, n, pattern);
		return -EINVAL;
	}
	return 0;
}

int expect_regex_node_ok(const struct cfg_node *node)
{
	if (!node)
		return 0;
	if (node->type == CFG_SCALAR)
		return expect_regex_ok(node, node->value);
	for (const struct cfg_node *c = node->type == CFG_SEQ ? node->child : NULL; c; c = c->next)
		if (c->type == CFG_SCALAR && expect_regex_ok(c, c->value) < 0)
			return -EINVAL;
	return 0;
}
