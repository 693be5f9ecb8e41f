/* lib/verdict.c — verdict names as they appear in scenarios and reports. */
#include <string.h>

#include "lib/verdict.h"

static const char *const names[VERDICT_COUNT] = {
    "upgraded", "rolled_back", "bricked", "boot_loop", "hung", "inconsistent", "infra_error",
};

const char *verdict_name(enum verdict v)
{
	return (unsigned)v < VERDICT_COUNT ? names[v] : "?";
}

int verdict_from_name(const char *name)
{
	for (int i = 0; i < VERDICT_COUNT; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

const char *verdict_list(void)
{
	return "upgraded, rolled_back, bricked, boot_loop, hung, inconsistent, infra_error";
}
