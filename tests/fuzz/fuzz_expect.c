/* tests/fuzz/fuzz_expect.c — libFuzzer target: the expect engine fed
 * arbitrary console bytes in arbitrary chunk sizes, against the patterns a
 * real scenario uses. The first bytes choose the chunking. */
#include <stdint.h>
#include <string.h>

#include "harness/run/expect.h"
#include "lib/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct expect *e;
	static const char *const pats[] = {
		"hilctl-probe: version=(?<version>\\S+) slot=(?<slot>[AB]) committed=(?<c>[01])$",
		"^U-Boot 20\\d\\d", "Kernel panic", "login: ?$", "A\\x00B", "(a|b)*c{2,}",
	};
	struct expect_match m;
	size_t off = 0;

	if (!e) {
		e = expect_new(pats, sizeof(pats) / sizeof(pats[0]));
		if (!e)
			return 0;
	}
	expect_reset(e);
	while (off < size) {
		size_t chunk = 1 + (data[off] % 64);
		if (chunk > size - off)
			chunk = size - off;
		if (expect_feed(e, data + off, chunk, &m) == 1) {
			/* A match must be inside what was fed. */
			if (m.end_offset > expect_offset(e) || m.text_len > sizeof(m.text))
				__builtin_trap();
			while (expect_feed(e, NULL, 0, &m) == 1)
				;
		}
		off += chunk;
	}
	return 0;
}
