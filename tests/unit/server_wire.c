/* tests/unit/server_wire.c — a client side for the update server's tests:
 * raw loopback sockets that keep every byte and when it came, libcurl in
 * the same poll() loop, and the served tree (a payload, a symlink out of the
 * root, a FIFO...). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "lib/clock.h"
#include "harness/server/server.h"
#include "server_wire.h"

char tmpdir[64], root[128];
unsigned char payload[PAYLOAD_SIZE];

/* ---- a raw client */
struct client *client_send(uint16_t port, const char *request, size_t len)
{
	struct client *c = calloc(1, sizeof(*c));
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons(port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	assert_non_null(c);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c->fd >= 0);
	/* Blocking connect and send: the kernel completes both on loopback
	 * without the server's loop running. */
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(send(c->fd, request, len, MSG_NOSIGNAL), (ssize_t)len);
	fcntl(c->fd, F_SETFL, O_NONBLOCK);
	c->t_sent = clock_now_ns();
	return c;
}

struct client *client_get(uint16_t port, const char *fmt, ...)
{
	char req[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(req, sizeof(req), fmt, ap);
	va_end(ap);
	return client_send(port, req, (size_t)n);
}

void client_read(struct client *c)
{
	for (;;) {
		if (c->cap - c->len < 65536) {
			c->cap = c->cap ? c->cap * 2 : 262144;
			c->data = realloc(c->data, c->cap);
			assert_non_null(c->data);
		}
		ssize_t n = recv(c->fd, c->data + c->len, c->cap - c->len, 0);
		if (n > 0) {
			c->len += (size_t)n;
			if (c->n_marks < sizeof(c->marks) / sizeof(c->marks[0]))
				c->marks[c->n_marks++] = (struct mark){c->len, clock_now_ns()};
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		c->err = n < 0 ? errno : 0;
		c->done = true;
		c->t_done = clock_now_ns();
		return;
	}
}

void client_free(struct client *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->data);
	free(c);
}

/* One turn of the loop: poll the server and the clients, run what is due. */
void pump_once(struct update_server *s, struct client **cs, int nc, int64_t max_wait_ns)
{
	struct pollfd pfd[16];
	int64_t deadline, until = clock_now_ns() + max_wait_ns;
	int ns = server_pollfds(s, pfd, 8, &deadline);

	assert_true(ns >= 1);
	for (int i = 0; i < nc; i++)
		pfd[ns + i] = (struct pollfd){.fd = cs[i]->done ? -1 : cs[i]->fd, .events = POLLIN};
	poll(pfd, (nfds_t)(ns + nc), clock_poll_ms(deadline < until ? deadline : until));
	server_process(s, pfd, ns);
	for (int i = 0; i < nc; i++)
		if (!cs[i]->done)
			client_read(cs[i]);
}

void pump(struct update_server *s, struct client **cs, int nc)
{
	int64_t deadline = clock_now_ns() + LOOP_DEADLINE_NS;
	bool all_done;

	do {
		pump_once(s, cs, nc, 100 * NS_PER_MS);
		all_done = true;
		for (int i = 0; i < nc; i++)
			all_done = all_done && cs[i]->done;
		assert_true(clock_now_ns() < deadline);
	} while (!all_done);
}

struct client *fetch(struct update_server *s, const char *fmt, ...)
{
	char req[8192];
	struct client *c;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(req, sizeof(req), fmt, ap);
	va_end(ap);
	c = client_send(server_port(s), req, (size_t)n);
	pump(s, &c, 1);
	return c;
}

size_t head_len(const struct client *c)
{
	for (size_t i = 0; i + 3 < c->len; i++)
		if (memcmp(c->data + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	fail_msg("no end of headers in %zu bytes", c->len);
	return 0;
}

int status_of(const struct client *c)
{
	int status = 0;

	assert_true(c->len > 12);
	assert_int_equal(sscanf((const char *)c->data, "HTTP/1.1 %d", &status), 1);
	return status;
}

/* Value of a response header, "" when absent. */
const char *header(const struct client *c, const char *name)
{
	static char value[256];
	size_t hl = head_len(c), nl = strlen(name);

	value[0] = '\0';
	for (size_t i = 0; i + nl + 1 < hl; i++) {
		if (c->data[i] == '\n' &&
		    strncasecmp((const char *)c->data + i + 1, name, nl) == 0 &&
		    c->data[i + 1 + nl] == ':') {
			const char *v = (const char *)c->data + i + 2 + nl;
			size_t n = strcspn(v + 1, "\r");

			snprintf(value, sizeof(value), "%.*s", (int)n, v + 1);
			break;
		}
	}
	return value;
}

const unsigned char *body(const struct client *c, size_t *len)
{
	size_t hl = head_len(c);

	*len = c->len - hl;
	return c->data + hl;
}

/* When did the client hold more than `offset` body bytes? */
int64_t time_past(const struct client *c, size_t offset)
{
	size_t want = head_len(c) + offset;

	for (size_t i = 0; i < c->n_marks; i++)
		if (c->marks[i].len > want)
			return c->marks[i].t;
	fail_msg("byte %zu never arrived", offset);
	return 0;
}

/* ---- libcurl in the same loop */
static size_t curl_sink(char *p, size_t size, size_t nmemb, void *user)
{
	struct curl_result *r = user;

	r->data = realloc(r->data, r->len + size * nmemb + 1);
	memcpy(r->data + r->len, p, size * nmemb);
	r->len += size * nmemb;
	return size * nmemb;
}

struct curl_result curl_fetch(struct update_server *s, const char *path, long resume_from)
{
	struct curl_result r = {0};
	CURLM *multi = curl_multi_init();
	CURL *easy = curl_easy_init();
	int64_t deadline = clock_now_ns() + LOOP_DEADLINE_NS;
	char url[256];
	int running = 1;
	CURLMsg *msg;
	int left;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", server_port(s), path);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_PROXY, "");
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, curl_sink);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(easy, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)resume_from);
	curl_multi_add_handle(multi, easy);
	while (running) {
		struct curl_waitfd wfd[8];
		struct pollfd pfd[8];
		int64_t sd;
		int n = server_pollfds(s, pfd, 8, &sd);

		for (int i = 0; i < n; i++)
			wfd[i] = (struct curl_waitfd){.fd = pfd[i].fd, .events = CURL_WAIT_POLLIN};
		curl_multi_wait(multi, wfd, (unsigned int)n,
		                clock_poll_ms(sd) < 100 ? clock_poll_ms(sd) : 100, NULL);
		for (int i = 0; i < n; i++)
			pfd[i].revents = wfd[i].revents;
		server_process(s, pfd, n);
		curl_multi_perform(multi, &running);
		assert_true(clock_now_ns() < deadline);
	}
	while ((msg = curl_multi_info_read(multi, &left)))
		if (msg->msg == CURLMSG_DONE)
			r.code = msg->data.result;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r.status);
	curl_multi_remove_handle(multi, easy);
	curl_easy_cleanup(easy);
	curl_multi_cleanup(multi);
	return r;
}

/* ---- fixtures */
struct update_server *start(void)
{
	struct update_server *s = server_start(NULL, 0, root, NULL);

	assert_non_null(s);
	assert_true(server_port(s) > 0);
	return s;
}

void set_fault(struct update_server *s, enum server_fault_kind kind, uint64_t at, const char *glob)
{
	struct server_fault f = {.kind = kind, .at_byte = at, .path_glob = glob};

	assert_int_equal(server_set_fault(s, &f), 0);
}

void write_file(const char *rel, const void *data, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

void make_tree(void)
{
	char path[256], target[256];

	for (size_t i = 0; i < PAYLOAD_SIZE; i++)
		payload[i] = (unsigned char)(i * 7 + i / 251);
	snprintf(root, sizeof(root), "%s/root", tmpdir);
	mkdir(root, 0755);
	snprintf(path, sizeof(path), "%s/v2", root);
	mkdir(path, 0755);
	write_file("payload", payload, PAYLOAD_SIZE);
	write_file("v2/payload", payload, PAYLOAD_SIZE);
	write_file("small.txt", "hello\n", 6);
	write_file("../secret", "secret\n", 7);
	snprintf(path, sizeof(path), "%s/out", root);
	snprintf(target, sizeof(target), "%s/secret", tmpdir);
	assert_int_equal(symlink(target, path), 0);
	snprintf(path, sizeof(path), "%s/up", root);
	assert_int_equal(symlink("../secret", path), 0);
	snprintf(path, sizeof(path), "%s/inside", root);
	assert_int_equal(symlink("v2/payload", path), 0);
	snprintf(path, sizeof(path), "%s/fifo", root);
	assert_int_equal(mkfifo(path, 0644), 0);
}

int wire_setup(const char *name)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/%s.XXXXXX", name);
	if (!mkdtemp(tmpdir))
		return -1;
	make_tree();
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

int wire_cleanup(void)
{
	char cmd[128];

	curl_global_cleanup();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}
