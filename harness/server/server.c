/* harness/server/server.c — the update server: files under a root directory over
 * HTTP/1.1 (GET, HEAD, single Range), run by libmicrohttpd from the caller's
 * poll() loop, with the faults of server_fault.c applied to response bodies.
 *
 * libmicrohttpd runs in external-loop epoll mode: the caller polls one fd
 * (the daemon's epoll fd, readable when any socket has news) and a deadline
 * (MHD's connection timeouts, our stall and throttle wake-ups). Bodies come
 * from a content reader, so a fault can hold, slow, cut or alter a body
 * chunk by chunk; a held download is a suspended MHD connection, resumed by
 * server_process() at its wake-up time, so nothing spins while it waits. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

#include <microhttpd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "harness/server/server_int.h"
#include "lib/timeline.h"

#define SERVER_DEFAULT_ADDR "127.0.0.1"
#define SERVER_BLOCK_SIZE (64 * 1024)
/* An idle or silent client is dropped after this; stalled and throttled
 * downloads are suspended and never time out while we hold them. */
#define SERVER_CONN_TIMEOUT_S 60u
#define SERVER_MAX_CONNECTIONS 64u

static void server_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t len;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	while (len > 0 && msg[len - 1] == '\n')
		msg[--len] = '\0';
	hil_debug("update server: libmicrohttpd: %s", msg);
}

/* ---- opening a file under the root, never outside it */

/* openat2(RESOLVE_BENEATH) refuses ".." and symlinks that leave the root,
 * in the kernel, race-free. Where it is missing (kernel < 5.6, or a seccomp
 * filter that says EPERM/ENOSYS) the resolved path is compared instead. */
static int open_beneath(int root_fd, const char *root_real, const char *rel)
{
	struct open_how how = {
	    .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	char full[PATH_MAX], *real;
	size_t root_len = strlen(root_real);
	int fd;

	fd = (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));
	if (fd >= 0)
		return fd;
	if (errno != ENOSYS && errno != EPERM)
		return -errno; /* EXDEV: it leaves the root */
	if (snprintf(full, sizeof(full), "%s/%s", root_real, rel) >= (int)sizeof(full))
		return -ENAMETOOLONG;
	real = realpath(full, NULL);
	if (!real)
		return -errno;
	if (strncmp(real, root_real, root_len) != 0 ||
	    (real[root_len] != '/' && strcmp(root_real, "/") != 0)) {
		free(real);
		return -EXDEV;
	}
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	free(real);
	return fd >= 0 ? fd : -errno;
}

/* A path is refused outright if any segment is ".." (even one that would
 * stay inside the root: nothing legitimate needs it). */
static bool path_has_dotdot(const char *path)
{
	for (const char *p = path; *p; p++) {
		if ((p == path || p[-1] == '/') && p[0] == '.' && p[1] == '.' &&
		    (p[2] == '/' || p[2] == '\0'))
			return true;
	}
	return false;
}

/* ---- Range: bytes=A-B, bytes=A-, bytes=-N */

static bool parse_u64(const char **p, uint64_t *out)
{
	uint64_t v = 0;
	const char *s = *p;

	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*p = s;
	*out = v;
	return true;
}

int server_parse_range(const char *h, uint64_t size, uint64_t *start, uint64_t *end)
{
	uint64_t a, b;
	const char *p = h;

	if (!h || strncmp(p, "bytes=", 6) != 0)
		return 0;
	p += 6;
	if (*p == '-') {
		p++;
		if (!parse_u64(&p, &b) || *p != '\0')
			return 0;
		if (b == 0 || size == 0)
			return -1;
		*start = b >= size ? 0 : size - b;
		*end = size;
		return 1;
	}
	if (!parse_u64(&p, &a) || *p != '-')
		return 0; /* also "bytes=1-2,5-6": several ranges get the whole file */
	p++;
	if (*p == '\0')
		b = UINT64_MAX;
	else if (!parse_u64(&p, &b) || *p != '\0' || b < a)
		return 0;
	if (a >= size)
		return -1;
	*start = a;
	*end = b >= size ? size : b + 1;
	return 1;
}

/* ---- answers */

static enum MHD_Result answer_text(struct transfer *t, unsigned int status, const char *text,
                                   const char *why)
{
	struct update_server *s = t->srv;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (status == MHD_HTTP_RANGE_NOT_SATISFIABLE) {
		char cr[48];

		snprintf(cr, sizeof(cr), "bytes */%" PRIu64, t->size);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
	}
	ret = MHD_queue_response(t->conn, status, resp);
	MHD_destroy_response(resp);
	t->status = (int)status;
	s->stats.requests++;
	s->stats.responses_error++;
	timeline_event(s->tl, clock_now_ns(), "server", "%s %.200s %u (%s)", t->method, t->path,
	               status, why);
	return ret;
}

static ssize_t transfer_read_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	return server_transfer_read(cls, pos, buf, max);
}

static int open_for_answer(struct transfer *t, const char **why)
{
	struct stat st;
	int fd;

	if (t->path[0] != '/' || path_has_dotdot(t->path)) {
		*why = "path leaves the root";
		return -EACCES;
	}
	if (t->path[1] == '\0') {
		*why = "no file named";
		return -ENOENT;
	}
	fd = open_beneath(t->srv->root_fd, t->srv->root_real, t->path + 1);
	if (fd < 0) {
		*why = fd == -EXDEV ? "path leaves the root" : strerror(-fd);
		return fd == -EXDEV || fd == -EPERM ? -EACCES : fd;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		*why = "not a regular file";
		return -ENOENT;
	}
	t->fd = fd;
	t->size = (uint64_t)st.st_size;
	return 0;
}

static enum MHD_Result answer_file(struct transfer *t)
{
	struct update_server *s = t->srv;
	struct MHD_Response *resp;
	const char *range, *why = "";
	enum MHD_Result ret;
	char cr[80];
	int rc;

	rc = open_for_answer(t, &why);
	if (rc == -EACCES)
		return answer_text(t, MHD_HTTP_FORBIDDEN, "forbidden\n", why);
	if (rc < 0)
		return answer_text(t, MHD_HTTP_NOT_FOUND, "not found\n", why);
	range = MHD_lookup_connection_value(t->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
	t->start = 0;
	t->end = t->size;
	rc = server_parse_range(range, t->size, &t->start, &t->end);
	if (rc < 0)
		return answer_text(t, MHD_HTTP_RANGE_NOT_SATISFIABLE, "range not satisfiable\n",
		                   "range not satisfiable");
	t->status = rc > 0 ? MHD_HTTP_PARTIAL_CONTENT : MHD_HTTP_OK;
	resp = MHD_create_response_from_callback(t->end - t->start, SERVER_BLOCK_SIZE,
	                                         transfer_read_cb, t, NULL);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	if (rc > 0) {
		snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, t->start,
		         t->end - 1, t->size);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
	}
	ret = MHD_queue_response(t->conn, (unsigned int)t->status, resp);
	MHD_destroy_response(resp);
	s->stats.requests++;
	s->stats.responses_ok++;
	t->has_body = t->is_get && t->end > t->start;
	t->t_start = clock_now_ns();
	/* Inclusive, as in Content-Range. */
	if (t->end > t->start)
		timeline_event(s->tl, t->t_start, "server",
		               "%s %.200s %d bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, t->method,
		               t->path, t->status, t->start, t->end - 1, t->size);
	else
		timeline_event(s->tl, t->t_start, "server", "%s %.200s %d empty", t->method,
		               t->path, t->status);
	return ret;
}

/* MHD calls this once when the headers are in, then for each piece of a
 * request body, then once more with *upload_size 0. GET and HEAD are answered
 * on that last call: an answer queued on the first call would make
 * libmicrohttpd 0.9.75 close the connection after it (no keep-alive). */
static enum MHD_Result server_answer(void *cls, struct MHD_Connection *conn, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_size, void **req_cls)
{
	struct update_server *s = cls;
	struct transfer *t = *req_cls;

	if (t) {
		if (*upload_size) {
			*upload_size = 0; /* a body on GET: ignored */
			return MHD_YES;
		}
		return t->status ? MHD_YES : answer_file(t);
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return MHD_NO;
	*req_cls = t;
	t->srv = s;
	t->conn = conn;
	t->fd = -1;
	snprintf(t->method, sizeof(t->method), "%s", method);
	t->path = strdup(url ? url : "");
	if (!t->path)
		return MHD_NO;
	t->is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
	if (!t->is_get && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return answer_text(t, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
		                   "method not allowed");
	return MHD_YES;
}

static const char *termination_word(enum MHD_RequestTerminationCode toe)
{
	switch (toe) {
	case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
		return "client silent, timed out";
	case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
		return "server stopped";
	case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
		return "client closed";
	default:
		return "connection failed or client left";
	}
}

/* Called by MHD once per request, also when the connection dies: log how the
 * body ended, then free the transfer. */
static void server_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                             enum MHD_RequestTerminationCode toe)
{
	struct update_server *s = cls;
	struct transfer *t = *req_cls;
	uint64_t want;
	const char *how;
	bool whole;

	if (!t)
		return;
	*req_cls = NULL;
	server_unlist(s, t);
	if (t->has_body) {
		want = t->end - t->start;
		whole = t->sent == want && !t->cut && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
		how = whole                                        ? "complete"
		      : t->cut                                     ? t->cut
		      : toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "ended short"
		                                                   : termination_word(toe);
		if (whole)
			s->stats.bodies_complete++;
		else
			s->stats.bodies_cut++;
		timeline_event(s->tl, clock_now_ns(), "server",
		               "%s %.200s sent %" PRIu64 "/%" PRIu64 " in %.3f s: %s", t->method,
		               t->path, t->sent, want, (double)(clock_now_ns() - t->t_start) / 1e9,
		               how);
	}
	if (t->fd >= 0)
		close(t->fd);
	free(t->path);
	free(t);
}

/* ---- the listening socket: ours, so that "port taken" is a clear error */

static void format_name(char *name, size_t size, const char *addr, uint16_t port)
{
	snprintf(name, size, strchr(addr, ':') ? "[%s]:%u" : "%s:%u", addr, port);
}

static int listen_on(const char *addr, uint16_t port, char *name, size_t name_size)
{
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
	                         .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai;
	char port_text[8];
	int fd, one = 1, rc, err;

	snprintf(port_text, sizeof(port_text), "%u", port);
	format_name(name, name_size, addr, port);
	rc = getaddrinfo(addr, port_text, &hints, &ai);
	if (rc != 0) {
		hil_error("update server: bind address \"%s\" is not a numeric IPv4 or IPv6 "
		          "address (%s)",
		          addr, gai_strerror(rc));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		freeaddrinfo(ai);
		hil_error("update server: cannot create a socket for %s: %s", name, strerror(err));
		return -err;
	}
	/* Lets a restarted server take its port back from TIME_WAIT; on Linux
	 * it never lets two servers listen on the same address and port. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 32) < 0) {
		err = errno;
		freeaddrinfo(ai);
		close(fd);
		hil_error("update server: cannot listen on %s: %s%s", name, strerror(err),
		          err == EADDRINUSE ? " (another program has that port: stop it, or "
		                              "choose another port or 0 for any free one)"
		                            : "");
		return -err;
	}
	freeaddrinfo(ai);
	return fd;
}

int server_check_bind(const char *addr, char *why, size_t why_size)
{
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
	                         .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai;
	int fd, rc, err;

	rc = getaddrinfo(addr, "0", &hints, &ai);
	if (rc != 0) {
		snprintf(why, why_size, "\"%s\" is not a numeric IPv4 or IPv6 address", addr);
		return -EINVAL;
	}
	if (!strcmp(addr, "0.0.0.0") || !strcmp(addr, "::")) {
		freeaddrinfo(ai);
		snprintf(why, why_size,
		         "%s would serve bundles on every network of this host: name the "
		         "address this host has on the board's network",
		         addr);
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		freeaddrinfo(ai);
		snprintf(why, why_size, "cannot create a socket for %s: %s", addr, strerror(err));
		return -err;
	}
	rc = bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ? -errno : 0;
	close(fd);
	freeaddrinfo(ai);
	if (rc == -EADDRNOTAVAIL)
		snprintf(
		    why, why_size,
		    "%s is not an address of this host (ip -brief address lists them): the "
		    "update server listens on the address this host has on the board's network",
		    addr);
	else if (rc < 0)
		snprintf(why, why_size, "cannot bind %s: %s", addr, strerror(-rc));
	return rc;
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int open_root(struct update_server *s, const char *root_dir)
{
	s->root_fd = open(root_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0) {
		int err = errno;

		hil_error("update server: cannot serve \"%s\": %s (give an existing directory)",
		          root_dir, strerror(err));
		return -err;
	}
	s->root_real = realpath(root_dir, NULL);
	return s->root_real ? 0 : -errno;
}

struct update_server *server_start(const char *bind_addr, uint16_t port, const char *root_dir,
                                   struct timeline *tl)
{
	struct update_server *s = calloc(1, sizeof(*s));
	const union MHD_DaemonInfo *info;
	int fd, rc;

	if (!s)
		return NULL;
	if (!bind_addr)
		bind_addr = SERVER_DEFAULT_ADDR;
	s->root_fd = -1;
	s->tl = tl;
	rc = open_root(s, root_dir);
	if (rc < 0)
		goto fail;
	fd = listen_on(bind_addr, port, s->name, sizeof(s->name));
	if (fd < 0) {
		rc = fd;
		goto fail;
	}
	s->port = bound_port(fd);
	format_name(s->name, sizeof(s->name), bind_addr, s->port);
	/* MHD owns fd from here, also when it fails to start. */
	s->mhd = MHD_start_daemon(
	    MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    server_answer, s, MHD_OPTION_EXTERNAL_LOGGER, server_mhd_log, s,
	    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED, server_completed, s,
	    MHD_OPTION_CONNECTION_TIMEOUT, SERVER_CONN_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
	    SERVER_MAX_CONNECTIONS, MHD_OPTION_END);
	info = s->mhd ? MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (!info) {
		hil_error("update server: libmicrohttpd could not start on %s (epoll mode)",
		          s->name);
		rc = -EIO;
		goto fail;
	}
	s->epoll_fd = info->epoll_fd;
	timeline_event(tl, clock_now_ns(), "server", "serving %.200s on http://%s/", root_dir,
	               s->name);
	hil_info("update server: serving %s on http://%s/", root_dir, s->name);
	return s;
fail:
	server_stop(s);
	errno = -rc;
	return NULL;
}

uint16_t server_port(const struct update_server *s)
{
	return s ? s->port : 0;
}

void server_stop(struct update_server *s)
{
	if (!s)
		return;
	if (s->mhd) {
		/* MHD refuses to stop with suspended connections. */
		server_resume_all(s);
		MHD_stop_daemon(s->mhd);
	}
	if (s->root_fd >= 0)
		close(s->root_fd);
	free(s->root_real);
	free(s->fault_glob);
	free(s);
}

int server_pollfds(struct update_server *s, struct pollfd *fds, int max, int64_t *deadline_ns)
{
	MHD_UNSIGNED_LONG_LONG ms;
	int64_t now = clock_now_ns(), deadline = INT64_MAX;

	if (max < 1)
		return -ENOSPC;
	fds[0] = (struct pollfd){.fd = s->epoll_fd, .events = POLLIN};
	if (MHD_get_timeout(s->mhd, &ms) == MHD_YES)
		deadline = ms > (MHD_UNSIGNED_LONG_LONG)3600000 ? now + 3600 * NS_PER_S
		                                                : now + (int64_t)ms * NS_PER_MS;
	if (s->suspended && s->suspended->wake_ns < deadline)
		deadline = s->suspended->wake_ns;
	if (s->resume_pending)
		deadline = now;
	*deadline_ns = deadline;
	return 1;
}

void server_process(struct update_server *s, const struct pollfd *fds, int n)
{
	server_resume_due(s, clock_now_ns());
	s->resume_pending = false;
	if (MHD_run(s->mhd) != MHD_YES && !s->run_failed) {
		s->run_failed = true;
		hil_warn("update server on %s: libmicrohttpd failed to run its loop", s->name);
	}
}

int server_add_client(struct update_server *s, int fd)
{
	struct sockaddr_in peer = {.sin_family = AF_INET,
	                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	/* MHD closes fd when it refuses it. */
	if (MHD_add_connection(s->mhd, fd, (struct sockaddr *)&peer, sizeof(peer)) != MHD_YES)
		return -EIO;
	return 0;
}

void server_get_stats(const struct update_server *s, struct server_stats *out)
{
	*out = s->stats;
}

void server_set_timeline(struct update_server *s, struct timeline *tl)
{
	if (s)
		s->tl = tl;
}
