/* tests/fuzz/fuzz_file.c — the fuzz input as a file for a loader; see
 * fuzz_file.h. */
#include <stdio.h>
#include <unistd.h>

#include "lib/log.h"
#include "fuzz_file.h"

const char *fuzz_input_file(const char *what, const uint8_t *data, size_t size)
{
	static char path[96];
	static char logbuf[8192];
	FILE *f;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/hilctl-fuzz-%s-%d.yaml", what, (int)getpid());
	log_capture(logbuf, sizeof(logbuf));
	f = fopen(path, "wb");
	if (!f)
		return NULL;
	fwrite(data, 1, size, f);
	fclose(f);
	return path;
}
