/* lib/log.c — the log sink behind hil_error() and friends. Messages carry
 * text from outside (journal fields, lab names, tools' stderr): every one is
 * made terminal-safe before it is written. */
#include <stdio.h>
#include <string.h>

#include "lib/log.h"

static enum log_level level_now = LOG_WARN;
static char *capture_buf;
static size_t capture_size;

void log_set_level(enum log_level level)
{
	level_now = level;
}

enum log_level log_get_level(void)
{
	return level_now;
}

void log_capture(char *buf, size_t size)
{
	capture_buf = buf;
	capture_size = size;
	if (buf && size)
		buf[0] = '\0';
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF). */
static size_t utf8_len(const unsigned char *p, size_t len)
{
	size_t n;
	unsigned lo = 0x80, hi = 0xbf;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (n > len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

size_t log_term_safe(char *out, size_t size, const char *in)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t len = strlen(in), o = 0;

	if (!size)
		return 0;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_len(p + i, len - i);
		char esc[16];
		size_t elen;

		if (n == 1 && (p[i] == '\t' || (p[i] >= 0x20 && p[i] != 0x7f))) {
			esc[0] = (char)p[i], elen = 1;
		} else if (n == 1) {
			/* C0 and DEL as their control pictures: ESC is U+241B. */
			unsigned cp = p[i] == 0x7f ? 0x2421 : 0x2400 + p[i];
			esc[0] = (char)(0xe0 | (cp >> 12));
			esc[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
			esc[2] = (char)(0x80 | (cp & 0x3f));
			elen = 3;
		} else if (n == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0) {
			/* C1 (U+0080..U+009F; U+009B is CSI on some terminals) */
			elen = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", p[i + 1]);
		} else if (n == 0) {
			elen = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", p[i]);
			n = 1;
		} else {
			memcpy(esc, p + i, n);
			elen = n;
		}
		if (o + elen + 1 > size)
			break;
		memcpy(out + o, esc, elen);
		o += elen;
		i += n;
	}
	out[o] = '\0';
	return o;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char raw[2048], line[4096];
	int n;

	if (level > level_now)
		return;
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (n < 0)
		return;
	log_term_safe(line, sizeof(line), raw);
	if (capture_buf) {
		size_t used = strlen(capture_buf);
		if (used + 1 < capture_size)
			snprintf(capture_buf + used, capture_size - used, "%s%s\n",
			         level == LOG_WARN ? "warning: " : "", line);
		return;
	}
	fprintf(stderr, "hilctl: %s%s\n", level == LOG_WARN ? "warning: " : "", line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
