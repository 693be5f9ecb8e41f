/* tests/fuzz/fuzz_scenario.c — libFuzzer target: arbitrary bytes as a
 * scenario file. The loader must accept or refuse with a message, never
 * crash, leak or read out of bounds; an accepted scenario's fault points
 * are expanded as a campaign would. */
#include <stdint.h>
#include <stdlib.h>

#include "harness/run/scenario.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_input_file("scenario", data, size);
	struct scenario *sc;

	if (!path)
		return 0;
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
