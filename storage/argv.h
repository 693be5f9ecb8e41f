/* storage/argv.h — run one program from an argv list (never a shell) for
 * the command and usbsdmux drivers: its own process group, stdin from
 * /dev/null, output collected, killed with its group at the deadline. */
#ifndef HILCTL_STORAGE_ARGV_H
#define HILCTL_STORAGE_ARGV_H

#include <stddef.h>
#include <stdint.h>

/* 0 when it exited 0; -ETIMEDOUT, -ENOENT (no such program) or -EIO (it
 * failed) after one error line naming board, what and the program's output. */
int storage_run_argv(const char *board, const char *what, char *const argv[], int64_t timeout_ns);

#endif
