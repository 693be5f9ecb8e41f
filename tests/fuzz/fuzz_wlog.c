/* tests/fuzz/fuzz_wlog.c — libFuzzer target: arbitrary bytes as a write log.
 * The reader must accept or refuse, never crash or read out of bounds; what
 * it accepts must read back and give picks under every model. */
#include <stdint.h>
#include <stdlib.h>

#include "qemu/wlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const struct wlog *w)
{
	static uint8_t buf[4096];
	uint64_t n = wlog_count(w), writes, flushes;

	for (uint64_t i = 0; i < n; i++) {
		const struct wlog_entry *e = wlog_entry(w, i);
		uint64_t bytes = e->nr_sectors * wlog_sector_size(w);
		if (e->data_offset)
			wlog_read(w, e, 0, buf, bytes < sizeof(buf) ? (size_t)bytes : sizeof(buf));
	}
	wlog_counts(w, n, &writes, &flushes);
	for (int m = WLOG_MODEL_NONE; m <= WLOG_MODEL_TORN; m++) {
		struct wlog_pick pick;
		struct wlog_pick_stats st;
		if (wlog_pick_model(w, n, (enum wlog_model)m, n * 31 + (uint64_t)m, &pick) == 0) {
			wlog_pick_stats(w, n, &pick, &st);
			wlog_pick_free(&pick);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wlog *w;
	char why[256];

	if (wlog_open_mem(data, size, 0, &w, why, sizeof(why)) == 0) {
		walk(w);
		wlog_close(w);
	}
	if (wlog_open_mem(data, size, WLOG_OPEN_PARTIAL, &w, why, sizeof(why)) == 0) {
		walk(w);
		wlog_close(w);
	}
	return 0;
}
