/* tests/fuzz/fuzz_qmp.c — libFuzzer target: arbitrary bytes as what a QEMU
 * monitor sends back (greeting, answers, events), over a socketpair that
 * ends after them. The client must answer with an error or a value, never
 * crash, leak, read out of bounds or wait past its deadline.
 *
 * The client's ids count from 1 (qmp_capabilities), so a corpus line
 * {"return": {}, "id": 2} answers the first command after the greeting. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "qemu/qmp.h"

#define MAX_INPUT (64 * 1024) /* fits a socketpair's buffer: no writer thread */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the callers do with answers: power/qemu.c's status, the console's
 * query-chardev walk, events. */
static void use(struct qmp *q, int64_t deadline)
{
	char status[64];
	json_t *ret = NULL, *dev, *ev;
	size_t i;

	qmp_query_status(q, status, sizeof(status), deadline);
	if (qmp_command(q, "query-chardev", NULL, &ret, deadline) == 0) {
		json_array_foreach(ret, i, dev)
		{
			const char *label = json_string_value(json_object_get(dev, "label"));
			const char *file = json_string_value(json_object_get(dev, "filename"));
			if (label && file)
				(void)strncmp(file, "disconnected:", 13);
		}
	}
	json_decref(ret);
	qmp_command_pack(q, "set_link", NULL, deadline, "{s:s, s:b}", "name", "net0", "up", 0);
	qmp_pump(q);
	while ((ev = qmp_event_next(q)))
		json_decref(ev);
	if (qmp_event_wait(q, "SHUTDOWN", &ev, deadline) == 0)
		json_decref(ev);
	(void)qmp_version(q);
	(void)qmp_error(q);
	(void)qmp_error_class(q);
	(void)qmp_events_dropped(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char logbuf[8192];
	int sv[2];
	struct qmp *q = NULL;
	char why[320];
	int64_t deadline;

	if (size > MAX_INPUT)
		return 0;
	log_capture(logbuf, sizeof(logbuf));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (size && write(sv[1], data, size) != (ssize_t)size)
		abort();
	/* QEMU has said everything: the client sees the end after it. */
	shutdown(sv[1], SHUT_WR);
	deadline = clock_now_ns() + 2 * NS_PER_S;
	if (qmp_open_fd(&q, sv[0], deadline, why, sizeof(why)) == 0)
		use(q, deadline);
	qmp_close(q);
	close(sv[1]);
	return 0;
}
