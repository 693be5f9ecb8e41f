/* lib/text.c — growable strings, and hostile board text made valid UTF-8
 * and escaped for XML, HTML and YAML. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/text.h"

static void sbuf_grow(struct sbuf *b, size_t more)
{
	size_t need = b->len + more + 1;
	char *s;

	if (need <= b->cap)
		return;
	b->cap = b->cap ? b->cap : 256;
	while (b->cap < need)
		b->cap *= 2;
	s = realloc(b->s, b->cap);
	if (!s)
		abort(); /* a report cannot be written without memory */
	b->s = s;
}

void sbuf_add(struct sbuf *b, const void *data, size_t len)
{
	sbuf_grow(b, len);
	if (len)
		memcpy(b->s + b->len, data, len);
	b->len += len;
	b->s[b->len] = '\0';
}

void sbuf_adds(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

void sbuf_addf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sbuf_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void sbuf_reset(struct sbuf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = '\0';
}

void sbuf_free(struct sbuf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

int sbuf_write(const struct sbuf *b, FILE *f)
{
	if (b->len && fwrite(b->s, 1, b->len, f) != b->len)
		return -EIO;
	return 0;
}

/* Decode one UTF-8 sequence; 0 when p does not start a valid one (overlong
 * forms, surrogates and values past U+10FFFF are invalid). */
static size_t utf8_decode(const unsigned char *p, size_t len, uint32_t *cp)
{
	size_t n;
	uint32_t v, min;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2, v = p[0] & 0x1f, min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3, v = p[0] & 0x0f, min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4, v = p[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

static void put_cp(struct sbuf *b, uint32_t cp)
{
	char u[4];

	if (cp < 0x80) {
		u[0] = (char)cp;
		sbuf_add(b, u, 1);
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		sbuf_add(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		sbuf_add(b, u, 3);
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		sbuf_add(b, u, 4);
	}
}

/* Length of an ANSI CSI sequence (ESC [ params intermediates final) at p, or
 * 0: boards colour their boot logs, and the codes only hide the words. */
static size_t csi_len(const unsigned char *p, size_t len)
{
	size_t i = 2;

	if (len < 3 || p[0] != 0x1b || p[1] != '[')
		return 0;
	while (i < len && p[i] >= 0x30 && p[i] <= 0x3f)
		i++;
	while (i < len && p[i] >= 0x20 && p[i] <= 0x2f)
		i++;
	if (i < len && p[i] >= 0x40 && p[i] <= 0x7e)
		return i + 1;
	return 0;
}

void text_clean(struct sbuf *out, const char *s, size_t len, unsigned flags)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	uint32_t cp;

	sbuf_grow(out, len);
	while (i < len) {
		if ((flags & TEXT_STRIP_ANSI) && (n = csi_len(p + i, len - i))) {
			i += n;
			continue;
		}
		n = utf8_decode(p + i, len - i, &cp);
		if (n == 0) {
			put_cp(out, 0xfffd); /* one per invalid byte, so none is hidden */
			i++;
			continue;
		}
		if ((cp == '\n' && (flags & TEXT_KEEP_NL)) ||
		    (cp == '\t' && (flags & TEXT_KEEP_TAB)))
			put_cp(out, cp);
		else if (cp < 0x20)
			put_cp(out, 0x2400 + cp); /* U+2400.. control pictures: NUL, ESC... */
		else if (cp == 0x7f)
			put_cp(out, 0x2421);
		else if ((cp >= 0x80 && cp <= 0x9f) || cp == 0xfffe || cp == 0xffff)
			put_cp(out, 0xfffd); /* C1 controls and non-characters: not XML */
		else
			sbuf_add(out, p + i, n);
		i += n;
	}
}

size_t text_con_bytes(char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, n, o = 0;
	uint32_t cp;

	for (i = 0; i < len; i += n) {
		n = utf8_decode(p + i, len - i, &cp);
		if (n == 0 || cp > 0xff)
			return len;
	}
	for (i = 0; i < len; i += n) {
		n = utf8_decode(p + i, len - i, &cp);
		s[o++] = (char)cp;
	}
	return o;
}

static void escape_markup(struct sbuf *out, const struct sbuf *clean, bool attr)
{
	for (size_t i = 0; i < clean->len; i++) {
		char ch = clean->s[i];

		switch (ch) {
		case '&':
			sbuf_adds(out, "&amp;");
			break;
		case '<':
			sbuf_adds(out, "&lt;");
			break;
		case '>':
			sbuf_adds(out, "&gt;");
			break; /* so "]]>" never appears */
		case '"':
			sbuf_adds(out, "&quot;");
			break;
		case '\'':
			sbuf_adds(out, "&#39;");
			break;
		case '\n':
			sbuf_adds(out, attr ? "&#10;" : "\n");
			break;
		case '\t':
			sbuf_adds(out, attr ? "&#9;" : "\t");
			break;
		default:
			sbuf_add(out, &ch, 1);
		}
	}
}

void xml_escape(struct sbuf *out, const char *s, size_t len, unsigned flags)
{
	struct sbuf clean = {0};

	text_clean(&clean, s ? s : "", s ? len : 0, flags);
	escape_markup(out, &clean, false);
	sbuf_free(&clean);
}

void xml_escape_attr(struct sbuf *out, const char *s, size_t len)
{
	struct sbuf clean = {0};

	/* Attribute values are normalised by parsers: keep line ends as
	 * character references so a multi-line reason survives. */
	text_clean(&clean, s ? s : "", s ? len : 0, TEXT_KEEP_NL | TEXT_KEEP_TAB);
	escape_markup(out, &clean, true);
	sbuf_free(&clean);
}

void yaml_quote(struct sbuf *out, const char *s, size_t len)
{
	struct sbuf clean = {0};
	size_t i = 0, n;
	uint32_t cp;

	text_clean(&clean, s ? s : "", s ? len : 0, TEXT_KEEP_TAB);
	sbuf_adds(out, "\"");
	while (i < clean.len) {
		n = utf8_decode((const unsigned char *)clean.s + i, clean.len - i, &cp);
		if (cp == '"' || cp == '\\')
			sbuf_addf(out, "\\%c", (char)cp);
		else if (cp == '\t')
			sbuf_adds(out, "\\t");
		else if (cp == 0x2028 || cp == 0x2029 || cp == 0xfeff)
			sbuf_addf(out, "\\u%04X", cp); /* line breaks / BOM to YAML 1.1 */
		else
			sbuf_add(out, clean.s + i, n);
		i += n;
	}
	sbuf_adds(out, "\"");
	sbuf_free(&clean);
}

int natural_cmp(const char *a, const char *b)
{
	if (!a || !b)
		return (a != NULL) - (b != NULL);
	while (*a && *b) {
		if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			const char *ea = a, *eb = b;

			while (*a == '0' && isdigit((unsigned char)a[1]))
				a++;
			while (*b == '0' && isdigit((unsigned char)b[1]))
				b++;
			for (ea = a; isdigit((unsigned char)*ea); ea++)
				;
			for (eb = b; isdigit((unsigned char)*eb); eb++)
				;
			if (ea - a != eb - b)
				return ea - a < eb - b ? -1 : 1;
			for (; a < ea; a++, b++)
				if (*a != *b)
					return *a < *b ? -1 : 1;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++, b++;
	}
	return (*a != 0) - (*b != 0);
}
