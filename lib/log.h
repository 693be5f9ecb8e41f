/* lib/log.h — the one log sink: errors a user can act on, warnings, progress.
 *
 * Every message is one line on stderr prefixed "hilctl: ". Functions never
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

#define hil_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define hil_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define hil_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define hil_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
