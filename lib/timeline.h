/* lib/timeline.h — one board's timeline: every console byte, power action
 * and marker on the shared monotonic clock, written as it happens.
 *
 * File format (JSON lines, one object per line, ASCII only):
 *   {"hilctl_timeline":1,"board":"qemu-01","wall":"2026-11-25T01:02:03.123Z","t0":<mono ns>}
 *   {"t":1.234567890,"k":"con","d":"U-Boot 2023.01"}       console line (bytes escaped)
 *   {"t":1.300000000,"k":"power","d":"off"}                  any other event kind
 * "t" is seconds since t0. Console bytes are escaped so that any byte stream
 * (NUL, invalid UTF-8, control characters) gives valid JSON: printable ASCII
 * stays, \n ends a line, everything else is \u00XX for the byte value.
 * Partial console lines are flushed before any other event so order holds.
 *
 * timeline_open() returns an object freed by timeline_close(); every function
 * accepts NULL and then does nothing, so drivers log without checking. */
#ifndef HILCTL_TIMELINE_H
#define HILCTL_TIMELINE_H

#include <stddef.h>
#include <stdint.h>

struct timeline;

struct timeline *timeline_open(const char *path, const char *board);
void timeline_close(struct timeline *tl);
const char *timeline_path(const struct timeline *tl);
int64_t timeline_t0(const struct timeline *tl);

/* Bytes read from the console at monotonic time t_ns. */
void timeline_console(struct timeline *tl, int64_t t_ns, const void *buf, size_t len);
/* An event: kind is a short word (power, marker, fault, gap, note, verdict...). */
void timeline_event(struct timeline *tl, int64_t t_ns, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void timeline_flush(struct timeline *tl);

/* Escape arbitrary bytes into a JSON string body (no quotes). Returns the
 * length written (always NUL-terminated, truncated to fit). */
size_t json_escape_bytes(const void *buf, size_t len, char *out, size_t out_size);

#endif
