/* harness/campaign/campaign_deadline.c — how long one run of a scenario may take at
 * the most, so that the campaign can give up on a worker that never reports.
 *
 * No run has one deadline of its own: every wait in the engine has its own
 * (a step's timeout, a trigger's timeout, power on within 30 s, the oracle's
 * boot_timeout per boot and settle), so a run's longest possible duration is
 * their sum, taken here from the scenario with the engine's defaults. It is
 * a generous bound, not an estimate: a worker past it (plus a margin) is
 * stuck in something that has no deadline, a harness bug. */
#include <stdio.h>
#include <string.h>

#include "harness/campaign/campaign_int.h"
#include "lib/cfg.h"
#include "lib/clock.h"

/* The engine's waits (engine_run.c, engine_judge.c). */
#define POWER_ON_NS (30 * NS_PER_S)
#define OFF_TIME_NS (1 * NS_PER_S)
#define STEP_TIMEOUT_NS (60 * NS_PER_S)
#define TRIGGER_TIMEOUT_NS (120 * NS_PER_S)
#define CONSOLE_WRITE_NS (5 * NS_PER_S)
#define ASK_TIMEOUT_NS (10 * NS_PER_S)
/* Per step, for what is quick but not timed by the scenario: starting the
 * update server, a power switch, a snapshot's save or restore. */
#define STEP_SLACK_NS (10 * NS_PER_S)
/* A duration that names a board variable cannot be known before the run. */
#define UNKNOWN_NS (600 * NS_PER_S)
/* loop_limit 0 does not stop a boot loop: count it as the default. */
#define LOOP_LIMIT_DEFAULT 6

/* text with ${point} replaced, as a duration; def when absent. */
static int64_t duration(const char *text, const char *point, int64_t def)
{
	char buf[256];
	const char *var;
	size_t used = 0;
	int64_t ns;

	if (!text)
		return def;
	while ((var = strstr(text, "${point}")) && used < sizeof(buf)) {
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%.*s%s",
		                         (int)(var - text), text, point);
		text = var + strlen("${point}");
	}
	if (used >= sizeof(buf) ||
	    (size_t)snprintf(buf + used, sizeof(buf) - used, "%s", text) >= sizeof(buf) - used)
		return UNKNOWN_NS;
	return cfg_parse_duration(buf, &ns) == 0 ? ns : UNKNOWN_NS;
}

static int64_t fault_budget(const struct fault_spec *f, const char *point)
{
	int64_t ns = duration(f->timeout, point, TRIGGER_TIMEOUT_NS) +
	             duration(f->delay, point, 0) + duration(f->after, point, 0);

	switch (f->kind) {
	case FAULT_POWER_CUT:
		return ns + duration(f->off_time, point, 0) + POWER_ON_NS;
	case FAULT_NETWORK:
		return ns + (f->until ? TRIGGER_TIMEOUT_NS : duration(f->down, point, 0));
	case FAULT_SERVER:
	case FAULT_HANG:
	default:
		return ns + CONSOLE_WRITE_NS;
	}
}

static int64_t step_budget(const struct step *st, const char *point)
{
	switch (st->kind) {
	case STEP_POWER:
		return duration(st->off_time, point, OFF_TIME_NS) + POWER_ON_NS;
	case STEP_EXPECT:
		return duration(st->timeout, point, STEP_TIMEOUT_NS);
	case STEP_SEND:
		return CONSOLE_WRITE_NS;
	case STEP_WAIT:
		return duration(st->arg, point, 0);
	case STEP_RECOVER:
		return duration(st->off_time, point, OFF_TIME_NS) + POWER_ON_NS;
	case STEP_FAULT:
		return fault_budget(&st->fault, point);
	case STEP_SERVE:
	default:
		return 0;
	}
}

/* Judging: every boot of the ladder may see loop_limit banners (or up to
 * max_boots boots that reach the probe), each restarting boot_timeout; then
 * the trial's settle, the alive probe and the checks. */
static int64_t oracle_budget(const struct scenario *sc, const char *point)
{
	int loops = sc->loop_limit > 0 ? sc->loop_limit : LOOP_LIMIT_DEFAULT;
	if (sc->max_boots > loops)
		loops = sc->max_boots;
	int64_t ns = (int64_t)(sc->ladder + 1) *
	             ((int64_t)(loops + 1) * sc->boot_timeout_ns + OFF_TIME_NS + POWER_ON_NS);

	/* The alive probe: an ask, as long again for a late answer, one re-ask
	 * (the lab's alive.timeout; its default here). */
	ns += sc->settle_ns + 2 * CONSOLE_WRITE_NS + 3 * ASK_TIMEOUT_NS;
	for (size_t i = 0; i < sc->n_checks; i++)
		ns += CONSOLE_WRITE_NS + duration(sc->checks[i].timeout, point, ASK_TIMEOUT_NS);
	return ns;
}

int64_t run_budget_ns(const struct scenario *sc, const char *point)
{
	/* The run begins and ends with the board switched off. */
	int64_t ns = 2 * (POWER_ON_NS + STEP_SLACK_NS) + oracle_budget(sc, point);

	for (size_t i = 0; i < sc->n_steps; i++)
		ns += step_budget(&sc->steps[i], point) + STEP_SLACK_NS;
	return ns;
}
