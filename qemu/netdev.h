/* qemu/netdev.h — a QEMU board's network card and user network (netdev:
 * in the lab file). netdev: user, the default, is restricted: QEMU drops
 * every connection the guest opens but to its forwards, which are the
 * update server (qemu_config.fwd, relayed by socat) and the lab file's own
 * guestfwd/hostfwd. docs/power-qemu.md, "The board's network". */
#ifndef HILCTL_QEMU_NETDEV_H
#define HILCTL_QEMU_NETDEV_H

#include <stdbool.h>
#include <stddef.h>

struct cfg_node;
struct qemu_config;

/* Check the netdev: setting (user, none, or a mapping of -netdev options
 * with type, id, device, mac, restrict: on|off). Errors print file:line. */
int qemu_netdev_check(const struct cfg_node *netdev);

/* The id of the network backend (QMP set_link takes it): "net0" unless the
 * lab file names another; NULL with netdev: none. */
const char *qemu_netdev_id(const struct qemu_config *qc);

/* The -netdev and -device values (malloc'd; both NULL with netdev: none).
 * run_dir holds the relay's log. 0 or -ENOMEM. */
int qemu_netdev_args(const struct qemu_config *qc, const char *run_dir, char **netdev,
                     char **device);

/* Whether the board's network is QEMU user networking with restrict=on:
 * netdev: user (the default) unless the mapping says restrict: off. */
bool qemu_netdev_restricted(const struct qemu_config *qc);

/* Whether a board on this network reaches this host's update server when
 * it is told guest_addr (vars: server_host): 0, or -EINVAL with the reason
 * and the fix in why. A restricted user network reaches only forwarded
 * addresses, and QEMU forwards only an address of the guest's own network
 * (10.0.2.0/24) other than its host (.2) and DNS (.3) addresses. */
int qemu_forward_check(const struct qemu_config *qc, const char *guest_addr, char *why,
                       size_t why_size);

#endif
