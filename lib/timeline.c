/* lib/timeline.c — write a board's timeline as JSON lines, console bytes
 * split into lines and escaped so any byte stream stays valid JSON. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/timeline.h"

#define LINE_MAX_BYTES 4096 /* a console line longer than this is split */

struct timeline {
	FILE *f;
	char *path;
	int64_t t0;
	char partial[LINE_MAX_BYTES];
	size_t partial_len;
	int64_t partial_t; /* time of the read that completed or last extended it */
};

size_t json_escape_bytes(const void *buf, size_t len, char *out, size_t out_size)
{
	const unsigned char *p = buf;
	size_t o = 0;

	if (out_size == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = p[i];
		char esc[8];
		size_t elen;

		if (ch == '"' || ch == '\\') {
			esc[0] = '\\';
			esc[1] = (char)ch;
			elen = 2;
		} else if (ch == '\t') {
			memcpy(esc, "\\t", 2);
			elen = 2;
		} else if (ch >= 0x20 && ch < 0x7f && ch != '<' && ch != '>' && ch != '&') {
			esc[0] = (char)ch;
			elen = 1;
		} else {
			/* Non-ASCII, control bytes and HTML-active characters become
			 * \u00XX: valid JSON for any input, and inert if a report
			 * embeds the JSON in a <script> block. */
			elen = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", ch);
		}
		if (o + elen + 1 > out_size)
			break;
		memcpy(out + o, esc, elen);
		o += elen;
	}
	out[o] = '\0';
	return o;
}

struct timeline *timeline_open(const char *path, const char *board)
{
	struct timeline *tl = calloc(1, sizeof(*tl));
	struct timespec wall;
	struct tm tm;
	char when[64], name[256];
	int fd;

	if (!tl)
		return NULL;
	/* Never through a symlink: whoever planted one would have hilctl
	 * append to a file of the user's choosing. */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
	tl->f = fd < 0 ? NULL : fdopen(fd, "a");
	if (!tl->f) {
		int err = errno;
		if (fd >= 0)
			close(fd);
		hil_error("timeline %s: %s%s", path, strerror(err),
		          err == ELOOP ? " (a symlink: refused)" : "");
		free(tl);
		return NULL;
	}
	tl->path = strdup(path);
	tl->t0 = clock_now_ns();
	clock_gettime(CLOCK_REALTIME, &wall);
	gmtime_r(&wall.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	json_escape_bytes(board, strlen(board), name, sizeof(name));
	fprintf(tl->f,
	        "{\"hilctl_timeline\":1,\"board\":\"%s\",\"wall\":\"%s.%03ldZ\",\"t0\":%lld}\n",
	        name, when, wall.tv_nsec / 1000000, (long long)tl->t0);
	fflush(tl->f);
	return tl;
}

const char *timeline_path(const struct timeline *tl)
{
	return tl ? tl->path : NULL;
}

int64_t timeline_t0(const struct timeline *tl)
{
	return tl ? tl->t0 : 0;
}

static void write_record(struct timeline *tl, int64_t t_ns, const char *kind, const void *data,
                         size_t len)
{
	char esc[LINE_MAX_BYTES * 6 + 1];
	int64_t rel = t_ns - tl->t0;

	json_escape_bytes(data, len, esc, sizeof(esc));
	fprintf(tl->f, "{\"t\":%s%lld.%09lld,\"k\":\"%s\",\"d\":\"%s\"}\n", rel < 0 ? "-" : "",
	        (long long)(llabs(rel) / NS_PER_S), (long long)(llabs(rel) % NS_PER_S), kind, esc);
}

static void flush_partial(struct timeline *tl)
{
	if (tl->partial_len) {
		write_record(tl, tl->partial_t, "con", tl->partial, tl->partial_len);
		tl->partial_len = 0;
	}
}

void timeline_console(struct timeline *tl, int64_t t_ns, const void *buf, size_t len)
{
	const char *p = buf;

	if (!tl)
		return;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\n') {
			/* Drop the \r of \r\n line ends; lone \r stays visible. */
			if (tl->partial_len && tl->partial[tl->partial_len - 1] == '\r')
				tl->partial_len--;
			tl->partial_t = t_ns;
			write_record(tl, t_ns, "con", tl->partial, tl->partial_len);
			tl->partial_len = 0;
			continue;
		}
		if (tl->partial_len == sizeof(tl->partial)) {
			write_record(tl, t_ns, "con", tl->partial, tl->partial_len);
			tl->partial_len = 0;
		}
		tl->partial[tl->partial_len++] = p[i];
		tl->partial_t = t_ns;
	}
	fflush(tl->f);
}

void timeline_event(struct timeline *tl, int64_t t_ns, const char *kind, const char *fmt, ...)
{
	char msg[LINE_MAX_BYTES];
	va_list ap;
	int n;

	if (!tl)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	flush_partial(tl);
	write_record(tl, t_ns, kind, msg, strlen(msg));
	fflush(tl->f);
}

void timeline_flush(struct timeline *tl)
{
	if (!tl)
		return;
	flush_partial(tl);
	fflush(tl->f);
}

void timeline_close(struct timeline *tl)
{
	if (!tl)
		return;
	timeline_flush(tl);
	fclose(tl->f);
	free(tl->path);
	free(tl);
}
