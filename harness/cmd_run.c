/* harness/cmd_run.c — placeholder until the campaign runner lands. */
#include "cli.h"
#include "log.h"

int cmd_run(struct cli *cli)
{
	hil_error("run: not built yet");
	return EXIT_USAGE;
}

int cmd_qualify(struct cli *cli)
{
	hil_error("qualify: not built yet");
	return EXIT_USAGE;
}
