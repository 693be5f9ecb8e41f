/* tests/fuzz/fuzz_lab.c — libFuzzer target: arbitrary bytes as a lab file.
 * The loader must reject or accept, never crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>

#include "harness/lab/lab.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_input_file("lab", data, size);
	struct lab *lab;

	if (!path)
		return 0;
	lab = lab_load(path);
	if (lab) {
		/* Walk what was accepted. */
		for (size_t i = 0; i < lab->n_boards; i++)
			lab_board(lab, lab->boards[i].name);
	}
	lab_free(lab);
	return 0;
}
