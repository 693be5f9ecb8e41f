/* harness/server/server_fault.c — what the update server's faults do to a body.
 *
 * libmicrohttpd asks server_transfer_read() for the next chunk only once the
 * previous one is in the kernel, so "after N bytes" is exact: a fault caps
 * the chunk that would cross byte N, then acts when asked for byte N. To hold
 * a download (stall, throttle, waiting to reset) the reader suspends the MHD
 * connection and returns 0; server_process() resumes it at its wake-up time.
 * Returning 0 without suspending would make libmicrohttpd spin. */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>

#include <microhttpd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "harness/server/server_int.h"
#include "lib/timeline.h"

/* A throttled body moves in slices of rate/20 bytes, i.e. every 50 ms. */
#define THROTTLE_SLICES_PER_S 20
/* Before a reset, wait until the peer has acknowledged the first N bytes (so
 * it really received them), checking every 5 ms, for 2 s at most. */
#define RESET_DRAIN_POLL_NS (5 * NS_PER_MS)
#define RESET_DRAIN_MAX_NS (2 * NS_PER_S)
#define FAULT_CONTINUE 1

static const char *const kind_words[] = {
    [SERVER_FAULT_NONE] = "none",         [SERVER_FAULT_STALL] = "stall",
    [SERVER_FAULT_CLOSE_AFTER] = "close", [SERVER_FAULT_RESET_AFTER] = "reset",
    [SERVER_FAULT_THROTTLE] = "throttle", [SERVER_FAULT_CORRUPT] = "corrupt",
};

const char *server_fault_kind_name(enum server_fault_kind kind)
{
	if ((unsigned int)kind >= sizeof(kind_words) / sizeof(kind_words[0]))
		return "?";
	return kind_words[kind];
}

int server_fault_kind_parse(const char *word, enum server_fault_kind *out)
{
	for (size_t i = 0; word && i < sizeof(kind_words) / sizeof(kind_words[0]); i++) {
		if (strcmp(word, kind_words[i]) == 0) {
			*out = (enum server_fault_kind)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- held downloads, soonest wake-up first */

static void suspend_until(struct transfer *t, int64_t wake_ns)
{
	struct transfer **pp = &t->srv->suspended;

	MHD_suspend_connection(t->conn);
	t->suspended = true;
	t->wake_ns = wake_ns;
	while (*pp && (*pp)->wake_ns <= wake_ns)
		pp = &(*pp)->next;
	t->next = *pp;
	*pp = t;
}

void server_unlist(struct update_server *s, struct transfer *t)
{
	for (struct transfer **pp = &s->suspended; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			t->next = NULL;
			return;
		}
	}
}

void server_resume_due(struct update_server *s, int64_t now_ns)
{
	while (s->suspended && s->suspended->wake_ns <= now_ns) {
		struct transfer *t = s->suspended;

		s->suspended = t->next;
		t->next = NULL;
		t->suspended = false;
		s->resume_pending = true;
		MHD_resume_connection(t->conn);
	}
}

void server_resume_all(struct update_server *s)
{
	server_resume_due(s, INT64_MAX);
}

/* ---- the active fault */

int server_set_fault(struct update_server *s, const struct server_fault *f)
{
	static const struct server_fault none;
	char *glob = NULL;

	if (!f)
		f = &none;
	if ((unsigned int)f->kind > SERVER_FAULT_CORRUPT ||
	    (f->kind == SERVER_FAULT_THROTTLE && f->rate_bps == 0) ||
	    (f->kind == SERVER_FAULT_STALL && f->stall_ns < 0)) {
		hil_error("update server: fault %s needs %s", server_fault_kind_name(f->kind),
		          f->kind == SERVER_FAULT_THROTTLE ? "a rate above 0 bytes/s"
		          : f->kind == SERVER_FAULT_STALL  ? "a stall time of 0 or more"
		                                           : "a known kind");
		return -EINVAL;
	}
	if (f->kind != SERVER_FAULT_NONE && f->path_glob) {
		glob = strdup(f->path_glob);
		if (!glob)
			return -ENOMEM;
	}
	free(s->fault_glob);
	s->fault_glob = glob;
	s->fault = *f;
	s->fault.path_glob = glob;
	s->fault_gen++;
	s->fault_fires = 0;
	timeline_event(s->tl, clock_now_ns(), "server",
	               "fault set: %s at byte %" PRIu64 " stall %.3f s rate %" PRIu64
	               " B/s paths %.200s times %u",
	               server_fault_kind_name(f->kind), f->at_byte, (double)f->stall_ns / 1e9,
	               f->rate_bps, glob ? glob : "*", f->times);
	/* Held downloads look at the new fault now: a stall in progress ends. */
	server_resume_all(s);
	return 0;
}

static void fault_refresh(struct transfer *t)
{
	const struct update_server *s = t->srv;

	if (t->fault_gen == s->fault_gen)
		return;
	t->fault_gen = s->fault_gen;
	t->fault_fired = t->stall_done = t->stall_end_logged = t->throttle_started = false;
	t->fault_applies = s->fault.kind != SERVER_FAULT_NONE &&
	                   (!s->fault.path_glob || fnmatch(s->fault.path_glob, t->path, 0) == 0);
}

static bool fault_active(const struct transfer *t)
{
	const struct update_server *s = t->srv;

	return t->fault_applies &&
	       (t->fault_fired || s->fault.times == 0 || s->fault_fires < s->fault.times);
}

/* Count the download once and put the fault on the timeline. */
static void fault_fire(struct transfer *t, const char *fmt, ...)
{
	struct update_server *s = t->srv;
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (!t->fault_fired) {
		t->fault_fired = true;
		s->fault_fires++;
		s->stats.faults_fired++;
	}
	timeline_event(s->tl, clock_now_ns(), "fault",
	               "server: %s, %s %.200s (%" PRIu64 " body bytes sent)", what, t->method,
	               t->path, t->sent);
}

/* Unsent plus unacknowledged bytes in the socket's send queue. */
static int unacked_bytes(int fd)
{
	int n = 0;

	return ioctl(fd, SIOCOUTQ, &n) == 0 ? n : 0;
}

/* An abortive close: connect(AF_UNSPEC) on a TCP socket runs the kernel's
 * tcp_disconnect(), which sends RST at once. SO_LINGER 0 alone would not do:
 * libmicrohttpd calls shutdown(SHUT_WR) before close(), so the peer would see
 * a FIN first and take the reset for a clean end of stream. */
static void socket_reset(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	struct sockaddr unspec = {.sa_family = AF_UNSPEC};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	if (connect(fd, &unspec, sizeof(unspec)) < 0)
		hil_debug("update server: reset: %s", strerror(errno));
}

static ssize_t reset_now_or_later(struct transfer *t, int64_t now)
{
	const union MHD_ConnectionInfo *ci;

	if (!t->fault_fired) {
		fault_fire(t, "reset after byte %" PRIu64, t->srv->fault.at_byte);
		t->reset_give_up_ns = now + RESET_DRAIN_MAX_NS;
	}
	ci = MHD_get_connection_info(t->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (unacked_bytes(ci->connect_fd) > 0 && now < t->reset_give_up_ns) {
		suspend_until(t, now + RESET_DRAIN_POLL_NS);
		return 0;
	}
	socket_reset(ci->connect_fd);
	t->cut = "reset by fault (RST)";
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

static ssize_t throttle(struct transfer *t, uint64_t fpos, size_t *len, int64_t now)
{
	uint64_t rate = t->srv->fault.rate_bps, slice, moved;
	unsigned __int128 allowed;

	if (!t->throttle_started) {
		fault_fire(t, "throttle to %" PRIu64 " bytes/s from byte %" PRIu64, rate, fpos);
		t->throttle_started = true;
		t->throttle_t0 = now;
		t->throttle_from = fpos;
	}
	/* Never more than rate * elapsed bytes since the throttle began. */
	moved = fpos - t->throttle_from;
	allowed = (unsigned __int128)rate * (uint64_t)(now - t->throttle_t0) / NS_PER_S;
	allowed = allowed > moved ? allowed - moved : 0;
	slice = rate / THROTTLE_SLICES_PER_S ? rate / THROTTLE_SLICES_PER_S : 1;
	if (slice > *len)
		slice = *len;
	if (allowed < slice) {
		unsigned __int128 due =
		    ((unsigned __int128)(moved + slice) * NS_PER_S + rate - 1) / rate;

		suspend_until(t, t->throttle_t0 +
		                     (due > INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)due));
		return 0;
	}
	if (allowed < *len)
		*len = (size_t)allowed;
	return FAULT_CONTINUE;
}

/* Before reading a chunk at file offset fpos: cap it at byte N, or act.
 * Returns FAULT_CONTINUE, 0 (held: suspended) or an MHD end code. */
static ssize_t fault_before_chunk(struct transfer *t, uint64_t fpos, size_t *len)
{
	const struct server_fault *f = &t->srv->fault;
	int64_t now = clock_now_ns();

	if (f->kind == SERVER_FAULT_CORRUPT || (f->kind == SERVER_FAULT_STALL && t->stall_done))
		return FAULT_CONTINUE;
	if (fpos < f->at_byte) {
		if (f->at_byte - fpos < *len)
			*len = (size_t)(f->at_byte - fpos);
		return FAULT_CONTINUE;
	}
	switch (f->kind) {
	case SERVER_FAULT_STALL:
		fault_fire(t, "stall %.3f s at byte %" PRIu64, (double)f->stall_ns / 1e9, fpos);
		t->stall_done = true;
		suspend_until(t, f->stall_ns > INT64_MAX / 2 - now ? INT64_MAX / 2
		                                                   : now + f->stall_ns);
		return 0;
	case SERVER_FAULT_CLOSE_AFTER:
		fault_fire(t, "close after byte %" PRIu64 " (FIN)", f->at_byte);
		t->cut = "closed by fault (FIN)";
		return MHD_CONTENT_READER_END_OF_STREAM;
	case SERVER_FAULT_RESET_AFTER:
		return reset_now_or_later(t, now);
	case SERVER_FAULT_THROTTLE:
		return throttle(t, fpos, len, now);
	default:
		return FAULT_CONTINUE;
	}
}

static void corrupt(struct transfer *t, uint64_t fpos, char *buf, size_t n)
{
	uint64_t at = t->srv->fault.at_byte;
	unsigned char was;

	if (at < fpos || at - fpos >= n)
		return;
	was = (unsigned char)buf[at - fpos];
	buf[at - fpos] = (char)(was ^ 0xff);
	fault_fire(t, "corrupt byte %" PRIu64 ": 0x%02x sent as 0x%02x", at, was, was ^ 0xffu);
}

ssize_t server_transfer_read(struct transfer *t, uint64_t pos, char *buf, size_t max)
{
	uint64_t fpos = t->start + pos;
	size_t len = max;
	ssize_t n;

	if (t->suspended)
		return 0;
	if (fpos >= t->end)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (t->end - fpos < len)
		len = (size_t)(t->end - fpos);
	fault_refresh(t);
	if (fault_active(t)) {
		if (t->stall_done && !t->stall_end_logged) {
			t->stall_end_logged = true;
			timeline_event(t->srv->tl, clock_now_ns(), "fault",
			               "server: stall over, %s %.200s goes on at byte %" PRIu64,
			               t->method, t->path, fpos);
		}
		n = fault_before_chunk(t, fpos, &len);
		if (n != FAULT_CONTINUE)
			return n;
	}
	n = pread(t->fd, buf, len, (off_t)fpos);
	if (n <= 0) {
		hil_warn("update server: %s: %s", t->path,
		         n < 0 ? strerror(errno) : "file shrank while being served");
		t->cut = "file unreadable";
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (fault_active(t) && t->srv->fault.kind == SERVER_FAULT_CORRUPT)
		corrupt(t, fpos, buf, (size_t)n);
	t->sent += (uint64_t)n;
	t->srv->stats.bytes_sent += (uint64_t)n;
	return n;
}
