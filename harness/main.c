/* harness/main.c — placeholder entry point; the CLI lands next. */
#include <stdio.h>

int main(int argc, char **argv)
{
	printf("hilctl %s\n", HILCTL_VERSION);
	return 0;
}
