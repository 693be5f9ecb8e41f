/* harness/console/console_tcp.c — the "tcp" console: a ser2net raw port (or any
 * TCP service that carries the board's UART bytes unchanged).
 *
 * connect is non-blocking and bounded by the earlier of the caller's
 * deadline and the console's own timeout; a refused connection answers
 * -ECONNREFUSED so the generic layer retries (ser2net restarting), and a
 * stream that ends (EOF, reset, keepalive timeout) answers -EPIPE. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/cfg.h"
#include "lib/clock.h"
#include "harness/console/console.h"
#include "lib/log.h"

#define TCP_DEFAULT_TIMEOUT_NS (10 * NS_PER_S)

struct tcp_priv {
	const char *host; /* borrowed from the lab file */
	char port[8];
	int64_t timeout_ns;    /* one connect attempt at most */
	bool refused_reported; /* "refused" printed since last connect */
};

static int tcp_open(struct console *c, const struct cfg_node *settings)
{
	static const char *const keys[] = {"type", "driver", "timeout", "host", "port", NULL};
	struct tcp_priv *tp;
	long long port = 0;

	if (cfg_check_keys(settings, keys) < 0)
		return -EINVAL;
	tp = calloc(1, sizeof(*tp));
	if (!tp)
		return -ENOMEM;
	tp->host = "127.0.0.1";
	tp->timeout_ns = TCP_DEFAULT_TIMEOUT_NS;
	if (cfg_get_str(settings, "host", false, &tp->host) < 0 ||
	    cfg_get_int(settings, "port", true, 1, 65535, &port) < 0 ||
	    cfg_get_duration(settings, "timeout", false, &tp->timeout_ns) < 0) {
		free(tp);
		return -EINVAL;
	}
	snprintf(tp->port, sizeof(tp->port), "%lld", port);
	c->priv = tp;
	return 0;
}

/* Keepalive finds a ser2net host that died without a FIN within ~11 s;
 * NODELAY sends each typed key at once. Both are best effort. */
static void tune_socket(int fd)
{
	int one = 1, idle = 5, interval = 2, count = 3;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
}

/* One non-blocking connect to one address; returns the fd or -errno. */
static int connect_one(const struct addrinfo *ai, int64_t deadline_ns)
{
	struct pollfd pfd = {.events = POLLOUT};
	socklen_t len = sizeof(int);
	int fd, err = 0;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		err = errno;
		goto fail;
	}
	pfd.fd = fd;
	for (;;) {
		int n = poll(&pfd, 1, clock_poll_ms(deadline_ns));

		if (n > 0)
			break;
		if (n == 0) {
			err = ETIMEDOUT;
			goto fail;
		}
		if (errno != EINTR) {
			err = errno;
			goto fail;
		}
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0)
		return fd;
fail:
	close(fd);
	return -err;
}

/* A name goes through the system resolver (its own timeout applies):
 * write an address, or a name from /etc/hosts, to keep connect bounded. */
static int resolve(struct console *c, int64_t deadline_ns, struct addrinfo **out)
{
	struct tcp_priv *tp = c->priv;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	int rc = getaddrinfo(tp->host, tp->port, &hints, out);

	if (rc == 0)
		return 0;
	if (rc == EAI_AGAIN && clock_now_ns() < deadline_ns)
		return -EAGAIN; /* resolver not ready yet: retried quietly */
	hil_error("board \"%s\": console host \"%s\": %s", c->board, tp->host,
	          rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	return rc == EAI_AGAIN ? -EAGAIN : -EHOSTUNREACH;
}

static int connect_error(struct console *c, int64_t start_ns, int64_t deadline_ns, int err)
{
	struct tcp_priv *tp = c->priv;

	if (err == ECONNREFUSED) {
		/* ser2net not (yet) running: quiet until the deadline. */
		if (clock_now_ns() < deadline_ns || tp->refused_reported) {
			hil_debug("board \"%s\": %s:%s refused, still trying", c->board, tp->host,
			          tp->port);
			return -ECONNREFUSED;
		}
		tp->refused_reported = true;
		hil_error("board \"%s\": %s:%s: connection refused (is ser2net running with a "
		          "raw accepter on this port?)",
		          c->board, tp->host, tp->port);
		return -ECONNREFUSED;
	}
	if (err == ETIMEDOUT) {
		hil_error("board \"%s\": %s:%s: no answer within %.1f s (host down or port "
		          "firewalled?)",
		          c->board, tp->host, tp->port,
		          (double)(deadline_ns - start_ns) / NS_PER_S);
		return -ETIMEDOUT;
	}
	hil_error("board \"%s\": %s:%s: cannot connect: %s", c->board, tp->host, tp->port,
	          strerror(err));
	return -err;
}

static int tcp_connect(struct console *c, int64_t deadline_ns)
{
	struct tcp_priv *tp = c->priv;
	struct addrinfo *list, *ai;
	int64_t start = clock_now_ns(), own = start + tp->timeout_ns;
	int fd = -ENOENT, rc;

	rc = resolve(c, deadline_ns, &list);
	if (rc < 0)
		return rc;
	if (own < deadline_ns)
		deadline_ns = own;
	/* "localhost" may give ::1 and 127.0.0.1: the first that answers wins. */
	for (ai = list; ai; ai = ai->ai_next) {
		fd = connect_one(ai, deadline_ns);
		if (fd >= 0 || fd == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(list);
	if (fd < 0)
		return connect_error(c, start, deadline_ns, -fd);
	tune_socket(fd);
	c->fd = fd;
	tp->refused_reported = false;
	return 0;
}

static bool stream_ended(int err)
{
	return err == ECONNRESET || err == EPIPE || err == ETIMEDOUT || err == ENOTCONN ||
	       err == EHOSTUNREACH || err == ENETUNREACH || err == ECONNABORTED;
}

static ssize_t tcp_read(struct console *c, void *buf, size_t len)
{
	struct tcp_priv *tp = c->priv;
	ssize_t n = recv(c->fd, buf, len, MSG_DONTWAIT);

	if (n > 0)
		return n;
	if (n == 0) {
		hil_info("board \"%s\": %s:%s closed the console stream", c->board, tp->host,
		         tp->port);
		return -EPIPE;
	}
	if (errno == EAGAIN || errno == EINTR)
		return 0;
	if (stream_ended(errno)) {
		hil_info("board \"%s\": %s:%s: %s", c->board, tp->host, tp->port, strerror(errno));
		return -EPIPE;
	}
	hil_error("board \"%s\": %s:%s: read: %s", c->board, tp->host, tp->port, strerror(errno));
	return -errno;
}

static ssize_t tcp_write(struct console *c, const void *buf, size_t len)
{
	struct tcp_priv *tp = c->priv;
	ssize_t n = send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EINTR)
		return 0;
	if (stream_ended(errno)) {
		hil_info("board \"%s\": %s:%s: %s", c->board, tp->host, tp->port, strerror(errno));
		return -EPIPE;
	}
	hil_error("board \"%s\": %s:%s: write: %s", c->board, tp->host, tp->port, strerror(errno));
	return -errno;
}

static void tcp_disconnect(struct console *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void tcp_close(struct console *c)
{
	free(c->priv);
	c->priv = NULL;
}

const struct console_ops console_tcp_ops = {
    .name = "tcp",
    .open = tcp_open,
    .connect = tcp_connect,
    .read = tcp_read,
    .write = tcp_write,
    .disconnect = tcp_disconnect,
    .close = tcp_close,
};
