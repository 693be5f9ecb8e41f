/* lib/num.c — strict decimal numbers with a range (see num.h). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/num.h"

static int digits_from(const char *text, const char **digits, int *negative)
{
	const char *p = text;

	*negative = 0;
	if (!text)
		return -EINVAL;
	if (*p == '-' || *p == '+')
		*negative = *p++ == '-';
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (const char *q = p; *q; q++)
		if (*q < '0' || *q > '9')
			return -EINVAL;
	*digits = p;
	return 0;
}

int num_parse_ull(const char *text, unsigned long long max, unsigned long long *out)
{
	const char *digits;
	int negative;
	unsigned long long v;

	if (digits_from(text, &digits, &negative) < 0)
		return -EINVAL;
	errno = 0;
	v = strtoull(digits, NULL, 10);
	if (errno == ERANGE || v > max || (negative && v != 0))
		return -ERANGE;
	*out = v;
	return 0;
}

int num_parse_ll(const char *text, long long min, long long max, long long *out)
{
	const char *digits;
	int negative;
	unsigned long long mag;
	long long v;

	if (digits_from(text, &digits, &negative) < 0)
		return -EINVAL;
	errno = 0;
	mag = strtoull(digits, NULL, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (negative) {
		if (mag > (unsigned long long)LLONG_MAX + 1)
			return -ERANGE;
		v = mag == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)mag;
	} else {
		if (mag > (unsigned long long)LLONG_MAX)
			return -ERANGE;
		v = (long long)mag;
	}
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int num_opt(const char *opt, const char *text, long long min, long long max, long long *out)
{
	int rc = num_parse_ll(text, min, max, out);

	if (rc == -EINVAL)
		hil_error("%s %s: is not a whole number (give %lld to %lld)", opt, text, min, max);
	else if (rc < 0)
		hil_error("%s %s: is out of range (give %lld to %lld)", opt, text, min, max);
	return rc < 0 ? -EINVAL : 0;
}

int num_opt_int(const char *opt, const char *text, int min, int max, int *out)
{
	long long v;

	if (num_opt(opt, text, min, max, &v) < 0)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

int num_opt_ull(const char *opt, const char *text, unsigned long long max, unsigned long long *out)
{
	int rc = num_parse_ull(text, max, out);

	if (rc == -EINVAL)
		hil_error("%s %s: is not a whole number (give 0 to %llu)", opt, text, max);
	else if (rc < 0)
		hil_error("%s %s: is out of range (give 0 to %llu)", opt, text, max);
	return rc < 0 ? -EINVAL : 0;
}

int num_parse_size(const char *text, uint64_t *out)
{
	size_t len = text ? strlen(text) : 0;
	char digits[32];
	int shift = 0;
	unsigned long long v;

	if (!len || len >= sizeof(digits))
		return -EINVAL;
	memcpy(digits, text, len + 1);
	switch (digits[len - 1]) {
	case 'T':
		shift += 10; /* fall through */
	case 'G':
		shift += 10; /* fall through */
	case 'M':
		shift += 10; /* fall through */
	case 'K':
		shift += 10;
		digits[len - 1] = '\0';
		break;
	default:
		break;
	}
	if (digits[0] == '-' || digits[0] == '+' || num_parse_ull(digits, ULLONG_MAX, &v) < 0)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}
