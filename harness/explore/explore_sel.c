/* harness/explore/explore_sel.c — a crash state's selection as text ("1200+1203,1201",
 * ranges "1202-1206"), for --only and the journal; see explore.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/explore/explore.h"

static int put(char *buf, size_t size, size_t *used, const char *fmt, unsigned a, unsigned b)
{
	int n = snprintf(buf + *used, size - *used, fmt, a, b);

	if (n < 0 || (size_t)n >= size - *used)
		return -ENOSPC;
	*used += (size_t)n;
	return 0;
}

int explore_sel_format(const struct xs_state *st, char *buf, size_t size)
{
	size_t used = 0;

	if (!size)
		return -ENOSPC;
	buf[0] = '\0';
	if (put(buf, size, &used, "%u", st->prefix, 0) < 0)
		return -ENOSPC;
	for (uint32_t i = 0; i < st->n_extra;) {
		uint32_t j = i;
		/* A run counting up by one is written as a range. */
		while (j + 1 < st->n_extra && st->extra[j + 1] == st->extra[j] + 1)
			j++;
		if (put(buf, size, &used, i ? "," : "+", 0, 0) < 0)
			return -ENOSPC;
		if (j - i >= 2) {
			if (put(buf, size, &used, "%u-%u", st->extra[i], st->extra[j]) < 0)
				return -ENOSPC;
			i = j + 1;
		} else {
			if (put(buf, size, &used, "%u", st->extra[i], 0) < 0)
				return -ENOSPC;
			i++;
		}
	}
	return 0;
}

static int number(const char **p, uint64_t *out)
{
	char *end;

	if (**p < '0' || **p > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(*p, &end, 10);
	if (errno || *out > UINT32_MAX - 2)
		return -EINVAL;
	*p = end;
	return 0;
}

static int push(struct xs_state *st, size_t *cap, uint64_t v)
{
	if (st->n_extra == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		uint32_t *ne = realloc(st->extra, nc * sizeof(*ne));
		if (!ne)
			return -ENOMEM;
		st->extra = ne;
		*cap = nc;
	}
	st->extra[st->n_extra++] = (uint32_t)v;
	return 0;
}

static int fail(struct xs_state *st, char *why, size_t why_size, const char *fmt,
                unsigned long long a, unsigned long long b)
{
	snprintf(why, why_size, fmt, a, b);
	free(st->extra);
	st->extra = NULL;
	st->n_extra = 0;
	return -EINVAL;
}

int explore_sel_parse(const char *text, uint64_t n, struct xs_state *st, char *why, size_t why_size)
{
	const char *p = text;
	uint64_t prefix, a, b;
	size_t cap = 0;
	unsigned char *seen;

	memset(st, 0, sizeof(*st));
	st->dup_of = -1;
	st->phase = -1;
	if (number(&p, &prefix) < 0 || (*p && *p != '+'))
		return fail(st, why, why_size, "give PREFIX[+I,J-K,...] (entry numbers from 0)", 0,
		            0);
	if (prefix > n)
		return fail(st, why, why_size, "prefix %llu is past the log's %llu entries", prefix,
		            n);
	st->prefix = (uint32_t)prefix;
	if (!*p)
		return 0;
	seen = calloc(n + 1, 1);
	if (!seen)
		return -ENOMEM;
	p++;
	for (;;) {
		if (number(&p, &a) < 0) {
			free(seen);
			return fail(st, why, why_size, "after \"+\": entry numbers or ranges A-B",
			            0, 0);
		}
		b = a;
		if (*p == '-') {
			p++;
			if (number(&p, &b) < 0 || b < a) {
				free(seen);
				return fail(st, why, why_size,
				            "range from %llu: give A-B with B >= A", a, 0);
			}
		}
		for (uint64_t x = a; x <= b; x++) {
			if (x >= n || x < prefix || seen[x]) {
				free(seen);
				return fail(st, why, why_size,
				            x >= n ? "entry %llu is past the log's %llu entries"
				            : x < prefix ? "entry %llu is inside the prefix (%llu)"
				                         : "entry %llu is given twice",
				            x, x >= n ? n : prefix);
			}
			seen[x] = 1;
			if (push(st, &cap, x) < 0) {
				free(seen);
				return -ENOMEM;
			}
		}
		if (!*p)
			break;
		if (*p != ',') {
			free(seen);
			return fail(st, why, why_size, "unexpected character at offset %llu",
			            (unsigned long long)(p - text), 0);
		}
		p++;
	}
	free(seen);
	return 0;
}
