/* harness/console/console.h — a board's byte stream: a UART (libserialport), a
 * ser2net TCP port, or QEMU's serial on a unix socket, behind one table.
 *
 * struct console is owned by the caller; console_open() parses the lab
 * file's console: mapping, console_connect() opens the stream (with a
 * deadline), console_close() releases everything. Every byte read is written
 * to the board's timeline. A stream that goes away (a USB-UART powered by the
 * board, a closed socket) is reported once as a "gap" on the timeline; the
 * caller reconnects with console_connect() and what was read before is kept. */
#ifndef HILCTL_CONSOLE_H
#define HILCTL_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct cfg_node;
struct timeline;
struct console;

struct console_ops {
	const char *name; /* as written in the lab file's console.type */
	/* The stream ends when the board's power goes off (QEMU's socket): the
	 * board layer drains and reconnects it across a power cycle. */
	bool follows_power;
	int (*open)(struct console *c, const struct cfg_node *settings);
	/* Open the stream and set c->fd (non-blocking). -ENOENT/-ECONNREFUSED
	 * mean "not there yet": the caller may retry until its deadline. */
	int (*connect)(struct console *c, int64_t deadline_ns);
	/* >0 bytes, 0 nothing now (EAGAIN), <0 -errno; -EPIPE means it vanished. */
	ssize_t (*read)(struct console *c, void *buf, size_t len);
	ssize_t (*write)(struct console *c, const void *buf, size_t len);
	void (*disconnect)(struct console *c); /* close the fd, keep settings */
	void (*close)(struct console *c);
};

struct console {
	const struct console_ops *ops;
	const char *board;   /* borrowed */
	const char *run_dir; /* borrowed; per-board state directory */
	int fd;              /* -1 while disconnected */
	bool gap;            /* stream vanished and not yet back */
	uint64_t bytes_read;
	struct timeline *tl; /* may be NULL */
	void *priv;
};

const struct console_ops *console_find(const char *type);
const char *console_type_list(void); /* "serial, tcp, qemu" */

/* Check a console: mapping as console_open() would, without connecting:
 * run for every board when the lab file is loaded. */
int console_check_settings(const struct cfg_node *console_node, const char *board);
int console_open(struct console *c, const char *board, const char *run_dir,
                 const struct cfg_node *console_node);
/* Connect, retrying "not there yet" (backoff 1 ms doubling to 50 ms) until
 * deadline_ns. */
int console_connect(struct console *c, int64_t deadline_ns);
/* Read what is there now; logs to the timeline with the read's timestamp
 * (returned in *t_ns). On -EPIPE the console is disconnected and a gap is
 * logged. */
ssize_t console_read(struct console *c, void *buf, size_t len, int64_t *t_ns);
/* Write all of buf before deadline_ns. */
int console_write_all(struct console *c, const void *buf, size_t len, int64_t deadline_ns);
void console_disconnect(struct console *c);
void console_close(struct console *c);

extern const struct console_ops console_serial_ops, console_tcp_ops, console_qemu_ops;

#endif
