/* power/pdudaemon.c — switch a board's outlet through pdudaemon's HTTP API,
 * as LAVA and labgrid labs run it:
 *
 *   GET http://HOST:16421/power/control/on?hostname=PDU&port=OUTLET
 *
 * pdudaemon (0.0.8, Debian 12) runs the PDU job before it answers: 200 "OK -
 * accepted request" once the job ran, 500 "Invalid request" for a PDU name it
 * does not know or a malformed query. It never says whether an outlet is on,
 * so status is always POWER_UNKNOWN. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "lib/cfg.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "power/power.h"

#define PDU_DEFAULT_PORT 16421
/* pdudaemon serialises the jobs of one PDU, and a telnet or SNMP PDU takes a
 * few seconds per job: a request may queue behind other boards' jobs. */
#define PDU_DEFAULT_TIMEOUT_NS (20 * NS_PER_S)
#define PDU_CONNECT_TIMEOUT_MS 5000L
#define PDU_BODY_MAX 256

struct pdu {
	char *base_url; /* scheme://host:port[/prefix], no trailing slash */
	char *pdu_name; /* pdudaemon's "hostname": the PDU's name in its config */
	long long outlet;
};

/* The start of the answer, for the error message; the rest is dropped. */
struct pdu_body {
	char text[PDU_BODY_MAX];
	size_t len;
};

static size_t pdu_body_write(char *data, size_t size, size_t nmemb, void *user)
{
	struct pdu_body *body = user;
	size_t n = size * nmemb, room = sizeof(body->text) - 1 - body->len;

	memcpy(body->text + body->len, data, n < room ? n : room);
	body->len += n < room ? n : room;
	body->text[body->len] = '\0';
	return n;
}

static bool has_http_scheme(const char *url)
{
	return strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
}

/* url: wins; otherwise host: ("name", "name:port" or "[v6]:port"). */
static int pdu_parse_endpoint(struct pdu *pdu, const struct cfg_node *settings)
{
	const char *url = NULL, *host = NULL;
	size_t len;

	if (cfg_get_str(settings, "url", false, &url) < 0 ||
	    cfg_get_str(settings, "host", false, &host) < 0)
		return -EINVAL;
	if (url && host) {
		cfg_error(cfg_get(settings, "host"), "give either url: or host:, not both");
		return -EINVAL;
	}
	if (!url && !host) {
		cfg_error(settings, "needs url: (http://HOST:16421) or host: (HOST or HOST:PORT)");
		return -EINVAL;
	}
	if (url) {
		if (!has_http_scheme(url)) {
			cfg_error(cfg_get(settings, "url"),
			          "\"%s\" must start with http:// or https://", url);
			return -EINVAL;
		}
		pdu->base_url = strdup(url);
	} else {
		/* IPv6 addresses come in brackets: "[::1]:16421". */
		bool has_port =
		    host[0] == '[' ? strstr(host, "]:") != NULL : strchr(host, ':') != NULL;

		if (!host[0] || strchr(host, '/')) {
			cfg_error(cfg_get(settings, "host"),
			          "\"%s\" must be a host name or address, optionally with :PORT",
			          host);
			return -EINVAL;
		}
		if (has_port ? asprintf(&pdu->base_url, "http://%s", host) < 0
		             : asprintf(&pdu->base_url, "http://%s:%d", host, PDU_DEFAULT_PORT) < 0)
			pdu->base_url = NULL;
	}
	if (!pdu->base_url)
		return -ENOMEM;
	len = strlen(pdu->base_url);
	while (len > 0 && pdu->base_url[len - 1] == '/')
		pdu->base_url[--len] = '\0';
	return 0;
}

static void pdu_free(struct pdu *pdu)
{
	if (!pdu)
		return;
	free(pdu->base_url);
	free(pdu->pdu_name);
	free(pdu);
}

/* Parse the settings into a new struct pdu (*out), or print why not. */
static int pdu_parse(const struct cfg_node *settings, struct pdu **out)
{
	static const char *const keys[] = {"driver", "type",     "timeout", "url",
	                                   "host",   "hostname", "port",    NULL};
	struct pdu *pdu;
	const char *name = NULL;
	int rc;

	if (cfg_check_keys(settings, keys) < 0)
		return -EINVAL;
	pdu = calloc(1, sizeof(*pdu));
	if (!pdu)
		return -ENOMEM;
	rc = pdu_parse_endpoint(pdu, settings);
	if (rc == 0)
		rc = cfg_get_str(settings, "hostname", true, &name);
	if (rc == 0 && !name[0]) {
		cfg_error(cfg_get(settings, "hostname"),
		          "must name the PDU as pdudaemon's config lists it under \"pdus\"");
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = cfg_get_int(settings, "port", true, 0, 1000000, &pdu->outlet);
	if (rc == 0 && !(pdu->pdu_name = strdup(name)))
		rc = -ENOMEM;
	if (rc < 0) {
		pdu_free(pdu);
		return rc;
	}
	*out = pdu;
	return 0;
}

/* The settings only: no request reaches pdudaemon. */
static int pdu_check(const struct cfg_node *settings, const char *board)
{
	struct pdu *pdu = NULL;
	int rc = pdu_parse(settings, &pdu);

	pdu_free(pdu);
	return rc;
}

static int pdu_open(struct power *p, const struct cfg_node *settings)
{
	struct pdu *pdu = NULL;
	int rc = pdu_parse(settings, &pdu);

	if (rc < 0)
		return rc;
	if (p->timeout_ns <= 0)
		p->timeout_ns = PDU_DEFAULT_TIMEOUT_NS;
	p->priv = pdu;
	return 0;
}

/* GET URL for one action ("on", "off"). Caller frees. */
static char *pdu_request_url(CURL *curl, const struct pdu *pdu, const char *action)
{
	char *name = curl_easy_escape(curl, pdu->pdu_name, 0), *url = NULL;

	if (!name)
		return NULL;
	if (asprintf(&url, "%s/power/control/%s?hostname=%s&port=%lld", pdu->base_url, action, name,
	             pdu->outlet) < 0)
		url = NULL;
	curl_free(name);
	return url;
}

static void pdu_setup(CURL *curl, const char *url, int64_t timeout_ns, struct pdu_body *body)
{
	long timeout_ms = (long)((timeout_ns + NS_PER_MS - 1) / NS_PER_MS);

	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
	                 timeout_ms < PDU_CONNECT_TIMEOUT_MS ? timeout_ms : PDU_CONNECT_TIMEOUT_MS);
	/* No SIGALRM for DNS timeouts: hilctl owns its signals. */
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	/* pdudaemon sits in the lab's network: a desk's http_proxy must not
	 * carry power requests elsewhere. */
	curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "hilctl/" HILCTL_VERSION);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, pdu_body_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
}

/* The answer's first line, made printable, for the error message. */
static const char *pdu_body_line(struct pdu_body *body)
{
	char *nl = strpbrk(body->text, "\r\n");

	if (nl)
		*nl = '\0';
	for (char *c = body->text; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
	return body->text[0] ? body->text : "empty answer";
}

static int pdu_report_transfer(struct power *p, const char *url, CURLcode res, const char *curl_msg)
{
	const struct pdu *pdu = p->priv;
	const char *detail = curl_msg[0] ? curl_msg : curl_easy_strerror(res);

	switch (res) {
	case CURLE_OPERATION_TIMEDOUT:
		hil_error("board \"%s\": pdudaemon did not answer GET %s within %lld ms (%s); "
		          "the PDU may still switch: is pdudaemon stuck on PDU \"%s\"?",
		          p->board, url, (long long)(p->timeout_ns / NS_PER_MS), detail,
		          pdu->pdu_name);
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		hil_error("board \"%s\": cannot reach pdudaemon for GET %s: %s (is pdudaemon "
		          "running with its http listener there?)",
		          p->board, url, detail);
		return res == CURLE_COULDNT_CONNECT ? -ECONNREFUSED : -EHOSTUNREACH;
	default:
		hil_error("board \"%s\": GET %s failed: %s (is pdudaemon's \"listener\" \"http\"?)",
		          p->board, url, detail);
		return -EIO;
	}
}

static int pdu_request(struct power *p, const char *action)
{
	const struct pdu *pdu = p->priv;
	char curl_msg[CURL_ERROR_SIZE] = "";
	struct pdu_body body = {.len = 0};
	long status = 0;
	CURLcode res;
	char *url;
	CURL *curl;
	int rc = 0;

	curl = curl_easy_init();
	if (!curl) {
		hil_error("board \"%s\": cannot start an HTTP request (libcurl out of memory)",
		          p->board);
		return -ENOMEM;
	}
	url = pdu_request_url(curl, pdu, action);
	if (!url) {
		curl_easy_cleanup(curl);
		return -ENOMEM;
	}
	pdu_setup(curl, url, p->timeout_ns, &body);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_msg);
	res = curl_easy_perform(curl);
	if (res != CURLE_OK)
		rc = pdu_report_transfer(p, url, res, curl_msg);
	else if (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
	         status != 200) {
		hil_error("board \"%s\": pdudaemon answered GET %s with status %ld (%s): is PDU "
		          "\"%s\" in pdudaemon's config under \"pdus\"?",
		          p->board, url, status, pdu_body_line(&body), pdu->pdu_name);
		rc = -EIO;
	}
	free(url);
	curl_easy_cleanup(curl);
	return rc;
}

static int pdu_set(struct power *p, bool on)
{
	return pdu_request(p, on ? "on" : "off");
}

/* pdudaemon's API has no query: whether an outlet is on cannot be told. */
static int pdu_get(struct power *p, enum power_state *out)
{
	*out = POWER_UNKNOWN;
	return 0;
}

static void pdu_close(struct power *p)
{
	pdu_free(p->priv);
	p->priv = NULL;
}

const struct power_ops power_pdudaemon_ops = {
    .name = "pdudaemon",
    .check = pdu_check,
    .open = pdu_open,
    .set = pdu_set,
    .get = pdu_get,
    .close = pdu_close,
};
