/* harness/server/server_int.h — what server.c and server_fault.c share: the server
 * object and one download in flight. Not for use outside the server. */
#ifndef HILCTL_SERVER_INT_H
#define HILCTL_SERVER_INT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness/server/server.h"

struct MHD_Daemon;
struct MHD_Connection;

/* One request, from its headers to its end; owned by libmicrohttpd's request
 * context and freed by the completion callback. */
struct transfer {
	struct update_server *srv;
	struct MHD_Connection *conn;
	char method[16];
	char *path; /* URL path as decoded by libmicrohttpd */
	bool is_get, has_body;
	int status;
	int fd;              /* the served file, -1 if none */
	uint64_t size;       /* file size */
	uint64_t start, end; /* file bytes [start, end) form the body */
	uint64_t sent;       /* body bytes handed to libmicrohttpd */
	int64_t t_start;     /* when the answer was queued */
	const char *cut;     /* why a fault ended the body, NULL otherwise */
	/* Fault state, reset whenever the server's fault changes. */
	unsigned int fault_gen;
	bool fault_applies, fault_fired, stall_done, stall_end_logged, throttle_started;
	int64_t throttle_t0;
	uint64_t throttle_from;
	int64_t reset_give_up_ns;
	/* Held by a fault: the MHD connection is suspended until wake_ns. */
	bool suspended;
	int64_t wake_ns;
	struct transfer *next; /* in srv->suspended, soonest first */
};

struct update_server {
	struct MHD_Daemon *mhd;
	int epoll_fd, root_fd;
	char *root_real;
	char name[INET6_ADDRSTRLEN + 16]; /* "127.0.0.1:8080" for messages */
	uint16_t port;
	struct timeline *tl;
	struct server_fault fault; /* fault.path_glob points to fault_glob */
	char *fault_glob;
	unsigned int fault_gen;   /* bumped by every server_set_fault() */
	unsigned int fault_fires; /* downloads the current fault acted on */
	struct transfer *suspended;
	bool resume_pending; /* resumed, but MHD_run() has not seen it yet */
	struct server_stats stats;
	bool run_failed;
};

/* The content reader: body bytes from file offset t->start + pos. */
ssize_t server_transfer_read(struct transfer *t, uint64_t pos, char *buf, size_t max);
void server_unlist(struct update_server *s, struct transfer *t);
void server_resume_due(struct update_server *s, int64_t now_ns);
void server_resume_all(struct update_server *s);

/* Range header → [start, end): 1 a range, 0 none or ignored (whole file),
 * -1 not satisfiable (416). */
int server_parse_range(const char *header, uint64_t size, uint64_t *start, uint64_t *end);

#endif
