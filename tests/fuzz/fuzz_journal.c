/* tests/fuzz/fuzz_journal.c — libFuzzer target: arbitrary bytes as a
 * campaign journal read by `hilctl report`. The reader must accept or
 * refuse with FILE:LINE messages, never crash, leak or read out of bounds;
 * what it accepts goes through the merge (split at a form feed into two
 * journals, as shards of one campaign would be) and the gate. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "reports/gate.h"
#include "reports/journal_read.h"
#include "reports/merge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char logbuf[8192];
	const char *text = (const char *)data;
	const char *ff = memchr(text, '\f', size);
	size_t first = ff ? (size_t)(ff - text) : size;
	struct report_set rs = {0};
	struct jfile *j;

	log_capture(logbuf, sizeof(logbuf));
	j = jfile_parse("/tmp/fuzz/journal-s0.jsonl", text, first);
	if (j)
		report_set_add(&rs, j);
	if (ff) {
		j = jfile_parse("/tmp/fuzz/journal-s1.jsonl", ff + 1, size - first - 1);
		if (j)
			report_set_add(&rs, j);
	}
	if (rs.n_journals && report_set_finish(&rs) == 0) {
		struct gate g;
		gate_compute(&g, &rs);
		gate_free(&g);
	}
	report_set_free(&rs);
	return 0;
}
