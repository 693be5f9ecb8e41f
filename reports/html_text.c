/* reports/html_text.c — the HTML writer's small pieces shared by html.c,
 * html_charts.c and html_run.c (html_int.h): colours per verdict and per
 * run, escaping of text and board text, short labels, axis steps. */
#include <math.h>
#include <string.h>

#include "reports/html_int.h"

static const char *const colors[VERDICT_COUNT] = {
    "#1a7f37", /* upgraded: green */
    "#0a7ea4", /* rolled_back: teal, a safe outcome too */
    "#cf222e", /* bricked: red */
    "#d1581a", /* boot_loop: orange */
    "#8250df", /* hung: purple */
    "#a37b00", /* inconsistent: amber */
    "#6e7781", /* infra_error: grey, not the board */
};

const char *verdict_color(enum verdict v)
{
	return (unsigned)v < VERDICT_COUNT ? colors[v] : "#6e7781";
}

const char *run_color(const struct jrun *run)
{
	if (run->verdict == VERDICT_INFRA_ERROR)
		return colors[VERDICT_INFRA_ERROR];
	if (!run->pass)
		return colors[VERDICT_BRICKED];
	if (run->verdict == VERDICT_ROLLED_BACK)
		return colors[VERDICT_ROLLED_BACK];
	return colors[VERDICT_UPGRADED];
}

/* Control characters arrive as Unicode control pictures (lib/text.c);
 * many fonts lack those glyphs, so the page shows their names in a box. */
static const char *const control_names[33] = {
    "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS",  "HT",  "LF",
    "VT",  "FF",  "CR",  "SO",  "SI",  "DLE", "DC1", "DC2", "DC3", "DC4", "NAK",
    "SYN", "ETB", "CAN", "EM",  "SUB", "ESC", "FS",  "GS",  "RS",  "US",  "DEL",
};

void h_textn(struct sbuf *b, const char *s, size_t len, unsigned flags)
{
	xml_escape(b, s ? s : "", s ? len : 0, flags);
}

void h_board_text(struct sbuf *b, const char *s, size_t len, unsigned flags)
{
	struct sbuf esc = {0};
	size_t i = 0;

	xml_escape(&esc, s ? s : "", s ? len : 0, flags);
	while (i < esc.len) {
		const unsigned char *p = (const unsigned char *)esc.s + i;

		/* U+2400..U+241F and U+2421 are E2 90 80..9F and E2 90 A1. */
		if (i + 2 < esc.len && p[0] == 0xe2 && p[1] == 0x90 &&
		    ((p[2] >= 0x80 && p[2] <= 0x9f) || p[2] == 0xa1)) {
			sbuf_addf(b, "<span class=\"ctl\">%s</span>",
			          control_names[p[2] == 0xa1 ? 32 : p[2] - 0x80]);
			i += 3;
			continue;
		}
		sbuf_add(b, p, 1);
		i++;
	}
	sbuf_free(&esc);
}

void h_text(struct sbuf *b, const char *s)
{
	h_textn(b, s, s ? strlen(s) : 0, 0);
}

void h_short(struct sbuf *b, const char *s, size_t max)
{
	size_t i = 0, chars = 0;

	s = s ? s : "";
	while (s[i] && chars < max) {
		i++;
		while ((s[i] & 0xc0) == 0x80)
			i++;
		chars++;
	}
	h_textn(b, s, i, 0);
	if (s[i])
		sbuf_adds(b, "\xe2\x80\xa6");
}

double nice_step(double span, int ticks)
{
	static const double nice[] = {1, 2, 5, 10};
	double raw = span / ticks, p;

	if (!(raw > 0) || !isfinite(raw))
		return 1;
	p = pow(10, floor(log10(raw)));
	for (int k = 0; k < 4; k++)
		if (nice[k] * p >= raw)
			return nice[k] * p;
	return 10 * p;
}

void h_verdict_tag(struct sbuf *b, enum verdict v)
{
	sbuf_addf(b, "<span class=\"vtag\" style=\"--vc:%s\">%s</span>", verdict_color(v),
	          verdict_name(v));
}

void h_run_tag(struct sbuf *b, const struct jrun *run)
{
	sbuf_addf(b, "<span class=\"vtag\" style=\"--vc:%s\">%s</span>", run_color(run),
	          verdict_name(run->verdict));
}
