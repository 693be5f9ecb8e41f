/* qemu/launch.h — a QEMU machine as the lab file describes it, and the exact
 * argv that starts it paused with its QMP and console sockets in the board's
 * run directory.
 *
 * qemu_config_parse() checks a power: mapping (driver: qemu) and keeps
 * borrowed pointers into the YAML tree plus a few strings it owns;
 * qemu_config_free() releases those. qemu_build_argv() returns a
 * NULL-terminated argv the caller frees with qemu_argv_free(). Relative paths
 * (binary with a '/', bios, kernel, initrd, dtb, drive files, pflash) are
 * taken from the directory of the lab file. */
#ifndef HILCTL_QEMU_LAUNCH_H
#define HILCTL_QEMU_LAUNCH_H

#include <stdbool.h>

#include "qemu/wlog.h"

struct cfg_node;

/* Files in the board's run directory. */
#define QEMU_QMP_SOCK "qmp.sock"
#define QEMU_CONSOLE_SOCK "console.sock"
#define QEMU_CONSOLE_LOG "console.log"
#define QEMU_PID_FILE "qemu.pid"
#define QEMU_STDERR_FILE "qemu.stderr"
/* The chardev that carries the first serial port (query-chardev label). */
#define QEMU_CONSOLE_ID "con0"
/* The default user-mode network backend: QMP set_link takes this name. */
#define QEMU_NETDEV_ID "net0"

enum qemu_accel { QEMU_ACCEL_AUTO, QEMU_ACCEL_TCG, QEMU_ACCEL_KVM };

struct qemu_config {
	char *base_dir;     /* owned: absolute directory of the lab file */
	const char *binary; /* as written; resolved in the argv */
	const char *machine, *cpu, *memory, *smp;
	enum qemu_accel accel;
	const char *bios, *kernel, *initrd, *dtb, *append;
	const struct cfg_node *drives, *pflash, *netdev; /* checked; formatted at launch */
	const char **args; /* owned array of borrowed strings, NULL-terminated, may be NULL */
	enum wlog_model loss_model;     /* this run's model (qemu/powerloss.h); QUIT when absent */
	enum wlog_model loss_model_lab; /* power_loss: as the lab file says */
	unsigned long long loss_seed;   /* power_loss.seed, mixed with each run's seed */
	unsigned loss_tear;             /* power_loss.tear: bytes a torn write tears at, 0 sector */
	enum wlog_fill loss_tear_fill;  /* power_loss.tear_fill: what the rest of it holds */
	/* Set by the power driver before each start, not from the lab file:
	 * the update server as the board is told to reach it
	 * (guest_host:guest_port) and where it listens on this host
	 * (host:host_port). A user network forwards exactly this to it
	 * (guestfwd through socat). guest_port 0: no server. */
	struct qemu_forward {
		char guest_host[64], host[64];
		unsigned guest_port, host_port;
	} fwd;
};

/* Parse and check the settings; errors print file:line:col. 0 or -EINVAL. */
int qemu_config_parse(struct qemu_config *qc, const struct cfg_node *settings);
void qemu_config_free(struct qemu_config *qc);

/* The argv for one start: board names the machine (-name), run_dir holds its
 * sockets, with_kvm adds "-accel kvm" before "-accel tcg" (QEMU falls back
 * to TCG by itself when KVM fails to initialise). 0 or -ENOMEM. */
int qemu_build_argv(const struct qemu_config *qc, const char *board, const char *run_dir,
                    bool with_kvm, char ***argv);
void qemu_argv_free(char **argv);

/* Drives with overlay: true run on a qcow2 overlay in the run directory,
 * RUN/overlay-<index in drives:>.qcow2 (malloc'd path), backed by the lab
 * file's image, so that the image itself is never written (qemu/overlay.h
 * makes them). With a power-loss model the overlay runs under blklogwrites,
 * which logs the guest's writes into RUN/wlog-<index>.log. */
bool qemu_drive_overlay(const struct cfg_node *drive);
char *qemu_overlay_path(const char *run_dir, int index);

/* For qemu/netdev.c: append ",key=value" (QEMU's escaping) to *text; a
 * mapping's options in order, skipping keys hilctl reads, paths resolved
 * under base_dir. 0 / NULL on -ENOMEM. */
int qemu_opt_append(char **text, const char *key, const char *value);
char *qemu_format_options(const struct cfg_node *map, const char *const skip[],
                          const char *const defaults[], const char *base_dir, bool drive);

/* The -qmp argument for run_dir, exactly as the argv carries it: a process
 * whose command line has it is this board's QEMU. Caller frees. */
char *qemu_qmp_arg(const char *run_dir);

/* Whether accel: auto should offer KVM: /dev/kvm opens, speaks API 12 and
 * creates a VM. Never trusted alone: QEMU still falls back to TCG. */
bool qemu_kvm_usable(void);

/* The directory of the lab file a node comes from, absolute where it
 * exists. Caller frees. */
char *qemu_lab_dir(const struct cfg_node *node);
/* A path from the lab file: absolute as is, else under base_dir. Caller frees. */
char *qemu_resolve_path(const char *base_dir, const char *path);

#endif
