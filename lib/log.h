/* lib/log.h — the one log sink: errors a user can act on, warnings, progress.
 *
 * Every message is one line on stderr prefixed "hilctl: ", made safe for a
 * terminal by log_term_safe() (a journal field or a tool's output cannot
 * send escape sequences through it). Functions never
 * allocate; they are safe to call from any layer. Verbosity is global (the
 * only global state besides the driver tables). */
#ifndef HILCTL_LOG_H
#define HILCTL_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Redirect messages into a caller buffer (tests, fuzzers); NULL restores stderr. */
void log_capture(char *buf, size_t size);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap);

/* Copy the NUL-terminated in to out as text a terminal shows and does not
 * obey: C0 controls but tab, and DEL, become their Unicode control pictures
 * (ESC: U+241B), C1 controls \\u0080..\\u009f, bytes that are not UTF-8 \\xNN.
 * Truncates to fit size (a whole character at a time); returns the length. */
size_t log_term_safe(char *out, size_t size, const char *in);

#define hil_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define hil_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define hil_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define hil_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
