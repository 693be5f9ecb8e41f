/* lib/log.c — the log sink behind hil_error() and friends. */
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

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char line[2048];
	int n;

	if (level > level_now)
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
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
