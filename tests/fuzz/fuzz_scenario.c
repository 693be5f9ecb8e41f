/* tests/fuzz/fuzz_scenario.c — libFuzzer target: arbitrary bytes as a
 * scenario file. The loader must accept or refuse with a message, never
 * crash, leak or read out of bounds; an accepted scenario's fault points
 * are expanded as a campaign would. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../harness/log.h"
#include "../../harness/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	static char logbuf[8192];
	struct scenario *sc;
	FILE *f;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/hilctl-fuzz-scenario-%d.yaml", (int)getpid());
	log_capture(logbuf, sizeof(logbuf));
	f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	sc = scenario_load(path);
	if (sc) {
		size_t n = 0;
		char **points;

		for (int v = 0; v < VERDICT_COUNT; v++)
			scenario_allows(sc, (enum verdict)v);
		points = scenario_points(sc, &n);
		points_free(points, n);
	}
	scenario_free(sc);
	return 0;
}
