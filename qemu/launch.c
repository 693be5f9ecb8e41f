/* qemu/launch.c — check a qemu power: mapping and build the argv that starts
 * the machine paused (-S), with QMP and the serial console on unix sockets in
 * the board's run directory. Nothing here assumes an architecture: binary,
 * machine, firmware and drives all come from the lab file. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lib/cfg.h"
#include "qemu/launch.h"
#include "qemu/netdev.h"
#include "qemu/powerloss.h"

static const char *const config_keys[] = {"driver", "timeout", "binary",     "machine", "cpu",
                                          "memory", "smp",     "accel",      "bios",    "kernel",
                                          "initrd", "dtb",     "append",     "drives",  "pflash",
                                          "netdev", "args",    "power_loss", NULL};
static const char *const accel_words[] = {"auto", "tcg", "kvm", NULL};
static const char *const drive_kinds[] = {"drive", "blockdev", NULL};

char *qemu_resolve_path(const char *base_dir, const char *path)
{
	char *out;

	if (path[0] == '/' || !base_dir || !base_dir[0])
		return strdup(path);
	if (asprintf(&out, "%s/%s", base_dir, path) < 0)
		return NULL;
	return out;
}

/* The lab file's directory, absolute, so that a QEMU left running does not
 * depend on the directory hilctl was started from. */
char *qemu_lab_dir(const struct cfg_node *settings)
{
	char *copy = strdup(settings->file ? settings->file : "."), *slash, *abs;

	if (!copy)
		return NULL;
	slash = strrchr(copy, '/');
	if (!slash) {
		free(copy);
		copy = strdup(".");
	} else if (slash == copy) {
		slash[1] = '\0';
	} else {
		*slash = '\0';
	}
	abs = copy ? realpath(copy, NULL) : NULL;
	if (abs) {
		free(copy);
		return abs;
	}
	return copy;
}

/* A drive's options: a mapping of scalars (or lists of scalars, repeated). */
static int check_options(const struct cfg_node *map, bool allow_kind)
{
	int kind;

	if (cfg_expect_type(map, CFG_MAP) < 0)
		return -EINVAL;
	if (cfg_count(map) == 0) {
		cfg_error(map, "is empty; give QEMU's options (file:, format:, if: ...)");
		return -EINVAL;
	}
	for (const struct cfg_node *o = map->child; o; o = o->next) {
		if (o->type == CFG_MAP) {
			cfg_error(o, "must be a value or a list of values");
			return -EINVAL;
		}
		for (const struct cfg_node *v = o->child; v; v = v->next)
			if (v->type != CFG_SCALAR) {
				cfg_error(v, "must be a single value");
				return -EINVAL;
			}
	}
	if (cfg_get(map, "kind") && !allow_kind) {
		cfg_error(cfg_get(map, "kind"), "is only known in drives:");
		return -EINVAL;
	}
	return allow_kind ? cfg_get_enum(map, "kind", false, drive_kinds, &kind) : 0;
}

/* overlay: true — the drive runs on a qcow2 overlay of its file. */
static int check_overlay(const struct cfg_node *drive)
{
	const struct cfg_node *kind = cfg_get(drive, "kind"), *file = cfg_get(drive, "file");
	bool overlay = false;

	if (cfg_get_bool(drive, "overlay", false, &overlay) < 0)
		return -EINVAL;
	if (!overlay)
		return 0;
	if (kind && strcmp(kind->value, "drive") != 0) {
		cfg_error(cfg_get(drive, "overlay"), "works on -drive (kind: drive) only");
		return -EINVAL;
	}
	if (!file || file->type != CFG_SCALAR || !file->value[0]) {
		cfg_error(cfg_get(drive, "overlay"), "needs file: (the base image)");
		return -EINVAL;
	}
	return 0;
}

static int check_list(const struct cfg_node *list, bool drives)
{
	if (!list)
		return 0;
	if (cfg_expect_type(list, CFG_SEQ) < 0)
		return -EINVAL;
	for (const struct cfg_node *item = list->child; item; item = item->next) {
		if (!drives && item->type == CFG_SCALAR && item->value[0])
			continue; /* pflash: a bare image path */
		if (check_options(item, drives) < 0 || (drives && check_overlay(item) < 0))
			return -EINVAL;
	}
	return 0;
}

int qemu_config_parse(struct qemu_config *qc, const struct cfg_node *settings)
{
	const struct {
		const char *key;
		const char **out;
	} strs[] = {
	    {"machine", &qc->machine}, {"cpu", &qc->cpu},   {"memory", &qc->memory},
	    {"smp", &qc->smp},         {"bios", &qc->bios}, {"kernel", &qc->kernel},
	    {"initrd", &qc->initrd},   {"dtb", &qc->dtb},   {"append", &qc->append},
	};
	int accel = QEMU_ACCEL_AUTO;

	memset(qc, 0, sizeof(*qc));
	if (cfg_check_keys(settings, config_keys) < 0)
		return -EINVAL;
	if (cfg_get_str(settings, "binary", true, &qc->binary) < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (cfg_get_str(settings, strs[i].key, false, strs[i].out) < 0)
			goto fail;
	if (cfg_get_enum(settings, "accel", false, accel_words, &accel) < 0)
		goto fail;
	qc->accel = (enum qemu_accel)accel;
	qc->drives = cfg_get(settings, "drives");
	qc->pflash = cfg_get(settings, "pflash");
	qc->netdev = cfg_get(settings, "netdev");
	if (check_list(qc->drives, true) < 0 || check_list(qc->pflash, false) < 0 ||
	    (qc->netdev && qc->netdev->type != CFG_SCALAR &&
	     check_options(qc->netdev, false) < 0) ||
	    qemu_netdev_check(qc->netdev) < 0)
		goto fail;
	if (cfg_get_strv(settings, "args", false, &qc->args) < 0)
		goto fail;
	if (qemu_power_loss_parse(qc, settings) < 0)
		goto fail;
	qc->base_dir = qemu_lab_dir(settings);
	if (!qc->base_dir) {
		qemu_config_free(qc);
		return -ENOMEM;
	}
	return 0;
fail:
	qemu_config_free(qc);
	return -EINVAL;
}

void qemu_config_free(struct qemu_config *qc)
{
	free(qc->base_dir);
	free(qc->args);
	qc->base_dir = NULL;
	qc->args = NULL;
}

/* ---- argv building ---- */

struct argv_buf {
	char **v;
	size_t n, cap;
	int err;
};

static void push_owned(struct argv_buf *a, char *s)
{
	if (!s)
		a->err = -ENOMEM;
	if (a->err) {
		free(s);
		return;
	}
	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 32;
		char **v = realloc(a->v, cap * sizeof(*v));
		if (!v) {
			free(s);
			a->err = -ENOMEM;
			return;
		}
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

static void push(struct argv_buf *a, const char *s)
{
	push_owned(a, strdup(s));
}

static void pushf(struct argv_buf *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pushf(struct argv_buf *a, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	push_owned(a, s);
}

/* QEMU's option syntax: a comma inside a value is written twice. */
static char *opt_escape(const char *value)
{
	size_t n = strlen(value) + 1;
	char *out, *o;

	for (const char *p = value; *p; p++)
		n += *p == ',';
	out = o = malloc(n);
	if (!out)
		return NULL;
	for (const char *p = value; *p; p++) {
		*o++ = *p;
		if (*p == ',')
			*o++ = ',';
	}
	*o = '\0';
	return out;
}

/* Append ",key=value" (or "key=value" when *text is empty) to *text. */
int qemu_opt_append(char **text, const char *key, const char *value)
{
	char *esc = opt_escape(value), *joined;
	int n;

	if (!esc)
		return -ENOMEM;
	n = asprintf(&joined, "%s%s%s=%s", *text, (*text)[0] ? "," : "", key, esc);
	free(esc);
	if (n < 0)
		return -ENOMEM;
	free(*text);
	*text = joined;
	return 0;
}

static bool is_path_key(const char *key, bool drive)
{
	size_t len = strlen(key);

	return (drive && strcmp(key, "file") == 0) || strcmp(key, "filename") == 0 ||
	       (len > 9 && strcmp(key + len - 9, ".filename") == 0);
}

/* One option of a mapping; a list value repeats the key (hostfwd=...). */
static int opt_append_node(char **text, const struct cfg_node *o, const char *base_dir, bool drive)
{
	const struct cfg_node *v = o->type == CFG_SCALAR ? o : o->child;
	int rc = 0;

	for (; v && rc == 0; v = o->type == CFG_SCALAR ? NULL : v->next) {
		char *path =
		    is_path_key(o->key, drive) ? qemu_resolve_path(base_dir, v->value) : NULL;
		if (is_path_key(o->key, drive) && !path)
			return -ENOMEM;
		rc = qemu_opt_append(text, o->key, path ? path : v->value);
		free(path);
	}
	return rc;
}

/* The options of a mapping in the lab file's order, skipping the keys
 * hilctl itself interprets; defaults first for keys the mapping lacks. */
char *qemu_format_options(const struct cfg_node *map, const char *const skip[],
                          const char *const defaults[], const char *base_dir, bool drive)
{
	char *text = strdup("");
	int rc = 0;

	for (int i = 0; defaults && defaults[i] && text && rc == 0; i += 2)
		if (!cfg_get(map, defaults[i]))
			rc = qemu_opt_append(&text, defaults[i], defaults[i + 1]);
	for (const struct cfg_node *o = map->child; o && text && rc == 0; o = o->next) {
		bool skipped = false;
		for (int i = 0; skip && skip[i]; i++)
			skipped |= strcmp(o->key, skip[i]) == 0;
		if (!skipped)
			rc = opt_append_node(&text, o, base_dir, drive);
	}
	if (rc < 0) {
		free(text);
		return NULL;
	}
	return text;
}

bool qemu_drive_overlay(const struct cfg_node *drive)
{
	bool overlay = false;

	cfg_get_bool(drive, "overlay", false, &overlay);
	return overlay;
}

char *qemu_overlay_path(const char *run_dir, int index)
{
	char *path;

	return asprintf(&path, "%s/overlay-%d.qcow2", run_dir, index) < 0 ? NULL : path;
}

/* The overlay under blklogwrites: the guest's writes and flushes go to the
 * overlay and into the log (sectors of 512 bytes, the superblock rewritten
 * after every entry, the log itself never fsync'ed: the host does not lose
 * power, and an fsync per guest write would cost more than the write). */
static int append_logged(char **text, const char *overlay, const char *log)
{
	const char *const fixed[] = {"driver",
	                             "blklogwrites",
	                             "file.driver",
	                             "qcow2",
	                             "file.file.driver",
	                             "file",
	                             "file.file.filename",
	                             overlay,
	                             "log.driver",
	                             "file",
	                             "log.filename",
	                             log,
	                             NULL};
	static const char *const tail[] = {"log.cache.no-flush",
	                                   "on",
	                                   "log-sector-size",
	                                   "512",
	                                   "log-super-update-interval",
	                                   "1",
	                                   NULL};
	int rc = 0;

	for (int i = 0; fixed[i] && rc == 0; i += 2)
		rc = qemu_opt_append(text, fixed[i], fixed[i + 1]);
	for (int i = 0; tail[i] && rc == 0; i += 2)
		rc = qemu_opt_append(text, tail[i], tail[i + 1]);
	return rc;
}

/* An overlay drive gets file=RUN/overlay-<index>.qcow2,format=qcow2 in place
 * of its own file and format (or that overlay under blklogwrites). */
static void push_drives(struct argv_buf *a, const struct qemu_config *qc, const char *run_dir)
{
	static const char *const skip[] = {"kind", "overlay", NULL};
	static const char *const skip_overlay[] = {"kind", "overlay", "file", "format", NULL};
	int index = 0;

	for (const struct cfg_node *d = qc->drives ? qc->drives->child : NULL; d;
	     d = d->next, index++) {
		const struct cfg_node *kind = cfg_get(d, "kind");
		bool blockdev = kind && strcmp(kind->value, "blockdev") == 0;
		bool overlay = qemu_drive_overlay(d);
		char *text = qemu_format_options(d, overlay ? skip_overlay : skip, NULL,
		                                 qc->base_dir, !blockdev);

		if (overlay) {
			char *path = qemu_overlay_path(run_dir, index);
			char *log = qemu_wlog_path(run_dir, index);
			int rc = text && path && log ? 0 : -ENOMEM;
			if (rc == 0 && qc->loss_model != WLOG_MODEL_QUIT)
				rc = append_logged(&text, path, log);
			else if (rc == 0 && (rc = qemu_opt_append(&text, "file", path)) == 0)
				rc = qemu_opt_append(&text, "format", "qcow2");
			if (rc < 0) {
				free(text);
				text = NULL;
			}
			free(path);
			free(log);
		}
		push(a, blockdev ? "-blockdev" : "-drive");
		push_owned(a, text); /* NULL: out of memory, noted in a->err */
	}
}

/* pflash: a path is unit <index>; a mapping gets if=pflash, format=raw and
 * unit=<index> unless it says otherwise (the aarch64 virt board takes its
 * U-Boot environment from unit 1 while -bios fills unit 0). */
static void push_pflash(struct argv_buf *a, const struct qemu_config *qc)
{
	int unit = 0;

	for (const struct cfg_node *f = qc->pflash ? qc->pflash->child : NULL; f;
	     f = f->next, unit++) {
		char unit_text[16];
		const char *const defaults[] = {"if",   "pflash",  "format", "raw",
		                                "unit", unit_text, NULL};

		snprintf(unit_text, sizeof(unit_text), "%d", unit);
		push(a, "-drive");
		if (f->type == CFG_SCALAR) {
			char *path = qemu_resolve_path(qc->base_dir, f->value);
			char *esc = path ? opt_escape(path) : NULL;
			pushf(a, "if=pflash,format=raw,unit=%d,file=%s", unit, esc ? esc : "");
			if (!esc)
				a->err = -ENOMEM;
			free(path);
			free(esc);
		} else {
			push_owned(a, qemu_format_options(f, NULL, defaults, qc->base_dir, true));
		}
	}
}

static void push_opt_path(struct argv_buf *a, const char *opt, const char *base_dir,
                          const char *path)
{
	if (!path)
		return;
	push(a, opt);
	push_owned(a, qemu_resolve_path(base_dir, path));
}

static void push_opt(struct argv_buf *a, const char *opt, const char *value)
{
	if (!value)
		return;
	push(a, opt);
	push(a, value);
}

char *qemu_qmp_arg(const char *run_dir)
{
	char *dir = opt_escape(run_dir), *arg = NULL;

	if (dir && asprintf(&arg, "unix:%s/" QEMU_QMP_SOCK ",server=on,wait=off", dir) < 0)
		arg = NULL;
	free(dir);
	return arg;
}

/* The fixed part: paused, no default devices, no display, QMP and the first
 * serial port on unix sockets that QEMU serves (wait=off: it does not block
 * for a client), console bytes also logged to a file. */
static void push_control(struct argv_buf *a, const char *run_dir)
{
	char *dir = opt_escape(run_dir);

	if (!dir) {
		a->err = -ENOMEM;
		return;
	}
	push(a, "-nodefaults");
	push(a, "-display");
	push(a, "none");
	push(a, "-S");
	push(a, "-qmp");
	push_owned(a, qemu_qmp_arg(run_dir));
	push(a, "-chardev");
	pushf(a,
	      "socket,id=" QEMU_CONSOLE_ID ",path=%s/" QEMU_CONSOLE_SOCK
	      ",server=on,wait=off,logfile=%s/" QEMU_CONSOLE_LOG,
	      dir, dir);
	push(a, "-serial");
	push(a, "chardev:" QEMU_CONSOLE_ID);
	push(a, "-pidfile");
	pushf(a, "%s/" QEMU_PID_FILE, run_dir);
	free(dir);
}

int qemu_build_argv(const struct qemu_config *qc, const char *board, const char *run_dir,
                    bool with_kvm, char ***argv)
{
	struct argv_buf a = {0};

	*argv = NULL;
	if (strchr(qc->binary, '/'))
		push_owned(&a, qemu_resolve_path(qc->base_dir, qc->binary));
	else
		push(&a, qc->binary); /* found on PATH by execvp */
	push_opt(&a, "-name", board);
	push_opt(&a, "-machine", qc->machine);
	if (qc->accel == QEMU_ACCEL_KVM || (qc->accel == QEMU_ACCEL_AUTO && with_kvm))
		push_opt(&a, "-accel", "kvm");
	if (qc->accel != QEMU_ACCEL_KVM)
		push_opt(&a, "-accel", "tcg");
	push_opt(&a, "-cpu", qc->cpu);
	push_opt(&a, "-m", qc->memory);
	push_opt(&a, "-smp", qc->smp);
	push_control(&a, run_dir);
	push_opt_path(&a, "-bios", qc->base_dir, qc->bios);
	push_opt_path(&a, "-kernel", qc->base_dir, qc->kernel);
	push_opt_path(&a, "-initrd", qc->base_dir, qc->initrd);
	push_opt_path(&a, "-dtb", qc->base_dir, qc->dtb);
	push_opt(&a, "-append", qc->append);
	push_drives(&a, qc, run_dir);
	push_pflash(&a, qc);
	{
		char *netdev = NULL, *device = NULL;
		int rc = qemu_netdev_args(qc, run_dir, &netdev, &device);
		if (rc < 0) {
			a.err = rc;
		} else if (netdev) {
			push(&a, "-netdev");
			push_owned(&a, netdev);
			push(&a, "-device");
			push_owned(&a, device);
		}
	}
	for (size_t i = 0; qc->args && qc->args[i]; i++)
		push(&a, qc->args[i]);
	if (a.err) {
		qemu_argv_free(a.v);
		return a.err;
	}
	*argv = a.v;
	return 0;
}

void qemu_argv_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

#if defined(__x86_64__) || defined(__i386__)
/* A KVM that creates VMs but whose CPUID has no SSE3 (every x86-64 CPU since
 * 2004 has it) is a broken nested KVM: seen on these machines, where QEMU
 * warns "host doesn't support requested feature: CPUID.01H:ECX.pni" and a
 * Linux guest hangs in early boot instead of falling back to TCG. */
static bool kvm_cpuid_sane(int kvm_fd)
{
	enum { N = 100 };
	struct {
		struct kvm_cpuid2 head;
		struct kvm_cpuid_entry2 e[N];
	} c;

	memset(&c, 0, sizeof(c));
	c.head.nent = N;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, &c) < 0)
		return false;
	for (unsigned i = 0; i < c.head.nent && i < N; i++)
		if (c.e[i].function == 1)
			return c.e[i].ecx & 1u; /* SSE3 ("pni") */
	return false;
}
#else
static bool kvm_cpuid_sane(int kvm_fd)
{
	(void)kvm_fd;
	return true;
}
#endif

/* accel: auto offers KVM only when it can run a guest: /dev/kvm opens, speaks
 * API 12, creates a VM with a vCPU, and reports a sane CPUID. Anything less
 * is TCG (never depend on KVM). HILCTL_ACCEL=tcg forces TCG. */
bool qemu_kvm_usable(void)
{
	const char *force = getenv("HILCTL_ACCEL");
	int fd, vm, vcpu;
	bool ok = false;

	if (force && !strcmp(force, "tcg"))
		return false;
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (ioctl(fd, KVM_GET_API_VERSION, 0) == KVM_API_VERSION && kvm_cpuid_sane(fd)) {
		vm = ioctl(fd, KVM_CREATE_VM, 0);
		if (vm >= 0) {
			vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
			ok = vcpu >= 0;
			if (vcpu >= 0)
				close(vcpu);
			close(vm);
		}
	}
	close(fd);
	return ok;
}
