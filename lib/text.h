/* lib/text.h — text that came from a board, made safe for a report.
 *
 * Console lines and evidence are hostile input: any byte, invalid UTF-8, NUL,
 * control characters, markup. Every writer passes such text through
 * text_clean() (valid UTF-8 out, control characters shown as Unicode control
 * pictures, invalid bytes as U+FFFD) and then through its own escaper.
 *
 * struct sbuf is a growable string owned by the caller: sbuf_free() releases
 * it; s is always NUL-terminated (it may also hold NULs only if appended raw). */
#ifndef HILCTL_REPORTS_TEXT_H
#define HILCTL_REPORTS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct sbuf {
	char *s;
	size_t len, cap;
};

void sbuf_add(struct sbuf *b, const void *data, size_t len);
void sbuf_adds(struct sbuf *b, const char *s);
void sbuf_addf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_reset(struct sbuf *b);
void sbuf_free(struct sbuf *b);

enum text_flags {
	TEXT_KEEP_NL = 1 << 0,    /* keep \n (otherwise it becomes a control picture) */
	TEXT_KEEP_TAB = 1 << 1,   /* keep \t */
	TEXT_STRIP_ANSI = 1 << 2, /* drop ANSI colour and cursor sequences (ESC [ ... final) */
};

/* Append len bytes of s to out as valid UTF-8 that every report format can
 * carry: XML 1.0's excluded characters become U+FFFD or control pictures. */
void text_clean(struct sbuf *out, const char *s, size_t len, unsigned flags);

/* A timeline or evidence "d" string as jansson decoded it: each console byte
 * was written as one code point U+0000..U+00FF. Recover the bytes (in place,
 * the result is never longer). A string holding any code point above U+00FF
 * was written as ordinary Unicode text and is left as it is. */
size_t text_con_bytes(char *s, size_t len);

/* Escapers: clean, then escape for the format. Append to out. */
void xml_escape(struct sbuf *out, const char *s, size_t len, unsigned flags);
void xml_escape_attr(struct sbuf *out, const char *s, size_t len);
#define html_escape xml_escape
/* A YAML double-quoted scalar, quotes included, on one line. */
void yaml_quote(struct sbuf *out, const char *s, size_t len);

/* Write a whole buffer to a stream; -EIO on a short write. */
int sbuf_write(const struct sbuf *b, FILE *f);

/* Compare strings as a person would sort fault points: digit runs by value
 * ("250ms" before "1500ms"). NULL sorts first. */
int natural_cmp(const char *a, const char *b);

#endif
