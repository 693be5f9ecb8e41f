/* tests/fuzz/fuzz_file.h — for the fuzz targets whose loader reads a file:
 * the input written to a per-process file, the log captured. */
#ifndef HILCTL_FUZZ_FILE_H
#define HILCTL_FUZZ_FILE_H

#include <stddef.h>
#include <stdint.h>

/* Capture the log, write data to /tmp/hilctl-fuzz-WHAT-PID.yaml and return
 * its path (static storage: one WHAT per process), or NULL when the file
 * could not be written. */
const char *fuzz_input_file(const char *what, const uint8_t *data, size_t size);

#endif
