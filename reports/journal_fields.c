/* reports/journal_fields.c — typed getters for journal fields; each error
 * names the file, line, record and key. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "reports/journal_parse.h"

void jp_err(struct parser *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (++p->errors > MAX_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hil_error("%s:%u: %s", p->name, p->line, msg);
}

/* Field getters: 0 when present and well typed, 1 when absent and optional,
 * -1 after an error was printed. */
int jp_field(struct parser *p, json_t *o, const char *key, bool required, json_t **out)
{
	*out = json_object_get(o, key);
	if (*out && !json_is_null(*out))
		return 0;
	*out = NULL;
	if (!required)
		return 1;
	jp_err(p, "%s: \"%s\" is missing", p->rec, key);
	return -1;
}

int jp_str(struct parser *p, json_t *o, const char *key, bool required, const char **out)
{
	json_t *v;
	int rc = jp_field(p, o, key, required, &v);

	if (rc)
		return rc;
	if (!json_is_string(v)) {
		jp_err(p, "%s: \"%s\" must be a string", p->rec, key);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

int jp_text(struct parser *p, json_t *o, const char *key, struct jtext *out)
{
	json_t *v;
	int rc = jp_field(p, o, key, false, &v);

	if (rc)
		return rc;
	if (!json_is_string(v)) {
		jp_err(p, "%s: \"%s\" must be a string", p->rec, key);
		return -1;
	}
	out->s = json_string_value(v);
	out->len = json_string_length(v);
	return 0;
}

int jp_num(struct parser *p, json_t *o, const char *key, bool required, double *out)
{
	json_t *v;
	int rc = jp_field(p, o, key, required, &v);

	if (rc)
		return rc;
	if (!json_is_number(v) || !isfinite(json_number_value(v))) {
		jp_err(p, "%s: \"%s\" must be a number", p->rec, key);
		return -1;
	}
	*out = json_number_value(v);
	return 0;
}

int jp_int(struct parser *p, json_t *o, const char *key, bool required, long long *out)
{
	json_t *v;
	int rc = jp_field(p, o, key, required, &v);

	if (rc)
		return rc;
	if (!json_is_integer(v)) {
		jp_err(p, "%s: \"%s\" must be an integer", p->rec, key);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

int jp_bool(struct parser *p, json_t *o, const char *key, bool required, bool *out)
{
	json_t *v;
	int rc = jp_field(p, o, key, required, &v);

	if (rc)
		return rc;
	if (!json_is_boolean(v)) {
		jp_err(p, "%s: \"%s\" must be true or false", p->rec, key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

int jp_verdict(struct parser *p, const char *what, const char *s)
{
	int v = verdict_from_name(s);

	if (v < 0)
		jp_err(p, "%s: \"%s\" is not one of %s", what, s, verdict_list());
	return v;
}

/* A list of strings, returned as a malloc'ed array of pointers into o. */
int jp_str_list(struct parser *p, json_t *o, const char *key, const char ***out, size_t *n)
{
	json_t *v, *item;
	size_t i;

	*out = NULL;
	*n = 0;
	if (jp_field(p, o, key, false, &v))
		return 0;
	if (!json_is_array(v)) {
		jp_err(p, "%s: \"%s\" must be a list of strings", p->rec, key);
		return -1;
	}
	*out = calloc(json_array_size(v) + 1, sizeof(**out));
	json_array_foreach(v, i, item)
	{
		if (!json_is_string(item)) {
			jp_err(p, "%s: \"%s\"[%zu] must be a string", p->rec, key, i);
			return -1;
		}
		(*out)[(*n)++] = json_string_value(item);
	}
	return 0;
}

/* An ISO-8601 UTC time as the journal writes it, in seconds since the
 * epoch; NAN when s is absent or not one. */
double journal_time(const char *s)
{
	int y, mo, d, h, mi, n = 0;
	double sec;
	struct tm tm = {0};

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%lf%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
	    (s[n] != 'Z' && strcmp(s + n, "+00:00") != 0) || sec < 0 || sec >= 61)
		return NAN;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return (double)timegm(&tm) + sec;
}
