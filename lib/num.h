/* lib/num.h — one strict parser for the numbers users type: command-line
 * options, lab and scenario values. The whole text must be the number
 * (no sign where none is allowed, no trailing "x", no blanks), in decimal,
 * and inside [min, max]; nothing is clamped or wrapped.
 *
 * Returns 0, or -EINVAL (not a whole number) or -ERANGE (outside the range,
 * including overflow). Nothing is printed: num_opt() is the one that talks. */
#ifndef HILCTL_LIB_NUM_H
#define HILCTL_LIB_NUM_H

#include <stdint.h>

int num_parse_ll(const char *text, long long min, long long max, long long *out);
int num_parse_ull(const char *text, unsigned long long max, unsigned long long *out);
/* A size in bytes: digits, optionally followed by K, M, G or T (x1024 each
 * step): "512", "64M", "16G". 0, -EINVAL or -ERANGE. */
int num_parse_size(const char *text, uint64_t *out);

/* For a command-line option: prints "OPT TEXT: is not a whole number (give
 * MIN to MAX)" or "... is out of range (give MIN to MAX)" and returns
 * -EINVAL on either. */
int num_opt(const char *opt, const char *text, long long min, long long max, long long *out);
/* The same into an int (min and max must fit an int). */
int num_opt_int(const char *opt, const char *text, int min, int max, int *out);
int num_opt_ull(const char *opt, const char *text, unsigned long long max, unsigned long long *out);

#endif
