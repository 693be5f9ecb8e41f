/* lib/verdict.h — the end states a run can reach. */
#ifndef HILCTL_VERDICT_H
#define HILCTL_VERDICT_H

enum verdict {
	VERDICT_UPGRADED,
	VERDICT_ROLLED_BACK,
	VERDICT_BRICKED,
	VERDICT_BOOT_LOOP,
	VERDICT_HUNG,
	VERDICT_INCONSISTENT,
	VERDICT_INFRA_ERROR,
	VERDICT_COUNT
};

const char *verdict_name(enum verdict v);
/* -1 when name is not a verdict. */
int verdict_from_name(const char *name);
/* "upgraded, rolled_back, ..." */
const char *verdict_list(void);

#endif
