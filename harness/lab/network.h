/* harness/lab/network.h — a board's network control, from the lab file's
 * network: mapping. "driver: qemu" cuts the QEMU machine's own link
 * (set_link through the power driver); any power driver name (a relay on
 * the switch port's power, a command such as an ip link or switch-port
 * command on the lab host) is used as a switch: on = link up, off = down.
 *
 * network_open() fills a caller-owned struct; network_close() releases it. */
#ifndef HILCTL_NETWORK_H
#define HILCTL_NETWORK_H

#include <stdbool.h>

#include "power/power.h"

struct board;

struct network {
	struct board *b;
	bool via_power; /* driver: qemu: the board's power driver does it */
	bool open;
	struct power sw;
};

int network_open(struct network *n, struct board *b);
int network_set(struct network *n, bool up);
void network_close(struct network *n);

#endif
