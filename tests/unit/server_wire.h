/* tests/unit/server_wire.h — the client side of the update server's tests
 * (see server_wire.c). Every wait has a deadline: a test fails, never hangs. */
#ifndef HILCTL_TEST_SERVER_WIRE_H
#define HILCTL_TEST_SERVER_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "harness/server/server.h"

#define PAYLOAD_SIZE 200000
#define LOOP_DEADLINE_NS (20 * NS_PER_S)

extern char tmpdir[64], root[128];
extern unsigned char payload[PAYLOAD_SIZE]; /* root/payload and root/v2/payload */

/* A raw client: sends one request, keeps every byte and when it came. */
struct client {
	int fd;
	unsigned char *data;
	size_t len, cap;
	int err; /* 0: clean EOF, else errno of the failed read */
	bool done;
	int64_t t_sent, t_done;
	size_t n_marks;
	struct mark {
		size_t len;
		int64_t t;
	} marks[8192];
};

struct client *client_send(uint16_t port, const char *request, size_t len);
struct client *client_get(uint16_t port, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void client_read(struct client *c);
void client_free(struct client *c);
/* One turn of the loop (server and clients), waiting at most max_wait_ns. */
void pump_once(struct update_server *s, struct client **cs, int nc, int64_t max_wait_ns);
/* Turns until every client saw EOF or an error; fails after 20 s. */
void pump(struct update_server *s, struct client **cs, int nc);
/* Send a request and pump until the server is done with it. */
struct client *fetch(struct update_server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
size_t head_len(const struct client *c);
int status_of(const struct client *c);
const char *header(const struct client *c, const char *name); /* "" when absent */
const unsigned char *body(const struct client *c, size_t *len);
int64_t time_past(const struct client *c, size_t offset); /* when byte `offset` came */

struct curl_result {
	CURLcode code;
	long status;
	unsigned char *data;
	size_t len;
};
/* GET path with libcurl (resuming at resume_from if > 0), in this loop. */
struct curl_result curl_fetch(struct update_server *s, const char *path, long resume_from);

struct update_server *start(void); /* on 127.0.0.1, any port, serving root */
void set_fault(struct update_server *s, enum server_fault_kind kind, uint64_t at, const char *glob);
void write_file(const char *rel, const void *data, size_t len);
/* root/: payload, v2/payload, small.txt, out -> ../secret (absolute),
 * up -> ../secret (relative), inside -> v2/payload, fifo. */
void make_tree(void);
/* mkdtemp, make_tree; and rm -rf at the end. */
int wire_setup(const char *name);
int wire_cleanup(void);

#endif
