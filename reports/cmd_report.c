/* reports/cmd_report.c — placeholder until the report writers land. */
#include "../harness/cli.h"
#include "../harness/log.h"

int cmd_report(struct cli *cli)
{
	hil_error("report: not built yet");
	return EXIT_USAGE;
}
