/* tests/unit/test_power_qemu.c — the qemu power driver: the exact argv built
 * from lab-file settings, the settings errors, and the process life cycle
 * (start paused, cont, status, quit, kill, persist, stale pid files) against
 * a fake QEMU: a small Python program that takes QEMU's -qmp, -chardev and
 * -pidfile arguments, serves QMP on the socket and logs every command. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/cfg.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "power/power.h"
#include "qemu/launch.h"
#include "qemu/netdev.h"

/* ---- argv ---- */

static struct cfg_node *yaml(const char *text)
{
	struct cfg_node *root = cfg_load_buf("/labs/desk/lab.yaml", text, strlen(text));

	assert_non_null(root);
	return root;
}

static void assert_argv(const char *settings, const char *run_dir, bool with_kvm,
                        const char *const want[])
{
	struct cfg_node *root = yaml(settings);
	struct qemu_config qc;
	char **argv;
	size_t i;

	assert_int_equal(qemu_config_parse(&qc, root), 0);
	assert_int_equal(qemu_build_argv(&qc, "b1", run_dir, with_kvm, &argv), 0);
	for (i = 0; want[i] && argv[i]; i++)
		if (strcmp(argv[i], want[i]) != 0)
			fail_msg("argv[%zu] is \"%s\", expected \"%s\"", i, argv[i], want[i]);
	if (want[i] || argv[i])
		fail_msg("argv[%zu] is \"%s\", expected \"%s\"", i, argv[i] ? argv[i] : "(end)",
		         want[i] ? want[i] : "(end)");
	qemu_argv_free(argv);
	qemu_config_free(&qc);
	cfg_free(root);
}

#define CONTROL(dir)                                                                               \
	"-nodefaults", "-display", "none", "-S", "-qmp",                                           \
	    "unix:" dir "/qmp.sock,server=on,wait=off", "-chardev",                                \
	    "socket,id=con0,path=" dir "/console.sock,server=on,wait=off,logfile=" dir             \
	    "/console.log",                                                                        \
	    "-serial", "chardev:con0", "-pidfile", dir "/qemu.pid"

static void test_qemu_argv_minimal_is_paused_with_sockets_and_user_net(void **state)
{
	const char *const want[] = {"qemu-system-aarch64",
	                            "-name",
	                            "b1",
	                            "-accel",
	                            "tcg",
	                            CONTROL("/run/b1"),
	                            "-netdev",
	                            "user,id=net0,restrict=on,ipv6=off",
	                            "-device",
	                            "virtio-net-pci,netdev=net0",
	                            NULL};

	assert_argv("driver: qemu\nbinary: qemu-system-aarch64\n", "/run/b1", false, want);
}

static void test_qemu_argv_full_settings_in_order_with_paths_from_lab_dir(void **state)
{
	const char *const want[] = {
	    "/labs/desk/../../opt/qemu/bin/qemu-system-aarch64",
	    "-name",
	    "b1",
	    "-machine",
	    "virt,gic-version=3",
	    "-accel",
	    "tcg",
	    "-cpu",
	    "cortex-a53",
	    "-m",
	    "512M",
	    "-smp",
	    "2",
	    CONTROL("/run/b1"),
	    "-bios",
	    "/usr/share/qemu/u-boot.bin",
	    "-kernel",
	    "/labs/desk/img/Image",
	    "-initrd",
	    "/labs/desk/img/initrd.img",
	    "-dtb",
	    "/labs/desk/virt.dtb",
	    "-append",
	    "console=ttyAMA0 root=/dev/vda2 quiet",
	    "-drive",
	    "if=none,id=d0,format=qcow2,file=/labs/desk/disk.qcow2,readonly=on",
	    "-blockdev",
	    "driver=file,node-name=f0,filename=/labs/desk/raw.img",
	    "-blockdev",
	    "driver=blklogwrites,node-name=log0,file=f0,log.driver=file,"
	    "log.filename=/var/tmp/w.log,log-sector-size=512",
	    "-drive",
	    "if=pflash,format=raw,unit=0,file=/labs/desk/flash0.img",
	    "-drive",
	    "if=pflash,format=raw,unit=1,file=/labs/desk/env.img,readonly=on",
	    "-netdev",
	    "user,id=lan,restrict=on,hostfwd=tcp:127.0.0.1:2222-:22,"
	    "hostfwd=tcp:127.0.0.1:8080-:80,ipv6=off",
	    "-device",
	    "e1000,netdev=lan,mac=52:54:00:12:34:56",
	    "-device",
	    "i6300esb",
	    "-action",
	    "watchdog=reset",
	    NULL};

	assert_argv("driver: qemu\n"
	            "binary: ../../opt/qemu/bin/qemu-system-aarch64\n"
	            "machine: virt,gic-version=3\n"
	            "cpu: cortex-a53\nmemory: 512M\nsmp: 2\naccel: tcg\n"
	            "bios: /usr/share/qemu/u-boot.bin\n"
	            "kernel: img/Image\ninitrd: img/initrd.img\ndtb: virt.dtb\n"
	            "append: console=ttyAMA0 root=/dev/vda2 quiet\n"
	            "drives:\n"
	            "  - {if: none, id: d0, format: qcow2, file: disk.qcow2, readonly: on}\n"
	            "  - {kind: blockdev, driver: file, node-name: f0, filename: raw.img}\n"
	            "  - kind: blockdev\n    driver: blklogwrites\n    node-name: log0\n"
	            "    file: f0\n    log.driver: file\n    log.filename: /var/tmp/w.log\n"
	            "    log-sector-size: 512\n"
	            "pflash:\n  - flash0.img\n  - {file: env.img, readonly: on}\n"
	            "netdev:\n  id: lan\n  device: e1000\n  mac: 52:54:00:12:34:56\n"
	            "  restrict: on\n"
	            "  hostfwd: [tcp:127.0.0.1:2222-:22, tcp:127.0.0.1:8080-:80]\n"
	            "args: [-device, i6300esb, -action, watchdog=reset]\n"
	            "timeout: 20s\n",
	            "/run/b1", false, want);
}

/* The -netdev argument for settings, with the update server (as the board
 * is told, and where it listens) when guest is not NULL. */
static void assert_netdev(const char *settings, const char *guest, const char *want)
{
	struct cfg_node *root = yaml(settings);
	struct qemu_config qc;
	char **argv;
	size_t i;

	assert_int_equal(qemu_config_parse(&qc, root), 0);
	if (guest) {
		snprintf(qc.fwd.guest_host, sizeof(qc.fwd.guest_host), "%s", guest);
		snprintf(qc.fwd.host, sizeof(qc.fwd.host), "127.0.0.1");
		qc.fwd.guest_port = qc.fwd.host_port = 40123;
	}
	assert_int_equal(qemu_build_argv(&qc, "b1", "/run/my b1", false, &argv), 0);
	for (i = 0; argv[i] && strcmp(argv[i], "-netdev") != 0; i++)
		;
	assert_non_null(argv[i]);
	assert_string_equal(argv[i + 1], want);
	qemu_argv_free(argv);
	qemu_config_free(&qc);
	cfg_free(root);
}

/* A board is untrusted code: its user network reaches the update server
 * (one guestfwd through socat, no shell) and what the lab forwards, not
 * every loopback service of the host. */
static void test_qemu_user_net_is_restricted_to_the_update_server(void **state)
{
	const char *relay = "guestfwd=tcp:10.0.2.100:40123-cmd:socat -T 600 -lf '/run/my "
	                    "b1/relay.log' STDIO TCP4:127.0.0.1:40123";
	char want[512];

	snprintf(want, sizeof(want), "user,id=net0,restrict=on,ipv6=off,%s", relay);
	assert_netdev("binary: q\n", "10.0.2.100", want);
	assert_netdev("binary: q\nnetdev: user\n", "10.0.2.100", want);
	/* The lab's own forwards stay, beside the server's. */
	snprintf(want, sizeof(want),
	         "user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22,restrict=on,ipv6=off,%s", relay);
	assert_netdev("binary: q\nnetdev: {hostfwd: 'tcp:127.0.0.1:2222-:22'}\n", "10.0.2.100",
	              want);
	/* No server this run: nothing forwarded at all. */
	assert_netdev("binary: q\n", NULL, "user,id=net0,restrict=on,ipv6=off");
	/* Opted out: QEMU's own NAT reaches 10.0.2.2, no forward needed. */
	assert_netdev("binary: q\nnetdev: {restrict: 'off'}\n", "10.0.2.2",
	              "user,id=net0,restrict=off");
	/* Another network (net:) moves the addresses QEMU forwards. */
	assert_netdev("binary: q\nnetdev: {net: 192.168.76.0/24}\n", "10.0.2.100",
	              "user,id=net0,net=192.168.76.0/24,restrict=on,ipv6=off");
}

static void assert_forward(const char *settings, const char *addr, int want_rc,
                           const char *want_why)
{
	struct cfg_node *root = yaml(settings);
	struct qemu_config qc;
	char why[400] = "";

	assert_int_equal(qemu_config_parse(&qc, root), 0);
	assert_int_equal(qemu_forward_check(&qc, addr, why, sizeof(why)), want_rc);
	if (want_why && !strstr(why, want_why))
		fail_msg("\"%s\" does not say \"%s\"", why, want_why);
	qemu_config_free(&qc);
	cfg_free(root);
}

static void test_qemu_forward_check_names_the_addresses_qemu_cannot_forward(void **state)
{
	assert_forward("binary: q\n", "10.0.2.100", 0, NULL);
	assert_forward("binary: q\n", "10.0.2.2", -EINVAL, "use server_host: 10.0.2.100");
	assert_forward("binary: q\n", "10.0.2.3", -EINVAL, "restrict: off");
	assert_forward("binary: q\n", "127.0.0.1", -EINVAL, "\"127.0.0.1\" is not reachable");
	assert_forward("binary: q\n", "board-host.lab", -EINVAL, "not reachable");
	assert_forward("binary: q\nnetdev: {net: 192.168.76.0/24}\n", "192.168.76.9", 0, NULL);
	assert_forward("binary: q\nnetdev: {net: 192.168.76.0/24}\n", "10.0.2.100", -EINVAL, NULL);
	/* Unrestricted, or not QEMU's user network: QEMU does not stand between. */
	assert_forward("binary: q\nnetdev: {restrict: 'off'}\n", "10.0.2.2", 0, NULL);
	assert_forward("binary: q\nnetdev: none\n", "192.0.2.1", 0, NULL);
	assert_forward("binary: q\nnetdev: {type: tap, ifname: tap0}\n", "192.0.2.1", 0, NULL);
}

static void test_qemu_argv_accel_auto_offers_kvm_then_tcg(void **state)
{
	const char *const auto_kvm[] = {
	    "qemu-system-x86_64", "-name", "b1", "-accel", "kvm", "-accel", "tcg",
	    CONTROL("/r"),        NULL};
	const char *const only_kvm[] = {"qemu-system-x86_64", "-name", "b1", "-accel", "kvm",
	                                CONTROL("/r"),        NULL};
	const char *const only_tcg[] = {"qemu-system-x86_64", "-name", "b1", "-accel", "tcg",
	                                CONTROL("/r"),        NULL};

	assert_argv("binary: qemu-system-x86_64\nnetdev: none\n", "/r", true, auto_kvm);
	assert_argv("binary: qemu-system-x86_64\nnetdev: none\naccel: kvm\n", "/r", false,
	            only_kvm);
	assert_argv("binary: qemu-system-x86_64\nnetdev: none\naccel: tcg\n", "/r", true, only_tcg);
}

static void test_qemu_argv_doubles_commas_in_option_values(void **state)
{
	const char *const want[] = {
	    "qemu-system-x86_64",
	    "-name",
	    "b1",
	    "-accel",
	    "tcg",
	    "-nodefaults",
	    "-display",
	    "none",
	    "-S",
	    "-qmp",
	    "unix:/r,,x/qmp.sock,server=on,wait=off",
	    "-chardev",
	    "socket,id=con0,path=/r,,x/console.sock,server=on,wait=off,logfile=/r,,x/console.log",
	    "-serial",
	    "chardev:con0",
	    "-pidfile",
	    "/r,x/qemu.pid",
	    "-drive",
	    "if=virtio,file=/labs/desk/a,,b.img",
	    "-drive",
	    "if=pflash,format=raw,unit=0,file=/labs/desk/c,,d.img",
	    NULL};

	assert_argv("binary: qemu-system-x86_64\nnetdev: none\n"
	            "drives: [{if: virtio, file: 'a,b.img'}]\npflash: ['c,d.img']\n",
	            "/r,x", false, want);
}

static void test_qemu_argv_overlay_drive_runs_on_qcow2_in_run_dir(void **state)
{
	const char *const want[] = {"qemu-system-aarch64",
	                            "-name",
	                            "b1",
	                            "-accel",
	                            "tcg",
	                            CONTROL("/r"),
	                            "-drive",
	                            "if=pflash,unit=1,format=raw,file=/labs/desk/env.img",
	                            "-drive",
	                            "if=none,id=disk0,file=/r/overlay-1.qcow2,format=qcow2",
	                            NULL};

	assert_argv("binary: qemu-system-aarch64\nnetdev: none\ndrives:\n"
	            "  - {if: pflash, unit: 1, format: raw, file: env.img}\n"
	            "  - {if: none, id: disk0, format: raw, file: disk.img, overlay: true}\n",
	            "/r", false, want);
}

static void assert_config_error(const char *settings, const char *message)
{
	char log[2048];
	struct cfg_node *root = yaml(settings);
	struct qemu_config qc;

	log_capture(log, sizeof(log));
	assert_int_equal(qemu_config_parse(&qc, root), -EINVAL);
	log_capture(NULL, 0);
	if (!strstr(log, message))
		fail_msg("error \"%s\" does not say \"%s\"", log, message);
	assert_non_null(strstr(log, "/labs/desk/lab.yaml:"));
	cfg_free(root);
}

static void test_qemu_settings_errors_name_the_key_and_what_is_valid(void **state)
{
	assert_config_error("driver: qemu\nmachine: virt\n", "needs key \"binary\"");
	assert_config_error("binary: q\nmachin: virt\n", "machin is not a known key");
	assert_config_error("binary: q\naccel: hvf\n", "\"hvf\" is not one of auto, tcg, kvm");
	assert_config_error("binary: q\ndrives: disk.img\n", "must be a list");
	assert_config_error("binary: q\ndrives: [disk.img]\n", "must be a mapping");
	assert_config_error("binary: q\ndrives: [{}]\n", "is empty");
	assert_config_error("binary: q\ndrives: [{kind: scsi, file: a}]\n",
	                    "\"scsi\" is not one of drive, blockdev");
	assert_config_error("binary: q\ndrives: [{file: {path: a}}]\n",
	                    "must be a value or a list of values");
	assert_config_error("binary: q\npflash: [{file: a, kind: blockdev}]\n",
	                    "is only known in drives:");
	assert_config_error("binary: q\nnetdev: tap\n", "\"tap\" is not user, none or a mapping");
	assert_config_error("binary: q\nnetdev: {device: [a, b]}\n", "must be a single value");
	assert_config_error("binary: q\nnetdev: {restrict: maybe}\n", "\"maybe\" is not on or off");
	assert_config_error("binary: q\nargs: {a: b}\n", "not a mapping");
	assert_config_error("binary: [a, b]\n", "must be a single value");
	assert_config_error("binary: q\ndrives: [{file: a, overlay: maybe}]\n",
	                    "\"maybe\" is not true or false");
	assert_config_error("binary: q\ndrives: [{if: none, overlay: true}]\n",
	                    "overlay needs file: (the base image)");
	assert_config_error("binary: q\ndrives: [{kind: blockdev, filename: a, overlay: on}]\n",
	                    "works on -drive (kind: drive) only");
}

/* ---- the driver against a fake QEMU ---- */

static const char fake_qemu[] =
    "#!/usr/bin/python3\n"
    "import json, os, signal, socket, sys, time\n"
    "args = sys.argv[1:]\n"
    "opt = lambda name: args[args.index(name) + 1]\n"
    "log = open(os.environ['FAKE_QEMU_LOG'], 'a', buffering=1)\n"
    "log.write('start %d\\n' % os.getpid())\n"
    "mode = os.environ.get('FAKE_QEMU_MODE', 'normal')\n"
    "if mode == 'exit':\n"
    "    print('fake-qemu: -bogus: invalid option', file=sys.stderr)\n"
    "    sys.exit(1)\n"
    "if mode == 'sleep':\n"
    "    signal.pause()\n"
    "qmp = opt('-qmp')[5:].split(',')[0]\n"
    "con = [o[5:] for o in opt('-chardev').split(',') if o.startswith('path=')][0]\n"
    "pidfile = opt('-pidfile')\n"
    "open(pidfile, 'w').write('%d\\n' % os.getpid())\n"
    "socks = []\n"
    "for path in (con, qmp):\n"
    "    s = socket.socket(socket.AF_UNIX)\n"
    "    s.bind(path)\n"
    "    s.listen(4)\n"
    "    socks.append(s)\n"
    "status = 'prelaunch'\n"
    "while True:\n"
    "    c, _ = socks[1].accept()\n"
    "    if os.path.exists(os.environ['FAKE_QEMU_LOG'] + '.mute'):\n"
    "        signal.pause()\n"
    "    f = c.makefile('rw')\n"
    "    f.write(json.dumps({'QMP': {'version': {'qemu': {'major': 7, 'minor': 2, "
    "'micro': 0}}, 'capabilities': []}}) + '\\r\\n')\n"
    "    f.flush()\n"
    "    for line in f:\n"
    "        m = json.loads(line)\n"
    "        cmd = m['execute']\n"
    "        log.write(cmd + (' ' + json.dumps(m['arguments'], sort_keys=True) "
    "if 'arguments' in m else '') + '\\n')\n"
    "        ret = {}\n"
    "        if cmd == 'query-status':\n"
    "            ret = {'status': status, 'running': status == 'running'}\n"
    "        if cmd == 'cont':\n"
    "            status = 'running'\n"
    "        if cmd == 'stop':\n"
    "            status = 'paused'\n"
    "            t = time.time()\n"
    "            f.write(json.dumps({'event': 'STOP', 'data': {}, 'timestamp': "
    "{'seconds': int(t), 'microseconds': int(t % 1 * 1e6)}}) + '\\r\\n')\n"
    "            f.flush()\n"
    "            if mode == 'slow-stop':\n"
    "                time.sleep(0.3)\n"
    "        f.write(json.dumps({'return': ret, 'id': m['id']}) + '\\r\\n')\n"
    "        f.flush()\n"
    "        if cmd == 'quit' and mode != 'ignore-quit':\n"
    "            for path in (qmp, con, pidfile):\n"
    "                os.unlink(path)\n"
    "            sys.exit(0)\n"
    "    c.close()\n";

struct fixture {
	char dir[64];
	char run_dir[96];
	char log_path[128];
	char lab_path[128];
	struct cfg_node *settings;
	struct power p;
	char log[4096];
};

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[160], settings[512];

	strcpy(f->dir, "/tmp/test_power_qemu.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->run_dir, sizeof(f->run_dir), "%s/run", f->dir);
	mkdir(f->run_dir, 0700);
	snprintf(path, sizeof(path), "%s/fake-qemu", f->dir);
	write_file(path, fake_qemu, 0755);
	snprintf(f->log_path, sizeof(f->log_path), "%s/qemu.log", f->dir);
	setenv("FAKE_QEMU_LOG", f->log_path, 1);
	setenv("FAKE_QEMU_MODE", "normal", 1);
	snprintf(f->lab_path, sizeof(f->lab_path), "%s/lab.yaml", f->dir);
	snprintf(settings, sizeof(settings), "driver: qemu\nbinary: ./fake-qemu\n");
	f->settings = cfg_load_buf(f->lab_path, settings, strlen(settings));
	assert_non_null(f->settings);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	cfg_free(f->settings);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static int open_driver(struct fixture *f, unsigned flags)
{
	memset(&f->p, 0, sizeof(f->p));
	f->p.ops = &power_qemu_ops;
	f->p.board = "b1";
	f->p.run_dir = f->run_dir;
	f->p.flags = flags;
	f->p.timeout_ns = 10 * NS_PER_S;
	return power_qemu_ops.open(&f->p, f->settings);
}

/* Lines of the fake's log: "start PID" and one QMP command each. */
static int count_in_log(struct fixture *f, const char *word)
{
	char buf[8192], *line, *save = NULL;
	int fd = open(f->log_path, O_RDONLY), n = 0;
	ssize_t len;

	if (fd < 0)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[len > 0 ? len : 0] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		n += strncmp(line, word, strlen(word)) == 0;
	return n;
}

static pid_t run_file_pid(struct fixture *f)
{
	char path[160], buf[32] = "";
	int fd;

	snprintf(path, sizeof(path), "%s/qemu.pid", f->run_dir);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = '\0';
	close(fd);
	return (pid_t)atoi(buf);
}

static bool exists(struct fixture *f, const char *name)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/%s", f->run_dir, name);
	return access(path, F_OK) == 0;
}

/* Gone, or a zombie nobody reaped yet. */
static bool process_gone(pid_t pid)
{
	char path[64], buf[256];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return true;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strstr(buf, ") Z ") != NULL;
}

static enum power_state state_of(struct fixture *f)
{
	enum power_state st = POWER_UNKNOWN;

	assert_int_equal(power_qemu_ops.get(&f->p, &st), 0);
	return st;
}

static void test_qemu_on_starts_paused_and_started_resumes(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(open_driver(f, 0), 0);
	assert_int_equal(state_of(f), POWER_OFF);
	assert_int_equal(power_qemu_ops.set(&f->p, true), 0);
	assert_true(exists(f, "qmp.sock") && exists(f, "console.sock"));
	assert_int_equal(count_in_log(f, "qmp_capabilities"), 1);
	assert_int_equal(count_in_log(f, "query-status"), 1);
	assert_int_equal(count_in_log(f, "cont"), 0);
	assert_int_equal(state_of(f), POWER_ON); /* prelaunch is powered */
	assert_int_equal(power_qemu_ops.started(&f->p), 0);
	assert_int_equal(count_in_log(f, "cont"), 1);
	/* On when on: nothing new is started. */
	assert_int_equal(power_qemu_ops.set(&f->p, true), 0);
	assert_int_equal(count_in_log(f, "start"), 1);
	power_qemu_ops.close(&f->p);
}

static void test_qemu_off_quits_and_removes_the_sockets(void **state)
{
	struct fixture *f = *state;
	pid_t pid;

	assert_int_equal(open_driver(f, 0), 0);
	assert_int_equal(power_qemu_ops.set(&f->p, true), 0);
	pid = run_file_pid(f);
	assert_true(pid > 0);
	assert_int_equal(power_qemu_ops.set(&f->p, false), 0);
	assert_int_equal(count_in_log(f, "quit"), 1);
	assert_true(process_gone(pid));
	assert_false(exists(f, "qmp.sock") || exists(f, "console.sock") || exists(f, "qemu.pid"));
	assert_int_equal(state_of(f), POWER_OFF);
	/* Off when off is fine too. */
	assert_int_equal(power_qemu_ops.set(&f->p, false), 0);
	power_qemu_ops.close(&f->p);
}

/* A cut on the held connection: the board lost power when QEMU paused the
 * vCPUs (its STOP event), not when the answer came back after the disks
 * were drained and flushed. */
static void test_qemu_cut_is_timed_by_the_stop_event_not_the_answer(void **state)
{
	struct fixture *f = *state;
	int64_t t_request, t_return;

	setenv("FAKE_QEMU_MODE", "slow-stop", 1);
	assert_int_equal(open_driver(f, 0), 0);
	assert_int_equal(power_qemu_ops.set(&f->p, true), 0);
	assert_int_equal(power_qemu_ops.started(&f->p), 0);
	f->p.t_stopped_ns = 0;
	t_request = clock_now_ns();
	assert_int_equal(power_qemu_ops.set(&f->p, false), 0);
	t_return = clock_now_ns();
	assert_int_equal(count_in_log(f, "stop"), 1);
	assert_int_equal(count_in_log(f, "quit"), 1);
	/* The fake answers 300 ms after its event. */
	assert_true(f->p.t_stopped_ns >= t_request - NS_PER_MS);
	assert_true(f->p.t_stopped_ns < t_return - 200 * NS_PER_MS);
	power_qemu_ops.close(&f->p);
}

static void test_qemu_off_kills_a_qemu_that_does_not_quit(void **state)
{
	struct fixture *f = *state;
	pid_t pid;

	setenv("FAKE_QEMU_MODE", "ignore-quit", 1);
	assert_int_equal(open_driver(f, 0), 0);
	assert_int_equal(power_qemu_ops.set(&f->p, true), 0);
	f->p.timeout_ns = 300 * NS_PER_MS;
	pid = run_file_pid(f);
	log_capture(f->log, sizeof(f->log));
	assert_int_equal(power_qemu_ops.set(&f->p, false), 0);
	log_capture(NULL, 0);
	assert_non_null(strstr(f->log, "did not quit over QMP"));
	assert_non_null(strstr(f->log, "killed it"));
	assert_true(process_gone(pid));
	assert_false(exists(f, "qmp.sock") || exists(f, "qemu.pid"));
	power_qemu_ops.close(&f->p);
}

static void test_qemu_status_unknown_when_qmp_does_not_answer(void **state)
{
	struct fixture *f = *state;
	char mute[160];
	pid_t pid;

	assert_int_equal(open_driver(f, 0), 0);
	assert_int_equal(power_qemu_ops.set(&f->p, true), 0);
	f->p.timeout_ns = 300 * NS_PER_MS;
	pid = run_file_pid(f);
	snprintf(mute, sizeof(mute), "%s.mute", f->log_path);
	write_file(mute, "", 0644);
	log_capture(f->log, sizeof(f->log));
	assert_int_equal(state_of(f), POWER_UNKNOWN);
	assert_non_null(strstr(f->log, "does not answer"));
	/* Power on over a hung QEMU is refused, power off kills it. */
	assert_int_equal(power_qemu_ops.set(&f->p, true), -EBUSY);
	assert_int_equal(power_qemu_ops.set(&f->p, false), 0);
	log_capture(NULL, 0);
	assert_true(process_gone(pid));
	power_qemu_ops.close(&f->p);
}

static bool any_process_of(struct fixture *f);

static void test_qemu_without_persist_dies_at_close(void **state)
{
	struct fixture *f = *state;
	pid_t pid;

	assert_int_equal(open_driver(f, 0), 0);
	assert_int_equal(power_qemu_ops.set(&f->p, true), 0);
	pid = run_file_pid(f);
	assert_true(any_process_of(f));
	power_qemu_ops.close(&f->p);
	assert_true(process_gone(pid));
	assert_false(any_process_of(f));
	assert_false(exists(f, "qmp.sock"));
}

static void test_qemu_persisted_is_found_by_a_later_open(void **state)
{
	struct fixture *f = *state;
	pid_t pid;

	assert_int_equal(open_driver(f, POWER_F_PERSIST), 0);
	assert_int_equal(power_qemu_ops.set(&f->p, true), 0);
	assert_int_equal(power_qemu_ops.started(&f->p), 0);
	pid = run_file_pid(f);
	power_qemu_ops.close(&f->p);
	assert_false(process_gone(pid));
	/* A later hilctl, not persisting, must not kill what it did not start. */
	assert_int_equal(open_driver(f, 0), 0);
	assert_int_equal(state_of(f), POWER_ON);
	power_qemu_ops.close(&f->p);
	assert_false(process_gone(pid));
	assert_int_equal(open_driver(f, 0), 0);
	assert_int_equal(power_qemu_ops.set(&f->p, false), 0);
	assert_true(process_gone(pid));
	assert_int_equal(state_of(f), POWER_OFF);
	power_qemu_ops.close(&f->p);
}

static void test_qemu_killed_from_outside_is_off_with_a_message(void **state)
{
	struct fixture *f = *state;
	pid_t pid;

	assert_int_equal(open_driver(f, POWER_F_PERSIST), 0);
	assert_int_equal(power_qemu_ops.set(&f->p, true), 0);
	pid = run_file_pid(f);
	power_qemu_ops.close(&f->p);
	assert_int_equal(kill(pid, SIGKILL), 0);
	for (int i = 0; i < 200 && !process_gone(pid); i++)
		poll(NULL, 0, 10);
	assert_int_equal(open_driver(f, 0), 0);
	log_capture(f->log, sizeof(f->log));
	assert_int_equal(state_of(f), POWER_OFF);
	log_capture(NULL, 0);
	assert_non_null(strstr(f->log, "is gone without a power off"));
	assert_false(exists(f, "qemu.pid"));
	/* Said once: the stale files are gone now. */
	log_capture(f->log, sizeof(f->log));
	assert_int_equal(state_of(f), POWER_OFF);
	log_capture(NULL, 0);
	assert_string_equal(f->log, "");
	power_qemu_ops.close(&f->p);
}

static void test_qemu_pid_file_of_another_process_is_stale(void **state)
{
	struct fixture *f = *state;
	char path[160], text[32];

	snprintf(path, sizeof(path), "%s/qemu.pid", f->run_dir);
	snprintf(text, sizeof(text), "%d\n", (int)getpid()); /* alive, but not QEMU */
	write_file(path, text, 0644);
	assert_int_equal(open_driver(f, 0), 0);
	log_capture(f->log, sizeof(f->log));
	assert_int_equal(state_of(f), POWER_OFF);
	assert_int_equal(power_qemu_ops.set(&f->p, false), 0);
	log_capture(NULL, 0);
	assert_non_null(strstr(f->log, "is gone"));
	power_qemu_ops.close(&f->p);
}

static void test_qemu_that_exits_at_start_reports_its_stderr(void **state)
{
	struct fixture *f = *state;

	setenv("FAKE_QEMU_MODE", "exit", 1);
	assert_int_equal(open_driver(f, 0), 0);
	log_capture(f->log, sizeof(f->log));
	assert_int_equal(power_qemu_ops.set(&f->p, true), -EIO);
	log_capture(NULL, 0);
	assert_non_null(strstr(f->log, "board \"b1\": QEMU exited at start (exit status 1)"));
	assert_non_null(strstr(f->log, "fake-qemu: -bogus: invalid option"));
	assert_non_null(strstr(f->log, "qemu.stderr"));
	assert_int_equal(state_of(f), POWER_OFF);
	power_qemu_ops.close(&f->p);
}

/* Any live process whose command line names this run directory's QMP
 * socket (the fake QEMU's -qmp does), whether or not it got to log its start. */
static bool any_process_of(struct fixture *f)
{
	char want[160], path[64], cmdline[4096];
	DIR *proc = opendir("/proc");
	struct dirent *e;
	bool found = false;

	snprintf(want, sizeof(want), "%s/qmp.sock", f->run_dir);
	while (proc && !found && (e = readdir(proc))) {
		int pid = atoi(e->d_name), fd;
		ssize_t n;
		if (pid <= 0 || process_gone(pid))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
		fd = open(path, O_RDONLY);
		n = fd < 0 ? -1 : read(fd, cmdline, sizeof(cmdline) - 1);
		if (fd >= 0)
			close(fd);
		for (ssize_t i = 0; i < n; i++)
			if (!cmdline[i])
				cmdline[i] = ' ';
		cmdline[n > 0 ? n : 0] = '\0';
		found = strstr(cmdline, want) != NULL;
	}
	if (proc)
		closedir(proc);
	return found;
}

static void test_qemu_without_qmp_socket_times_out_and_is_killed(void **state)
{
	struct fixture *f = *state;
	int64_t start = clock_now_ns();

	setenv("FAKE_QEMU_MODE", "sleep", 1);
	assert_int_equal(open_driver(f, 0), 0);
	f->p.timeout_ns = 700 * NS_PER_MS;
	log_capture(f->log, sizeof(f->log));
	assert_int_equal(power_qemu_ops.set(&f->p, true), -ETIMEDOUT);
	log_capture(NULL, 0);
	assert_true(clock_now_ns() - start < 3 * NS_PER_S);
	assert_non_null(strstr(f->log, "did not come up within 0.7 s"));
	assert_false(any_process_of(f));
	assert_false(exists(f, "qmp.sock") || exists(f, "qemu.pid"));
	power_qemu_ops.close(&f->p);
}

static void test_qemu_missing_binary_is_enoent_with_advice(void **state)
{
	struct fixture *f = *state;
	const char *text = "driver: qemu\nbinary: qemu-system-nonexistent-arch\n";

	cfg_free(f->settings);
	f->settings = cfg_load_buf(f->lab_path, text, strlen(text));
	assert_int_equal(open_driver(f, 0), 0);
	log_capture(f->log, sizeof(f->log));
	assert_int_equal(power_qemu_ops.set(&f->p, true), -ENOENT);
	log_capture(NULL, 0);
	assert_non_null(
	    strstr(f->log, "cannot run QEMU \"qemu-system-nonexistent-arch\": No such file"));
	power_qemu_ops.close(&f->p);
}

static void test_qemu_started_without_qemu_is_enodev(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(open_driver(f, 0), 0);
	log_capture(f->log, sizeof(f->log));
	assert_int_equal(power_qemu_ops.started(&f->p), -ENODEV);
	log_capture(NULL, 0);
	assert_non_null(strstr(f->log, "is it powered on?"));
	power_qemu_ops.close(&f->p);
}

static void test_qemu_link_sets_the_netdev_link(void **state)
{
	struct fixture *f = *state;
	const char *text = "driver: qemu\nbinary: ./fake-qemu\nnetdev: {id: lan, device: e1000}\n";

	assert_int_equal(open_driver(f, 0), 0);
	log_capture(f->log, sizeof(f->log));
	assert_int_equal(power_qemu_ops.link(&f->p, false), -ENODEV); /* not running */
	log_capture(NULL, 0);
	assert_non_null(strstr(f->log, "cannot set the network link of net0 down"));
	assert_int_equal(power_qemu_ops.set(&f->p, true), 0);
	assert_int_equal(power_qemu_ops.link(&f->p, false), 0);
	assert_int_equal(power_qemu_ops.link(&f->p, true), 0);
	assert_int_equal(count_in_log(f, "set_link {\"name\": \"net0\", \"up\": false}"), 1);
	assert_int_equal(count_in_log(f, "set_link {\"name\": \"net0\", \"up\": true}"), 1);
	power_qemu_ops.close(&f->p);
	/* Another backend id is used by name. */
	cfg_free(f->settings);
	f->settings = cfg_load_buf(f->lab_path, text, strlen(text));
	assert_int_equal(open_driver(f, 0), 0);
	assert_int_equal(power_qemu_ops.set(&f->p, true), 0);
	assert_int_equal(power_qemu_ops.link(&f->p, false), 0);
	assert_int_equal(count_in_log(f, "set_link {\"name\": \"lan\", \"up\": false}"), 1);
	power_qemu_ops.close(&f->p);
}

static void test_qemu_link_without_network_card_is_refused(void **state)
{
	struct fixture *f = *state;
	const char *text = "driver: qemu\nbinary: ./fake-qemu\nnetdev: none\n";

	cfg_free(f->settings);
	f->settings = cfg_load_buf(f->lab_path, text, strlen(text));
	assert_int_equal(open_driver(f, 0), 0);
	log_capture(f->log, sizeof(f->log));
	assert_int_equal(power_qemu_ops.link(&f->p, false), -EINVAL);
	log_capture(NULL, 0);
	assert_non_null(strstr(f->log, "has no network card"));
	power_qemu_ops.close(&f->p);
}

static void use_overlay_lab(struct fixture *f, const char *base)
{
	char text[512];

	snprintf(text, sizeof(text),
	         "driver: qemu\nbinary: ./fake-qemu\n"
	         "drives: [{if: none, id: d0, format: raw, file: %s, overlay: true}]\n",
	         base);
	cfg_free(f->settings);
	f->settings = cfg_load_buf(f->lab_path, text, strlen(text));
	assert_non_null(f->settings);
}

static off_t size_of(struct fixture *f, const char *name)
{
	char path[160];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", f->run_dir, name);
	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* What a guest's writes do to the overlay, as far as this test can tell. */
static void grow(struct fixture *f, const char *name)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/%s", f->run_dir, name);
	assert_int_equal(truncate(path, size_of(f, name) + 65536), 0);
}

static void test_qemu_overlay_made_at_power_on_and_fresh_at_prepare(void **state)
{
	struct fixture *f = *state;
	char base[160];
	off_t fresh;

	snprintf(base, sizeof(base), "%s/base.img", f->dir);
	write_file(base, "base image", 0644);
	assert_int_equal(truncate(base, 1 << 20), 0);
	use_overlay_lab(f, "base.img"); /* relative to the lab file */
	assert_int_equal(open_driver(f, 0), 0);
	assert_int_equal(power_qemu_ops.set(&f->p, true), 0);
	fresh = size_of(f, "overlay-0.qcow2");
	assert_true(fresh > 0);
	grow(f, "overlay-0.qcow2");
	assert_false(exists(f, "overlay-0.qcow2.tmp"));
	/* Not while it runs: that is a power cut's disk, kept across cycles. */
	log_capture(f->log, sizeof(f->log));
	assert_int_equal(power_qemu_ops.prepare(&f->p), -EBUSY);
	log_capture(NULL, 0);
	assert_non_null(strstr(f->log, "power it off"));
	assert_int_equal(power_qemu_ops.set(&f->p, false), 0);
	assert_int_equal(power_qemu_ops.set(&f->p, true), 0);
	/* A power cycle keeps what the guest wrote. */
	assert_int_equal(size_of(f, "overlay-0.qcow2"), fresh + 65536);
	assert_int_equal(power_qemu_ops.set(&f->p, false), 0);
	assert_int_equal(power_qemu_ops.prepare(&f->p), 0);
	assert_int_equal(size_of(f, "overlay-0.qcow2"), fresh);
	power_qemu_ops.close(&f->p);
}

static void test_qemu_overlay_of_missing_image_says_why(void **state)
{
	struct fixture *f = *state;

	use_overlay_lab(f, "no-such.img");
	assert_int_equal(open_driver(f, 0), 0);
	log_capture(f->log, sizeof(f->log));
	assert_int_equal(power_qemu_ops.set(&f->p, true), -EIO);
	log_capture(NULL, 0);
	assert_non_null(strstr(f->log, "cannot make the overlay"));
	assert_non_null(strstr(f->log, "no-such.img"));
	assert_int_equal(count_in_log(f, "start"), 0); /* QEMU never started */
	assert_false(exists(f, "overlay-0.qcow2") || exists(f, "overlay-0.qcow2.tmp"));
	power_qemu_ops.close(&f->p);
}

static void test_qemu_run_dir_too_long_for_a_socket(void **state)
{
	struct fixture *f = *state;
	char long_dir[200];

	memset(long_dir, 'd', sizeof(long_dir) - 1);
	long_dir[0] = '/';
	long_dir[sizeof(long_dir) - 1] = '\0';
	memset(&f->p, 0, sizeof(f->p));
	f->p.board = "b1";
	f->p.run_dir = long_dir;
	log_capture(f->log, sizeof(f->log));
	assert_int_equal(power_qemu_ops.open(&f->p, f->settings), -ENAMETOOLONG);
	log_capture(NULL, 0);
	assert_non_null(strstr(f->log, "HILCTL_RUN_DIR"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_qemu_argv_minimal_is_paused_with_sockets_and_user_net),
	    cmocka_unit_test(test_qemu_argv_full_settings_in_order_with_paths_from_lab_dir),
	    cmocka_unit_test(test_qemu_argv_accel_auto_offers_kvm_then_tcg),
	    cmocka_unit_test(test_qemu_argv_doubles_commas_in_option_values),
	    cmocka_unit_test(test_qemu_argv_overlay_drive_runs_on_qcow2_in_run_dir),
	    cmocka_unit_test(test_qemu_settings_errors_name_the_key_and_what_is_valid),
	    cmocka_unit_test_setup_teardown(test_qemu_on_starts_paused_and_started_resumes, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_qemu_off_quits_and_removes_the_sockets, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_qemu_cut_is_timed_by_the_stop_event_not_the_answer,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_qemu_off_kills_a_qemu_that_does_not_quit, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_qemu_status_unknown_when_qmp_does_not_answer,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_qemu_without_persist_dies_at_close, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_qemu_persisted_is_found_by_a_later_open, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_qemu_killed_from_outside_is_off_with_a_message,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_qemu_pid_file_of_another_process_is_stale, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_qemu_that_exits_at_start_reports_its_stderr, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_qemu_without_qmp_socket_times_out_and_is_killed,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_qemu_missing_binary_is_enoent_with_advice, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_qemu_started_without_qemu_is_enodev, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_qemu_link_sets_the_netdev_link, setup, teardown),
	    cmocka_unit_test(test_qemu_user_net_is_restricted_to_the_update_server),
	    cmocka_unit_test(test_qemu_forward_check_names_the_addresses_qemu_cannot_forward),
	    cmocka_unit_test_setup_teardown(test_qemu_link_without_network_card_is_refused, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_qemu_overlay_made_at_power_on_and_fresh_at_prepare,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_qemu_overlay_of_missing_image_says_why, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_qemu_run_dir_too_long_for_a_socket, setup,
	                                    teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
