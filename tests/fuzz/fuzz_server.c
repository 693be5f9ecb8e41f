/* tests/fuzz/fuzz_server.c — libFuzzer target: arbitrary bytes as an HTTP
 * client's side of a connection to the update server (a socketpair handed
 * over with server_add_client), with a fault chosen by the first bytes, and
 * the same bytes as a Range header. The server must neither crash nor leak,
 * nor serve anything outside its root (a canary file sits next to it), nor
 * keep a connection once the client went away.
 *
 * Input: [kind][at_lo][at_hi][flags] then the request bytes. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <microhttpd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "harness/server/server.h"
#include "harness/server/server_int.h"

#define CANARY "fuzz-canary-outside-root"
#define MAX_ROUNDS 200

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

static struct update_server *fuzz_server(void)
{
	static char dir[] = "/tmp/fuzz_server.XXXXXX";
	char path[128], big[5000];

	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/secret", dir);
	put(path, CANARY "\n");
	snprintf(path, sizeof(path), "%s/root", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/root/v2", dir);
	mkdir(path, 0755);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(path, sizeof(path), "%s/root/v2/payload", dir);
	put(path, big);
	snprintf(path, sizeof(path), "%s/root/small", dir);
	put(path, "hello\n");
	snprintf(path, sizeof(path), "%s/root/out", dir);
	if (symlink("../secret", path) < 0)
		abort();
	snprintf(path, sizeof(path), "%s/root", dir);
	log_set_level(LOG_ERROR);
	return server_start(NULL, 0, path, NULL);
}

/* Faults that finish quickly: a 1 ms stall, 10 MB/s. */
static void fuzz_fault(struct update_server *s, const uint8_t *head)
{
	struct server_fault f = {
	    .kind = (enum server_fault_kind)(head[0] % (SERVER_FAULT_CORRUPT + 1)),
	    .at_byte = (uint64_t)head[1] | (uint64_t)head[2] << 8,
	    .stall_ns = NS_PER_MS,
	    .rate_bps = 10000000,
	    .path_glob = head[3] & 1 ? "*/payload" : NULL,
	    .times = head[3] >> 1 & 3,
	};

	if (server_set_fault(s, &f) < 0)
		abort();
}

/* One loop turn; returns false once the server closed its end. *busy says
 * whether anything moved or the server has something due within 2 ms. */
static bool pump(struct update_server *s, int fd, bool *busy, int max_wait_ms)
{
	struct pollfd pfd[9];
	int64_t deadline;
	char buf[8192];
	int n = server_pollfds(s, pfd, 8, &deadline);
	int ms = clock_poll_ms(deadline);
	ssize_t got;

	pfd[n] = (struct pollfd){.fd = fd, .events = POLLIN};
	*busy = ms <= 2;
	poll(pfd, (nfds_t)n + 1, ms <= 2 ? ms : max_wait_ms);
	server_process(s, pfd, n);
	while ((got = recv(fd, buf, sizeof(buf), 0)) > 0) {
		*busy = true;
		if (memmem(buf, (size_t)got, CANARY, strlen(CANARY)))
			__builtin_trap(); /* served a file from outside the root */
	}
	return got < 0 && (errno == EAGAIN || errno == EINTR);
}

static unsigned int connections(struct update_server *s)
{
	const union MHD_DaemonInfo *info =
	    MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

	return info ? info->num_connections : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct update_server *s;
	static const uint8_t none[4];
	char range[256];
	uint64_t a, b;
	size_t off = 0;
	bool open = true, busy;
	int sv[2], idle = 0;

	if (!s && !(s = fuzz_server()))
		abort();
	snprintf(range, sizeof(range), "%.*s", (int)(size < 255 ? size : 255), (const char *)data);
	if (server_parse_range(range, 5000, &a, &b) == 1 && (a >= b || b > 5000))
		__builtin_trap();
	fuzz_fault(s, size >= 4 ? data : none);
	data += size >= 4 ? 4 : size;
	size -= size >= 4 ? 4 : size;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (server_add_client(s, sv[0]) < 0)
		abort(); /* the server must never run out of connections */
	for (int round = 0; open && round < MAX_ROUNDS && idle < 3; round++) {
		if (off < size) {
			ssize_t w = send(sv[1], data + off, size - off, MSG_NOSIGNAL);
			if (w > 0)
				off += (size_t)w;
		}
		open = pump(s, sv[1], &busy, 0);
		idle = busy || off < size ? 0 : idle + 1;
	}
	/* The client goes away; the server must let the connection go (a
	 * reset waits up to 2 s for the peer to take what was sent). */
	close(sv[1]);
	for (int64_t end = clock_now_ns() + 3 * NS_PER_S; connections(s) > 0;) {
		if (clock_now_ns() > end)
			__builtin_trap();
		pump(s, -1, &busy, 10);
	}
	server_set_fault(s, NULL);
	return 0;
}
