/* tests/fuzz/fuzz_bmap.c — libFuzzer target: storage/bmap.c fed arbitrary
 * bytes as a bmap file (hilctl flash reads bmaps that came with an image
 * from anywhere). Whatever it accepts must be self-consistent: ranges
 * ascending, inside the image, and their bytes within the image's size. */
#include <stdint.h>
#include <stdlib.h>

#include "storage/bmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bmap b;
	char err[512];

	if (bmap_parse("fuzz.bmap", (const char *)data, size, &b, err, sizeof(err)) < 0)
		return 0;
	for (size_t i = 0; i < b.n_ranges; i++) {
		if (b.ranges[i].first > b.ranges[i].last || b.ranges[i].last >= b.blocks_count ||
		    (i && b.ranges[i].first <= b.ranges[i - 1].last))
			abort();
	}
	if (bmap_mapped_bytes(&b) > b.image_size)
		abort();
	bmap_free(&b);
	return 0;
}
