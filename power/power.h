/* power/power.h — the seam every power driver fills: switch one board's power
 * and, where the hardware can tell, read it back.
 *
 * A struct power is owned by its caller; power_open() fills it from the lab
 * file's power: mapping and power_close() releases what the driver holds.
 * Drivers return 0 or a negative errno and print one error line that names
 * the board and what to do (hil_error / cfg_error). */
#ifndef HILCTL_POWER_H
#define HILCTL_POWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cfg_node;
struct timeline;

enum power_state { POWER_OFF = 0, POWER_ON = 1, POWER_UNKNOWN = 2 };
enum power_snapshot_op { POWER_SNAPSHOT_SAVE, POWER_SNAPSHOT_RESTORE };

/* The state outlives this process (hilctl power on from a shell): a QEMU
 * machine is detached instead of dying with hilctl. */
#define POWER_F_PERSIST 0x1

struct power;

struct power_ops {
	const char *name; /* as written in the lab file's power.driver */
	/* Check settings as open() would, without opening anything (no
	 * device, socket or process): run for every board when the lab file
	 * is loaded, so a typo fails before anything is powered. board names
	 * the board in messages. */
	int (*check)(const struct cfg_node *settings, const char *board);
	/* Parse and check settings; open the device. */
	int (*open)(struct power *p, const struct cfg_node *settings);
	int (*set)(struct power *p, bool on);
	int (*get)(struct power *p, enum power_state *out); /* POWER_UNKNOWN is valid */
	/* Optional: called after power on once the console is connected (QEMU
	 * starts paused so that no boot output is lost, and resumes here). */
	int (*started)(struct power *p);
	void (*close)(struct power *p);
	/* Optional: before each run of a campaign, with power off. QEMU
	 * recreates its copy-on-write overlays so every run starts from the
	 * base image; a real board has nothing to do here (reflashing is a
	 * scenario step). */
	int (*prepare)(struct power *p);
	/* Optional: a machine that owns its network link too (QEMU set_link). */
	int (*link)(struct power *p, bool up);
	/* Optional: machine snapshots (QEMU savevm/loadvm). SAVE: the running
	 * machine's whole state under key; it runs on. RESTORE, with power
	 * off: the next power on resumes key's state instead of booting;
	 * 1 done, 0 nothing saved under key yet. */
	int (*snapshot)(struct power *p, enum power_snapshot_op op, const char *key);
	/* Optional: how many writes the board's disk has completed since the
	 * last power on (QEMU with a write log, qemu/powerloss.h). */
	int (*disk_writes)(struct power *p, uint64_t *writes);
	/* Optional: the disk the board booted at the last power on that had
	 * fault_disk set (QEMU: qemu/postfault.h). keep_disk writes it to out
	 * (1 kept, 0 no such power on since prepare); install_disk, after
	 * prepare, makes the next power on boot the kept disk at path. why
	 * says what failed (-errno). */
	int (*keep_disk)(struct power *p, const char *out, char *why, size_t why_len);
	int (*install_disk)(struct power *p, const char *path, char *why, size_t why_len);
};

struct power {
	const struct power_ops *ops;
	const char *board;   /* borrowed; board name for messages */
	const char *run_dir; /* borrowed; per-board state directory (sockets, pid files) */
	unsigned flags;      /* POWER_F_* */
	int64_t timeout_ns;  /* per operation; 0 means the driver's default */
	struct timeline *tl; /* may be NULL */
	void *priv;          /* the driver's own state */
	/* When the last set(off) took effect: a driver that knows better than
	 * "when set() returned" (QEMU: the moment QMP says the vCPUs stopped)
	 * sets it; power_set() fills it in otherwise. Cut latency is measured
	 * to this point. */
	int64_t t_stopped_ns;
	/* The seed of the run in progress (0 outside runs): a driver that draws
	 * random choices (QEMU's power-loss model) derives them from it, so a
	 * run replays with its seed. */
	unsigned long long seed;
	int64_t t_requested_ns; /* when power_set() called the driver */
	/* Set by the caller before prepare: this run cuts at disk writes, so
	 * the driver keeps a write log (QEMU: model "all" on a lab without
	 * power_loss:). */
	bool want_write_log;
	/* Set by the caller right before set(off), reset by the driver: the
	 * power went right after the disk's write number cut_after_write
	 * (disk_writes' count): the disk the next power on finds holds no
	 * later write. 0: the cut is now. */
	uint64_t cut_after_write;
	/* Set by the caller before the power on that follows a fault's cut,
	 * reset by the driver: the disk that power on boots is the run's
	 * post-fault disk, for keep_disk. */
	bool fault_disk;
	/* Optional, set by the caller around set(off): an fd (the console) to
	 * keep drained while the driver waits on the machine, and how to read
	 * it without waiting (<0: stop watching). QEMU's serial output blocks
	 * QEMU when nobody reads it, and with it the power cut. */
	int drain_fd;
	int (*drain)(void *arg);
	void *drain_arg;
	/* Set by the caller before power on: the one service of this host the
	 * board may reach, the update server, as the board is told to reach it
	 * (guest_host:guest_port, vars: server_host) and where it listens here
	 * (host:host_port). A driver whose machine has a network of its own
	 * (QEMU user networking, restricted by default) forwards exactly this;
	 * others ignore it. guest_port 0: no server. */
	struct {
		char guest_host[64], host[64];
		unsigned guest_port, host_port;
	} server;
};

const struct power_ops *power_find(const char *name);
/* "gpio, ftdi, qemu, pdudaemon, command" for error messages. */
const char *power_driver_list(void);

/* Check a power: mapping (or a network: mapping that names a power
 * driver) without touching hardware: driver name, timeout:, and the
 * driver's own check. Prints one error with file:line:col. */
int power_check(const struct cfg_node *power_node, const char *board);
/* Open from a power: mapping (which has "driver:"). */
int power_open(struct power *p, const char *board, const char *run_dir,
               const struct cfg_node *power_node, unsigned flags);
/* Switch and log "power on|off" on the timeline. */
int power_set(struct power *p, bool on);
int power_get(struct power *p, enum power_state *out);
int power_started(struct power *p);
int power_prepare(struct power *p);
/* ops->snapshot, or -EOPNOTSUPP when the driver has none. */
int power_snapshot(struct power *p, enum power_snapshot_op op, const char *key);
/* ops->disk_writes, or -EOPNOTSUPP when the driver has none. */
int power_disk_writes(struct power *p, uint64_t *writes);
/* ops->keep_disk / ops->install_disk, or -EOPNOTSUPP when the driver has none. */
int power_keep_disk(struct power *p, const char *out, char *why, size_t why_len);
int power_install_disk(struct power *p, const char *path, char *why, size_t why_len);
void power_close(struct power *p);
const char *power_state_name(enum power_state s);

extern const struct power_ops power_gpio_ops, power_ftdi_ops, power_qemu_ops, power_pdudaemon_ops,
    power_command_ops;

#endif
