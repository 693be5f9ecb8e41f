/* tests/fuzz/fuzz_lab.c — libFuzzer target: arbitrary bytes as a lab file.
 * The loader must reject or accept, never crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../harness/lab.h"
#include "../../harness/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	static char logbuf[8192];
	struct lab *lab;
	FILE *f;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/hilctl-fuzz-lab-%d.yaml", (int)getpid());
	log_capture(logbuf, sizeof(logbuf));
	f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	lab = lab_load(path);
	if (lab) {
		/* Walk what was accepted. */
		for (size_t i = 0; i < lab->n_boards; i++)
			lab_board(lab, lab->boards[i].name);
	}
	lab_free(lab);
	return 0;
}
