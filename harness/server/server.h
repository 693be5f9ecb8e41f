/* harness/server/server.h — hilctl's own update server: serves a directory of
 * bundles over HTTP (libmicrohttpd) from the caller's poll() loop, and breaks
 * downloads on purpose: stall, close, reset, throttle, corrupt.
 *
 * Ownership: server_start() returns an object freed by server_stop() (which
 * accepts NULL). The server copies bind_addr, root_dir and every fault it is
 * given; the timeline is borrowed and must outlive the server.
 *
 * Poll integration (no threads): before poll(), server_pollfds() fills the
 * server's descriptors (one today: libmicrohttpd's epoll fd) and the
 * monotonic deadline by which server_process() must run; after poll()
 * returns, for whatever reason, call server_process() with the same fds.
 *
 * Faults act on response bodies of GET requests whose URL path matches
 * path_glob (fnmatch(3) without flags: '*' also matches '/'; NULL matches
 * every path). at_byte is an offset in the served FILE, not in the response,
 * so a resumed download (Range: bytes=K-) meets the same byte N. Headers are
 * always sent whole; a fault starts at the body. One fault is active at a
 * time; a new one (or SERVER_FAULT_NONE) takes over in-flight downloads at
 * their next chunk and ends a stall in progress. See docs/update-server.md
 * for what each fault does on the wire. */
#ifndef HILCTL_SERVER_H
#define HILCTL_SERVER_H

#include <poll.h>
#include <stdint.h>

struct timeline;
struct update_server;

enum server_fault_kind {
	SERVER_FAULT_NONE = 0,
	SERVER_FAULT_STALL,       /* send bytes [0,N), pause stall_ns, then the rest */
	SERVER_FAULT_CLOSE_AFTER, /* send bytes [0,N), then FIN: short body vs Content-Length */
	SERVER_FAULT_RESET_AFTER, /* send bytes [0,N), wait for the peer's ACK, then RST */
	SERVER_FAULT_THROTTLE,    /* from byte N on, at most rate_bps bytes per second */
	SERVER_FAULT_CORRUPT,     /* flip every bit of byte N (b ^ 0xff) */
};

struct server_fault {
	enum server_fault_kind kind;
	uint64_t at_byte;      /* file offset N (all kinds; 0 = from the first byte) */
	int64_t stall_ns;      /* STALL: how long */
	uint64_t rate_bps;     /* THROTTLE: bytes per second, > 0 */
	const char *path_glob; /* which URL paths, e.g. "*.bundle"; NULL = all; copied */
	unsigned int times;    /* fire on this many downloads, then stop; 0 = on every one */
};

struct server_stats {
	uint64_t requests;        /* requests answered (any method, any status) */
	uint64_t responses_ok;    /* 200 and 206 */
	uint64_t responses_error; /* 4xx and 5xx */
	uint64_t bytes_sent;      /* body bytes handed to the socket */
	uint64_t bodies_complete; /* bodies sent in full */
	uint64_t bodies_cut;      /* bodies that ended short: a fault, or the client left */
	uint64_t faults_fired;    /* downloads a fault acted on */
};

/* Listen on bind_addr (numeric IPv4/IPv6; NULL = "127.0.0.1") and port
 * (0 = any free port, see server_port()), serving files under root_dir.
 * Returns NULL with errno set after printing one error line, e.g. when the
 * port is taken: "update server: cannot listen on 127.0.0.1:8080: Address
 * already in use ...". */
/* Whether this host can listen on addr (numeric, not a wildcard): 0, or
 * -errno with why filled for the user (-EADDRNOTAVAIL: not an address of
 * this host). Binds port 0 once and closes it. */
int server_check_bind(const char *addr, char *why, size_t why_size);
struct update_server *server_start(const char *bind_addr, uint16_t port, const char *root_dir,
                                   struct timeline *tl);
uint16_t server_port(const struct update_server *s);
/* Log to tl from now on (one timeline per run); borrowed like the first. */
void server_set_timeline(struct update_server *s, struct timeline *tl);
/* Closes every connection (stalled ones too) and frees s. */
void server_stop(struct update_server *s);

/* Fill up to max pollfds; returns how many (>= 0), or -ENOSPC when max is too
 * small. *deadline_ns is set to the monotonic time by which server_process()
 * must run even without events, INT64_MAX if none. */
int server_pollfds(struct update_server *s, struct pollfd *fds, int max, int64_t *deadline_ns);
/* Run everything that is due: accept, read, write, end stalls and throttle
 * pauses. Never blocks. */
void server_process(struct update_server *s, const struct pollfd *fds, int n);

/* Replace the active fault (f == NULL or kind NONE clears it). Returns 0 or
 * -EINVAL (with an error line) for a fault that cannot work: THROTTLE with
 * rate 0, STALL with a negative time. */
int server_set_fault(struct update_server *s, const struct server_fault *f);
void server_get_stats(const struct update_server *s, struct server_stats *out);

/* "none", "stall", "close", "reset", "throttle", "corrupt": the words a
 * scenario file uses. parse returns 0 or -EINVAL. */
const char *server_fault_kind_name(enum server_fault_kind kind);
int server_fault_kind_parse(const char *word, enum server_fault_kind *out);

/* Serve an already connected stream socket (tests, fuzzing): the server owns
 * fd from now on, also on error. Returns 0 or -errno. */
int server_add_client(struct update_server *s, int fd);

#endif
