/* qemu/netdev.c — the board's network card and QEMU user network: the
 * netdev: settings checked, the -netdev and -device values, and what a
 * restricted user network (the default) reaches: the update server through
 * one guestfwd, and the lab file's own forwards. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cfg.h"
#include "qemu/launch.h"
#include "qemu/netdev.h"

int qemu_netdev_check(const struct cfg_node *netdev)
{
	if (!netdev)
		return 0;
	if (netdev->type == CFG_SCALAR) {
		if (strcmp(netdev->value, "user") == 0 || strcmp(netdev->value, "none") == 0)
			return 0;
		cfg_error(netdev, "\"%s\" is not user, none or a mapping of -netdev options",
		          netdev->value);
		return -EINVAL;
	}
	if (cfg_expect_type(netdev, CFG_MAP) < 0)
		return -EINVAL;
	for (const char *const *k =
	         (const char *const[]){"type", "id", "device", "mac", "restrict", NULL};
	     *k; k++) {
		const struct cfg_node *n = cfg_get(netdev, *k);
		if (n && (n->type != CFG_SCALAR || !n->value[0])) {
			cfg_error(n, "must be a single value");
			return -EINVAL;
		}
	}
	const struct cfg_node *r = cfg_get(netdev, "restrict");
	if (r && strcmp(r->value, "on") && strcmp(r->value, "off")) {
		cfg_error(r,
		          "\"%s\" is not on or off (on, the default for type user: the board "
		          "reaches only the update server and the lab's forwards)",
		          r->value);
		return -EINVAL;
	}
	return 0;
}

const char *qemu_netdev_id(const struct qemu_config *qc)
{
	const char *id = QEMU_NETDEV_ID;

	if (qc->netdev && qc->netdev->type == CFG_SCALAR && strcmp(qc->netdev->value, "none") == 0)
		return NULL;
	if (qc->netdev && qc->netdev->type == CFG_MAP)
		cfg_get_str(qc->netdev, "id", false, &id);
	return id;
}

static bool netdev_is_user(const struct qemu_config *qc)
{
	const char *type = "user";

	if (qc->netdev && qc->netdev->type == CFG_SCALAR)
		return strcmp(qc->netdev->value, "user") == 0;
	if (qc->netdev)
		cfg_get_str(qc->netdev, "type", false, &type);
	return strcmp(type, "user") == 0;
}

bool qemu_netdev_restricted(const struct qemu_config *qc)
{
	const char *r = NULL;

	if (!netdev_is_user(qc))
		return false;
	if (qc->netdev && qc->netdev->type == CFG_MAP)
		cfg_get_str(qc->netdev, "restrict", false, &r);
	return !r || strcmp(r, "off") != 0;
}

/* The user network's addresses in host order: net: A.B.C.D/N of the lab
 * file or QEMU's 10.0.2.0/24, its host (.2 or host:) and DNS (.3 or dns:).
 * False when the lab file writes them in a form not read here. */
static bool user_net(const struct qemu_config *qc, uint32_t *net, uint32_t *mask, uint32_t *host,
                     uint32_t *dns)
{
	const char *text = "10.0.2.0/24", *h = NULL, *d = NULL;
	char addr[INET_ADDRSTRLEN];
	struct in_addr in;
	const char *slash;
	char *end;
	long bits;

	if (qc->netdev && qc->netdev->type == CFG_MAP) {
		cfg_get_str(qc->netdev, "net", false, &text);
		cfg_get_str(qc->netdev, "host", false, &h);
		cfg_get_str(qc->netdev, "dns", false, &d);
	}
	slash = strchr(text, '/');
	if (!slash || (size_t)(slash - text) >= sizeof(addr))
		return false;
	memcpy(addr, text, (size_t)(slash - text));
	addr[slash - text] = '\0';
	bits = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || bits < 1 || bits > 30 || inet_pton(AF_INET, addr, &in) != 1)
		return false;
	*mask = ~0u << (32 - bits);
	*net = ntohl(in.s_addr) & *mask;
	*host = *net | 2;
	*dns = *net | 3;
	if (h && inet_pton(AF_INET, h, &in) != 1)
		return false;
	if (h)
		*host = ntohl(in.s_addr);
	if (d && inet_pton(AF_INET, d, &in) != 1)
		return false;
	if (d)
		*dns = ntohl(in.s_addr);
	return true;
}

/* 1: QEMU can forward guest connections to addr; 0: it cannot; -1: the
 * network is written in a form not read here (QEMU decides). */
static int forwardable(const struct qemu_config *qc, const char *addr)
{
	uint32_t net, mask, host, dns, a;
	struct in_addr in;

	if (!user_net(qc, &net, &mask, &host, &dns))
		return -1;
	if (inet_pton(AF_INET, addr, &in) != 1)
		return 0;
	a = ntohl(in.s_addr);
	return (a & mask) == net && a != host && a != dns;
}

int qemu_forward_check(const struct qemu_config *qc, const char *guest_addr, char *why,
                       size_t why_size)
{
	if (!qemu_netdev_restricted(qc) || forwardable(qc, guest_addr) != 0)
		return 0;
	snprintf(why, why_size,
	         "\"%s\" is not reachable from the board's restricted user network (the "
	         "default: the board reaches only the update server and the lab's forwards, "
	         "and QEMU forwards only an address of the board's network other than its "
	         "host and DNS addresses): use server_host: 10.0.2.100, or power.netdev: "
	         "{restrict: off} (docs/power-qemu.md says why not)",
	         guest_addr);
	return -EINVAL;
}

/* For g_shell_parse_argv (libslirp splits a guestfwd cmd: that way, no
 * shell runs): a word in single quotes. */
static char *shell_quote(const char *s)
{
	size_t n = 3;
	char *out, *o;

	for (const char *p = s; *p; p++)
		n += *p == '\'' ? 4 : 1;
	out = o = malloc(n);
	if (!out)
		return NULL;
	*o++ = '\'';
	for (const char *p = s; *p; p++) {
		if (*p == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else {
			*o++ = *p;
		}
	}
	*o++ = '\'';
	*o = '\0';
	return out;
}

/* restrict=on, no IPv6 (the board would reach the host's ::1 through it),
 * and one forward: the board's connections to the update server's address
 * as it is told reach the server through socat, which QEMU runs per
 * connection with the connection on its stdin and stdout. */
static int append_user_net(char **text, const struct qemu_config *qc, const char *run_dir)
{
	const struct qemu_forward *f = &qc->fwd;
	bool in_map = qc->netdev && qc->netdev->type == CFG_MAP;
	char *log = NULL, *fwd = NULL, *qlog;
	int rc = 0;

	if (qemu_netdev_restricted(qc) && !(in_map && cfg_get(qc->netdev, "restrict")))
		rc = qemu_opt_append(text, "restrict", "on");
	if (rc == 0 && qemu_netdev_restricted(qc) && !(in_map && cfg_get(qc->netdev, "ipv6")))
		rc = qemu_opt_append(text, "ipv6", "off");
	if (rc < 0 || !f->guest_port || forwardable(qc, f->guest_host) != 1)
		return rc;
	if (asprintf(&log, "%s/relay.log", run_dir) < 0)
		return -ENOMEM;
	qlog = shell_quote(log);
	if (qlog &&
	    asprintf(&fwd, "tcp:%s:%u-cmd:socat -T 600 -lf %s STDIO %s%s%s:%u", f->guest_host,
	             f->guest_port, qlog, strchr(f->host, ':') ? "TCP6:[" : "TCP4:", f->host,
	             strchr(f->host, ':') ? "]" : "", f->host_port) < 0)
		fwd = NULL;
	rc = fwd ? qemu_opt_append(text, "guestfwd", fwd) : -ENOMEM;
	free(log);
	free(qlog);
	free(fwd);
	return rc;
}

/* Default: user-mode networking (no host privileges, nothing listening) on a
 * virtio-net PCI card, restricted to the update server and the lab file's
 * own forwards; "none" leaves the machine without a NIC. */
int qemu_netdev_args(const struct qemu_config *qc, const char *run_dir, char **netdev,
                     char **device_arg)
{
	static const char *const skip[] = {"type", "id", "device", "mac", NULL};
	const struct cfg_node *n = qc->netdev;
	const char *type = "user", *id = qemu_netdev_id(qc), *device = "virtio-net-pci",
	           *mac = NULL;
	char *extra = NULL;

	*netdev = *device_arg = NULL;
	if (!id)
		return 0;
	if (n && n->type == CFG_MAP) {
		cfg_get_str(n, "type", false, &type);
		cfg_get_str(n, "device", false, &device);
		cfg_get_str(n, "mac", false, &mac);
		extra = qemu_format_options(n, skip, NULL, qc->base_dir, false);
	} else {
		extra = strdup("");
	}
	if (extra && netdev_is_user(qc) && append_user_net(&extra, qc, run_dir) < 0) {
		free(extra);
		extra = NULL;
	}
	if (!extra || asprintf(netdev, "%s,id=%s%s%s", type, id, extra[0] ? "," : "", extra) < 0)
		*netdev = NULL;
	if (*netdev && asprintf(device_arg, "%s,netdev=%s%s%s", device, id, mac ? ",mac=" : "",
	                        mac ? mac : "") < 0)
		*device_arg = NULL;
	free(extra);
	if (!*netdev || !*device_arg) {
		free(*netdev);
		*netdev = NULL;
		return -ENOMEM;
	}
	return 0;
}
