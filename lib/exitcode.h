/* lib/exitcode.h — hilctl's exit codes, documented in the README and the man
 * page; every command and the report gate return one of these. */
#ifndef HILCTL_LIB_EXITCODE_H
#define HILCTL_LIB_EXITCODE_H

enum {
	EXIT_OK = 0,     /* done; every run allowed */
	EXIT_FAILED = 1, /* a run failed the gate / a wait timed out */
	EXIT_USAGE = 2,  /* usage or configuration error */
	EXIT_INFRA = 3,  /* infrastructure error: device, driver, lab */
};

#endif
