/* tests/unit/test_console_serial.c — the serial console's exact libserialport
 * calls, faked at the link seam (-Wl,--wrap): settings, lookup by path and by
 * USB serial number, every error path, vanish → -EPIPE and reconnect.
 *
 * The fake port's file descriptor is one end of a socketpair, so poll() on
 * c->fd behaves like a tty: closing the other end is the adapter vanishing
 * (POLLHUP), writing into it is the board talking. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>
#include <libserialport.h>

#include "lib/cfg.h"
#include "lib/clock.h"
#include "harness/console/console.h"
#include "lib/log.h"

/* ---- fakes ---------------------------------------------------------- */

static char port_storage[4];
#define FAKE_PORT ((struct sp_port *)&port_storage[0])
static int fake_errno;         /* what sp_last_error_code() answers */
static int sock[2] = {-1, -1}; /* sock[0] is the port's fd */

struct fake_listed {
	const char *name, *usb_serial;
};
static const struct fake_listed *listing; /* what sp_list_ports() enumerates */
static struct sp_port **listing_ptrs;

char *__real_realpath(const char *path, char *resolved);
char *__wrap_realpath(const char *path, char *resolved);
char *__wrap_realpath(const char *path, char *resolved)
{
	const char *to;

	check_expected(path);
	to = mock_ptr_type(const char *);
	if (!to) {
		errno = mock_type(int);
		return NULL;
	}
	strcpy(resolved, to);
	return resolved;
}

enum sp_return __wrap_sp_get_port_by_name(const char *name, struct sp_port **out);
enum sp_return __wrap_sp_get_port_by_name(const char *name, struct sp_port **out)
{
	enum sp_return rc;

	check_expected(name);
	rc = mock_type(enum sp_return);
	*out = rc == SP_OK ? FAKE_PORT : NULL;
	return rc;
}

enum sp_return __wrap_sp_open(struct sp_port *port, enum sp_mode flags);
enum sp_return __wrap_sp_open(struct sp_port *port, enum sp_mode flags)
{
	enum sp_return rc;

	assert_ptr_equal(port, FAKE_PORT);
	check_expected(flags);
	rc = mock_type(enum sp_return);
	if (rc != SP_OK)
		fake_errno = mock_type(int);
	return rc;
}

#define FAKE_SETTER(fn, type)                                                                      \
	enum sp_return __wrap_##fn(struct sp_port *port, type value);                              \
	enum sp_return __wrap_##fn(struct sp_port *port, type value)                               \
	{                                                                                          \
		enum sp_return rc;                                                                 \
		assert_ptr_equal(port, FAKE_PORT);                                                 \
		check_expected(value);                                                             \
		rc = mock_type(enum sp_return);                                                    \
		if (rc != SP_OK)                                                                   \
			fake_errno = mock_type(int);                                               \
		return rc;                                                                         \
	}
FAKE_SETTER(sp_set_baudrate, int)
FAKE_SETTER(sp_set_bits, int)
FAKE_SETTER(sp_set_parity, enum sp_parity)
FAKE_SETTER(sp_set_stopbits, int)
FAKE_SETTER(sp_set_flowcontrol, enum sp_flowcontrol)

enum sp_return __wrap_sp_get_port_handle(const struct sp_port *port, void *result);
enum sp_return __wrap_sp_get_port_handle(const struct sp_port *port, void *result)
{
	assert_ptr_equal(port, FAKE_PORT);
	*(int *)result = sock[0];
	return SP_OK;
}

enum sp_return __wrap_sp_close(struct sp_port *port);
enum sp_return __wrap_sp_close(struct sp_port *port)
{
	assert_ptr_equal(port, FAKE_PORT);
	function_called();
	return SP_OK;
}

void __wrap_sp_free_port(struct sp_port *port);
void __wrap_sp_free_port(struct sp_port *port)
{
	assert_ptr_equal(port, FAKE_PORT);
	function_called();
}

int __wrap_sp_last_error_code(void);
int __wrap_sp_last_error_code(void)
{
	return fake_errno;
}

enum sp_return __wrap_sp_nonblocking_read(struct sp_port *port, void *buf, size_t count);
enum sp_return __wrap_sp_nonblocking_read(struct sp_port *port, void *buf, size_t count)
{
	int rc = mock_type(int);

	assert_ptr_equal(port, FAKE_PORT);
	if (rc > 0) {
		assert_true((size_t)rc <= count);
		memcpy(buf, mock_ptr_type(const void *), (size_t)rc);
	} else if (rc < 0) {
		fake_errno = mock_type(int);
	}
	return (enum sp_return)rc;
}

enum sp_return __wrap_sp_nonblocking_write(struct sp_port *port, const void *buf, size_t count);
enum sp_return __wrap_sp_nonblocking_write(struct sp_port *port, const void *buf, size_t count)
{
	int rc;

	assert_ptr_equal(port, FAKE_PORT);
	check_expected(buf);
	check_expected(count);
	rc = mock_type(int);
	if (rc < 0)
		fake_errno = mock_type(int);
	return (enum sp_return)rc;
}

/* The port's termios as the kernel keeps it: libserialport's own termios
 * calls are inside the faked sp_set_*, so only hilctl's CRTSCTS repair
 * reaches these. */
static struct termios fake_termios;
static int tcsetattr_calls;

int __wrap_tcgetattr(int fd, struct termios *t);
int __wrap_tcgetattr(int fd, struct termios *t)
{
	assert_int_equal(fd, sock[0]);
	*t = fake_termios;
	return 0;
}

int __wrap_tcsetattr(int fd, int action, const struct termios *t);
int __wrap_tcsetattr(int fd, int action, const struct termios *t)
{
	assert_int_equal(fd, sock[0]);
	assert_int_equal(action, TCSANOW);
	fake_termios = *t;
	tcsetattr_calls++;
	return 0;
}

/* Each listed port is a pointer into `listing`, so name and serial lookups
 * need no other state. */
enum sp_return __wrap_sp_list_ports(struct sp_port ***list);
enum sp_return __wrap_sp_list_ports(struct sp_port ***list)
{
	size_t n = 0;

	function_called();
	while (listing && listing[n].name)
		n++;
	listing_ptrs = calloc(n + 1, sizeof(*listing_ptrs));
	for (size_t i = 0; i < n; i++)
		listing_ptrs[i] = (struct sp_port *)&listing[i];
	*list = listing_ptrs;
	return SP_OK;
}

void __wrap_sp_free_port_list(struct sp_port **list);
void __wrap_sp_free_port_list(struct sp_port **list)
{
	assert_ptr_equal(list, listing_ptrs);
	free(list);
	listing_ptrs = NULL;
}

char *__wrap_sp_get_port_name(const struct sp_port *port);
char *__wrap_sp_get_port_name(const struct sp_port *port)
{
	return (char *)((const struct fake_listed *)port)->name;
}

char *__wrap_sp_get_port_usb_serial(const struct sp_port *port);
char *__wrap_sp_get_port_usb_serial(const struct sp_port *port)
{
	return (char *)((const struct fake_listed *)port)->usb_serial;
}

/* ---- helpers -------------------------------------------------------- */

static char logbuf[4096];
static struct cfg_node *tree;
static struct console con;

static int setup(void **state)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sock), 0);
	fcntl(sock[0], F_SETFL, O_NONBLOCK);
	log_capture(logbuf, sizeof(logbuf));
	memset(&con, 0, sizeof(con));
	con.fd = -1;
	con.board = "bbb-02";
	fake_errno = 0;
	listing = NULL;
	memset(&fake_termios, 0, sizeof(fake_termios));
	fake_termios.c_cflag = CS8 | CREAD | CLOCAL;
	tcsetattr_calls = 0;
	return 0;
}

static int teardown(void **state)
{
	if (con.ops && con.ops->close)
		con.ops->close(&con);
	cfg_free(tree);
	tree = NULL;
	for (int i = 0; i < 2; i++)
		if (sock[i] >= 0)
			close(sock[i]);
	sock[0] = sock[1] = -1;
	log_capture(NULL, 0);
	return 0;
}

static int open_yaml(const char *yaml)
{
	tree = cfg_load_buf("lab.yaml", yaml, strlen(yaml));
	assert_non_null(tree);
	con.ops = &console_serial_ops;
	return con.ops->open(&con, tree);
}

static void expect_path(const char *path, const char *resolved)
{
	expect_string(__wrap_realpath, path, path);
	will_return(__wrap_realpath, resolved);
}

static void expect_open_ok(const char *dev)
{
	expect_string(__wrap_sp_get_port_by_name, name, dev);
	will_return(__wrap_sp_get_port_by_name, SP_OK);
	expect_value(__wrap_sp_open, flags, SP_MODE_READ_WRITE);
	will_return(__wrap_sp_open, SP_OK);
}

static void expect_settings(int baud, int bits, enum sp_parity parity, int stop,
                            enum sp_flowcontrol flow)
{
	expect_value(__wrap_sp_set_baudrate, value, baud);
	will_return(__wrap_sp_set_baudrate, SP_OK);
	expect_value(__wrap_sp_set_bits, value, bits);
	will_return(__wrap_sp_set_bits, SP_OK);
	expect_value(__wrap_sp_set_parity, value, parity);
	will_return(__wrap_sp_set_parity, SP_OK);
	expect_value(__wrap_sp_set_stopbits, value, stop);
	will_return(__wrap_sp_set_stopbits, SP_OK);
	expect_value(__wrap_sp_set_flowcontrol, value, flow);
	will_return(__wrap_sp_set_flowcontrol, SP_OK);
}

static void expect_release(void)
{
	expect_function_call(__wrap_sp_close);
	expect_function_call(__wrap_sp_free_port);
}

/* End a test that is still connected: close releases the port. */
static void close_connected(void)
{
	expect_release();
	con.ops->close(&con);
	con.ops = NULL;
}

/* A deadline already past: the attempt is the last one, errors print. */
#define LAST_TRY 0
#define STILL_WAITING (clock_now_ns() + 60 * NS_PER_S)

static const char by_id[] = "/dev/serial/by-id/usb-FTDI_FT232R_A50285BI-if00-port0";

/* ---- settings ------------------------------------------------------- */

static void test_serial_open_needs_path_or_usb_serial(void **state)
{
	assert_int_equal(open_yaml("type: serial\nbaud: 9600\n"), -EINVAL);
	assert_non_null(strstr(logbuf, "lab.yaml:1:1:"));
	assert_non_null(strstr(logbuf, "exactly one of \"path:\""));
}

static void test_serial_open_refuses_path_and_usb_serial_together(void **state)
{
	assert_int_equal(open_yaml("type: serial\npath: /dev/ttyUSB0\nusb_serial: A5\n"), -EINVAL);
	assert_non_null(strstr(logbuf, "exactly one of"));
}

static void test_serial_open_refuses_unknown_key(void **state)
{
	assert_int_equal(open_yaml("type: serial\npath: /dev/ttyUSB0\nbaudrate: 9600\n"), -EINVAL);
	assert_non_null(strstr(logbuf, "lab.yaml:3:1:"));
	assert_non_null(strstr(logbuf, "baudrate"));
	assert_non_null(strstr(logbuf, "known:"));
}

static void test_serial_open_lists_valid_parity_and_flow(void **state)
{
	assert_int_equal(open_yaml("type: serial\npath: /dev/ttyUSB0\nparity: evn\n"), -EINVAL);
	assert_non_null(strstr(logbuf, "\"evn\" is not one of none, odd, even, mark, space"));
	teardown(state);
	setup(state);
	assert_int_equal(open_yaml("type: serial\npath: /dev/ttyUSB0\nflow: hw\n"), -EINVAL);
	assert_non_null(strstr(logbuf, "\"hw\" is not one of none, rtscts, xonxoff"));
}

static void test_serial_open_checks_ranges(void **state)
{
	assert_int_equal(open_yaml("type: serial\npath: /dev/ttyUSB0\ndata_bits: 9\n"), -EINVAL);
	assert_non_null(strstr(logbuf, "out of range (5 to 8)"));
	teardown(state);
	setup(state);
	assert_int_equal(open_yaml("type: serial\npath: /dev/ttyUSB0\nbaud: fast\n"), -EINVAL);
	assert_non_null(strstr(logbuf, "not a whole number"));
}

/* ---- connect: exact calls ------------------------------------------- */

static void test_serial_connect_applies_every_setting(void **state)
{
	char yaml[256];

	snprintf(yaml, sizeof(yaml),
	         "type: serial\npath: %s\nbaud: 9600\nparity: even\ndata_bits: 7\n"
	         "stop_bits: 2\nflow: rtscts\n",
	         by_id);
	assert_int_equal(open_yaml(yaml), 0);
	expect_path(by_id, "/dev/ttyUSB3");
	expect_open_ok("/dev/ttyUSB3");
	expect_settings(9600, 7, SP_PARITY_EVEN, 2, SP_FLOWCONTROL_RTSCTS);
	assert_int_equal(con.ops->connect(&con, STILL_WAITING), 0);
	assert_int_equal(con.fd, sock[0]);
	/* A child process (command power driver) must not inherit the UART. */
	assert_true(fcntl(con.fd, F_GETFD) & FD_CLOEXEC);
	assert_string_equal(logbuf, "");
	close_connected();
}

static void test_serial_defaults_are_115200_8n1_without_flow_control(void **state)
{
	assert_int_equal(open_yaml("type: serial\npath: /dev/ttyUSB0\n"), 0);
	expect_path("/dev/ttyUSB0", "/dev/ttyUSB0");
	expect_open_ok("/dev/ttyUSB0");
	expect_settings(115200, 8, SP_PARITY_NONE, 1, SP_FLOWCONTROL_NONE);
	assert_int_equal(con.ops->connect(&con, STILL_WAITING), 0);
	close_connected();
}

static void test_serial_odd_parity_and_xonxoff_map_to_libserialport(void **state)
{
	assert_int_equal(open_yaml("type: serial\npath: /dev/ttyS1\nparity: odd\nflow: xonxoff\n"
	                           "baud: 57600\n"),
	                 0);
	expect_path("/dev/ttyS1", "/dev/ttyS1");
	expect_open_ok("/dev/ttyS1");
	expect_settings(57600, 8, SP_PARITY_ODD, 1, SP_FLOWCONTROL_XONXOFF);
	assert_int_equal(con.ops->connect(&con, STILL_WAITING), 0);
	close_connected();
}

/* libserialport 0.1.1 puts CRTSCTS into c_iflag; hilctl sets the real bit. */
static void test_serial_rtscts_sets_crtscts_in_cflag(void **state)
{
	assert_int_equal(open_yaml("type: serial\npath: /dev/ttyUSB0\nflow: rtscts\n"), 0);
	fake_termios.c_iflag = CRTSCTS; /* where libserialport wrote it */
	expect_path("/dev/ttyUSB0", "/dev/ttyUSB0");
	expect_open_ok("/dev/ttyUSB0");
	expect_settings(115200, 8, SP_PARITY_NONE, 1, SP_FLOWCONTROL_RTSCTS);
	assert_int_equal(con.ops->connect(&con, STILL_WAITING), 0);
	assert_true(fake_termios.c_cflag & CRTSCTS);
	assert_false(fake_termios.c_iflag & CRTSCTS);
	assert_true(fake_termios.c_cflag & CLOCAL); /* the rest is kept */
	close_connected();
}

/* A port that picocom -f h left with RTS/CTS on would never send while CTS
 * is low; flow: none must clear it, which libserialport 0.1.1 does not. */
static void test_serial_flow_none_clears_crtscts_left_by_another_program(void **state)
{
	assert_int_equal(open_yaml("type: serial\npath: /dev/ttyUSB0\n"), 0);
	fake_termios.c_cflag |= CRTSCTS;
	expect_path("/dev/ttyUSB0", "/dev/ttyUSB0");
	expect_open_ok("/dev/ttyUSB0");
	expect_settings(115200, 8, SP_PARITY_NONE, 1, SP_FLOWCONTROL_NONE);
	assert_int_equal(con.ops->connect(&con, STILL_WAITING), 0);
	assert_false(fake_termios.c_cflag & CRTSCTS);
	assert_int_equal(tcsetattr_calls, 1);
	close_connected();
}

static void test_serial_consistent_flow_needs_no_extra_tcsetattr(void **state)
{
	assert_int_equal(open_yaml("type: serial\npath: /dev/ttyUSB0\n"), 0);
	expect_path("/dev/ttyUSB0", "/dev/ttyUSB0");
	expect_open_ok("/dev/ttyUSB0");
	expect_settings(115200, 8, SP_PARITY_NONE, 1, SP_FLOWCONTROL_NONE);
	assert_int_equal(con.ops->connect(&con, STILL_WAITING), 0);
	assert_int_equal(tcsetattr_calls, 0);
	close_connected();
}

/* ---- connect: errors ------------------------------------------------ */

static void test_serial_missing_device_is_enoent_with_power_hint(void **state)
{
	char yaml[256];

	snprintf(yaml, sizeof(yaml), "type: serial\npath: %s\n", by_id);
	assert_int_equal(open_yaml(yaml), 0);
	/* While the caller still waits: quiet, the board may be powering up. */
	expect_path(by_id, NULL);
	will_return(__wrap_realpath, ENOENT);
	assert_int_equal(con.ops->connect(&con, STILL_WAITING), -ENOENT);
	assert_string_equal(logbuf, "");
	/* At the deadline: one line that names board, path and the likely cause. */
	expect_path(by_id, NULL);
	will_return(__wrap_realpath, ENOENT);
	assert_int_equal(con.ops->connect(&con, LAST_TRY), -ENOENT);
	assert_string_equal(logbuf, "board \"bbb-02\": /dev/serial/by-id/usb-FTDI_FT232R_A50285BI-"
	                            "if00-port0: no such device (is the adapter powered by the "
	                            "board?)\n");
	/* ...and only once while it stays away. */
	expect_path(by_id, NULL);
	will_return(__wrap_realpath, ENOENT);
	assert_int_equal(con.ops->connect(&con, LAST_TRY), -ENOENT);
	assert_null(strchr(strchr(logbuf, '\n') + 1, '\n'));
}

static void test_serial_node_gone_from_sysfs_is_enoent(void **state)
{
	assert_int_equal(open_yaml("type: serial\npath: /dev/ttyUSB0\n"), 0);
	expect_path("/dev/ttyUSB0", "/dev/ttyUSB-hilctl-test-absent");
	expect_string(__wrap_sp_get_port_by_name, name, "/dev/ttyUSB-hilctl-test-absent");
	will_return(__wrap_sp_get_port_by_name, SP_ERR_ARG);
	assert_int_equal(con.ops->connect(&con, LAST_TRY), -ENOENT);
	assert_non_null(strstr(logbuf, "no such device"));
}

static void test_serial_not_a_tty_is_refused(void **state)
{
	assert_int_equal(open_yaml("type: serial\npath: /dev/null\n"), 0);
	expect_path("/dev/null", "/dev/null");
	expect_string(__wrap_sp_get_port_by_name, name, "/dev/null");
	will_return(__wrap_sp_get_port_by_name, SP_ERR_ARG);
	assert_int_equal(con.ops->connect(&con, STILL_WAITING), -ENOTTY);
	assert_string_equal(logbuf, "board \"bbb-02\": /dev/null is not a serial port "
	                            "(no /sys/class/tty/ entry)\n");
}

static void test_serial_path_outside_dev_is_refused(void **state)
{
	assert_int_equal(open_yaml("type: serial\npath: uart0\n"), 0);
	expect_path("uart0", "/home/lab/uart0");
	assert_int_equal(con.ops->connect(&con, STILL_WAITING), -EINVAL);
	assert_non_null(strstr(logbuf, "not a device under /dev"));
}

static void test_serial_permission_denied_hints_dialout(void **state)
{
	assert_int_equal(open_yaml("type: serial\npath: /dev/ttyUSB0\n"), 0);
	expect_path("/dev/ttyUSB0", "/dev/ttyUSB0");
	expect_string(__wrap_sp_get_port_by_name, name, "/dev/ttyUSB0");
	will_return(__wrap_sp_get_port_by_name, SP_OK);
	expect_value(__wrap_sp_open, flags, SP_MODE_READ_WRITE);
	will_return(__wrap_sp_open, SP_ERR_FAIL);
	will_return(__wrap_sp_open, EACCES);
	expect_function_call(__wrap_sp_free_port);
	assert_int_equal(con.ops->connect(&con, STILL_WAITING), -EACCES);
	assert_non_null(strstr(logbuf, "board \"bbb-02\": /dev/ttyUSB0: permission denied"));
	assert_non_null(strstr(logbuf, "dialout"));
	assert_int_equal(con.fd, -1);
}

static void test_serial_busy_port_names_likely_holders(void **state)
{
	assert_int_equal(open_yaml("type: serial\npath: /dev/ttyUSB0\n"), 0);
	expect_path("/dev/ttyUSB0", "/dev/ttyUSB0");
	expect_string(__wrap_sp_get_port_by_name, name, "/dev/ttyUSB0");
	will_return(__wrap_sp_get_port_by_name, SP_OK);
	expect_value(__wrap_sp_open, flags, SP_MODE_READ_WRITE);
	will_return(__wrap_sp_open, SP_ERR_FAIL);
	will_return(__wrap_sp_open, EBUSY);
	expect_function_call(__wrap_sp_free_port);
	assert_int_equal(con.ops->connect(&con, STILL_WAITING), -EBUSY);
	assert_non_null(strstr(logbuf, "/dev/ttyUSB0: busy"));
	assert_non_null(strstr(logbuf, "picocom"));
}

static void test_serial_vanishing_between_lookup_and_open_is_enoent(void **state)
{
	assert_int_equal(open_yaml("type: serial\npath: /dev/ttyUSB0\n"), 0);
	expect_path("/dev/ttyUSB0", "/dev/ttyUSB0");
	expect_string(__wrap_sp_get_port_by_name, name, "/dev/ttyUSB0");
	will_return(__wrap_sp_get_port_by_name, SP_OK);
	expect_value(__wrap_sp_open, flags, SP_MODE_READ_WRITE);
	will_return(__wrap_sp_open, SP_ERR_FAIL);
	will_return(__wrap_sp_open, ENXIO);
	expect_function_call(__wrap_sp_free_port);
	assert_int_equal(con.ops->connect(&con, STILL_WAITING), -ENOENT);
}

static void test_serial_refused_setting_names_it_and_closes_port(void **state)
{
	assert_int_equal(open_yaml("type: serial\npath: /dev/ttyUSB0\nbaud: 9600\n"
	                           "flow: rtscts\n"),
	                 0);
	expect_path("/dev/ttyUSB0", "/dev/ttyUSB0");
	expect_open_ok("/dev/ttyUSB0");
	expect_value(__wrap_sp_set_baudrate, value, 9600);
	will_return(__wrap_sp_set_baudrate, SP_OK);
	expect_value(__wrap_sp_set_bits, value, 8);
	will_return(__wrap_sp_set_bits, SP_OK);
	expect_value(__wrap_sp_set_parity, value, SP_PARITY_NONE);
	will_return(__wrap_sp_set_parity, SP_OK);
	expect_value(__wrap_sp_set_stopbits, value, 1);
	will_return(__wrap_sp_set_stopbits, SP_OK);
	expect_value(__wrap_sp_set_flowcontrol, value, SP_FLOWCONTROL_RTSCTS);
	will_return(__wrap_sp_set_flowcontrol, SP_ERR_FAIL);
	will_return(__wrap_sp_set_flowcontrol, EINVAL);
	expect_release();
	assert_int_equal(con.ops->connect(&con, STILL_WAITING), -EINVAL);
	assert_non_null(strstr(logbuf, "/dev/ttyUSB0: the port refused flow (9600 baud, 8 data "
	                               "bits, parity none, 1 stop bits, flow rtscts)"));
	assert_int_equal(con.fd, -1);
}

/* ---- lookup by USB serial number ------------------------------------ */

static const struct fake_listed three_ports[] = {
    {"/dev/ttyS0", NULL},
    {"/dev/ttyUSB0", "A50285BI"},
    {"/dev/ttyUSB1", "FT8ZQ2XK"},
    {NULL, NULL},
};

static void test_serial_usb_serial_picks_the_matching_adapter(void **state)
{
	assert_int_equal(open_yaml("type: serial\nusb_serial: FT8ZQ2XK\n"), 0);
	listing = three_ports;
	expect_function_call(__wrap_sp_list_ports);
	expect_open_ok("/dev/ttyUSB1");
	expect_settings(115200, 8, SP_PARITY_NONE, 1, SP_FLOWCONTROL_NONE);
	assert_int_equal(con.ops->connect(&con, STILL_WAITING), 0);
	assert_null(listing_ptrs); /* the list was freed */
	close_connected();
}

static void test_serial_usb_serial_absent_is_enoent(void **state)
{
	assert_int_equal(open_yaml("type: serial\nusb_serial: NOPE1234\n"), 0);
	listing = three_ports;
	expect_function_call(__wrap_sp_list_ports);
	assert_int_equal(con.ops->connect(&con, LAST_TRY), -ENOENT);
	assert_string_equal(logbuf, "board \"bbb-02\": no serial adapter with USB serial number "
	                            "\"NOPE1234\" (is the adapter powered by the board? plugged "
	                            "in?)\n");
}

static void test_serial_usb_serial_shared_by_two_ports_is_refused(void **state)
{
	static const struct fake_listed ft4232[] = {
	    {"/dev/ttyUSB0", "FT4232A"}, {"/dev/ttyUSB1", "FT4232A"}, {NULL, NULL}};

	assert_int_equal(open_yaml("type: serial\nusb_serial: FT4232A\n"), 0);
	listing = ft4232;
	expect_function_call(__wrap_sp_list_ports);
	assert_int_equal(con.ops->connect(&con, STILL_WAITING), -EINVAL);
	assert_non_null(strstr(logbuf, "matches 2 ports (/dev/ttyUSB0, /dev/ttyUSB1)"));
	assert_non_null(strstr(logbuf, "/dev/serial/by-id/"));
}

/* ---- read, write, vanish, reconnect --------------------------------- */

static void connect_usb1(void)
{
	listing = three_ports;
	expect_function_call(__wrap_sp_list_ports);
	expect_open_ok("/dev/ttyUSB1");
	expect_settings(115200, 8, SP_PARITY_NONE, 1, SP_FLOWCONTROL_NONE);
	assert_int_equal(con.ops->connect(&con, STILL_WAITING), 0);
}

static void test_serial_read_passes_bytes_and_idle_is_zero(void **state)
{
	static const char boot[] = "U-Boot\0\xff\n";
	char buf[64];

	assert_int_equal(open_yaml("type: serial\nusb_serial: FT8ZQ2XK\n"), 0);
	connect_usb1();
	will_return(__wrap_sp_nonblocking_read, sizeof(boot) - 1);
	will_return(__wrap_sp_nonblocking_read, boot);
	assert_int_equal(con.ops->read(&con, buf, sizeof(buf)), sizeof(boot) - 1);
	assert_memory_equal(buf, boot, sizeof(boot) - 1);
	will_return(__wrap_sp_nonblocking_read, 0);
	assert_int_equal(con.ops->read(&con, buf, sizeof(buf)), 0);
	will_return(__wrap_sp_nonblocking_read, SP_ERR_FAIL);
	will_return(__wrap_sp_nonblocking_read, EINTR);
	assert_int_equal(con.ops->read(&con, buf, sizeof(buf)), 0);
	assert_string_equal(logbuf, "");
	close_connected();
}

static void test_serial_hangup_eof_is_epipe(void **state)
{
	char buf[64];

	assert_int_equal(open_yaml("type: serial\nusb_serial: FT8ZQ2XK\n"), 0);
	connect_usb1();
	/* Board power cut: the kernel hangs the tty up; reads give EOF. */
	close(sock[1]);
	sock[1] = -1;
	will_return(__wrap_sp_nonblocking_read, 0);
	assert_int_equal(con.ops->read(&con, buf, sizeof(buf)), -EPIPE);
	assert_string_equal(logbuf, ""); /* a gap is no error: console.c logs it */
	close_connected();
}

static void test_serial_read_eio_is_epipe(void **state)
{
	char buf[64];

	assert_int_equal(open_yaml("type: serial\nusb_serial: FT8ZQ2XK\n"), 0);
	connect_usb1();
	will_return(__wrap_sp_nonblocking_read, SP_ERR_FAIL);
	will_return(__wrap_sp_nonblocking_read, EIO);
	assert_int_equal(con.ops->read(&con, buf, sizeof(buf)), -EPIPE);
	close_connected();
}

static void test_serial_read_other_error_is_reported(void **state)
{
	char buf[64];

	assert_int_equal(open_yaml("type: serial\nusb_serial: FT8ZQ2XK\n"), 0);
	connect_usb1();
	will_return(__wrap_sp_nonblocking_read, SP_ERR_FAIL);
	will_return(__wrap_sp_nonblocking_read, ENOMEM);
	assert_int_equal(con.ops->read(&con, buf, sizeof(buf)), -ENOMEM);
	assert_non_null(strstr(logbuf, "board \"bbb-02\": /dev/ttyUSB1: read:"));
	close_connected();
}

static void test_serial_write_passes_bytes_and_maps_errors(void **state)
{
	static const char cmd[] = "reset\r";

	assert_int_equal(open_yaml("type: serial\nusb_serial: FT8ZQ2XK\n"), 0);
	connect_usb1();
	expect_memory(__wrap_sp_nonblocking_write, buf, cmd, 6);
	expect_value(__wrap_sp_nonblocking_write, count, 6);
	will_return(__wrap_sp_nonblocking_write, 4);
	assert_int_equal(con.ops->write(&con, cmd, 6), 4);
	/* Full output buffer: 0, the caller polls for POLLOUT. */
	expect_memory(__wrap_sp_nonblocking_write, buf, cmd + 4, 2);
	expect_value(__wrap_sp_nonblocking_write, count, 2);
	will_return(__wrap_sp_nonblocking_write, SP_ERR_FAIL);
	will_return(__wrap_sp_nonblocking_write, EAGAIN);
	assert_int_equal(con.ops->write(&con, cmd + 4, 2), 0);
	/* Hung-up tty: writes fail with EIO. */
	expect_memory(__wrap_sp_nonblocking_write, buf, cmd + 4, 2);
	expect_value(__wrap_sp_nonblocking_write, count, 2);
	will_return(__wrap_sp_nonblocking_write, SP_ERR_FAIL);
	will_return(__wrap_sp_nonblocking_write, EIO);
	assert_int_equal(con.ops->write(&con, cmd + 4, 2), -EPIPE);
	close_connected();
}

static void test_serial_reconnect_finds_reenumerated_adapter_by_usb_serial(void **state)
{
	static const struct fake_listed gone[] = {{"/dev/ttyS0", NULL}, {NULL, NULL}};
	static const struct fake_listed back[] = {{"/dev/ttyS0", NULL},
	                                          {"/dev/ttyUSB0", "A50285BI"},
	                                          {"/dev/ttyUSB2", "FT8ZQ2XK"},
	                                          {NULL, NULL}};
	char buf[16];

	assert_int_equal(open_yaml("type: serial\nusb_serial: FT8ZQ2XK\n"), 0);
	connect_usb1();
	close(sock[1]);
	sock[1] = -1;
	will_return(__wrap_sp_nonblocking_read, 0);
	assert_int_equal(con.ops->read(&con, buf, sizeof(buf)), -EPIPE);
	expect_release();
	con.ops->disconnect(&con);
	assert_int_equal(con.fd, -1);

	/* Board off: the adapter is not listed. */
	listing = gone;
	expect_function_call(__wrap_sp_list_ports);
	assert_int_equal(con.ops->connect(&con, STILL_WAITING), -ENOENT);

	/* Board on: it came back as ttyUSB2 (ttyUSB1 was still held by someone). */
	close(sock[0]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sock), 0);
	listing = back;
	expect_function_call(__wrap_sp_list_ports);
	expect_open_ok("/dev/ttyUSB2");
	expect_settings(115200, 8, SP_PARITY_NONE, 1, SP_FLOWCONTROL_NONE);
	assert_int_equal(con.ops->connect(&con, STILL_WAITING), 0);
	assert_int_equal(con.fd, sock[0]);
	assert_string_equal(logbuf, "");
	close_connected();
}

static void test_serial_reconnect_by_id_path_follows_the_new_node(void **state)
{
	char yaml[256];

	snprintf(yaml, sizeof(yaml), "type: serial\npath: %s\n", by_id);
	assert_int_equal(open_yaml(yaml), 0);
	expect_path(by_id, "/dev/ttyUSB0");
	expect_open_ok("/dev/ttyUSB0");
	expect_settings(115200, 8, SP_PARITY_NONE, 1, SP_FLOWCONTROL_NONE);
	assert_int_equal(con.ops->connect(&con, STILL_WAITING), 0);
	expect_release();
	con.ops->disconnect(&con);
	/* The udev link now points at ttyUSB1: it is resolved again. */
	expect_path(by_id, "/dev/ttyUSB1");
	expect_open_ok("/dev/ttyUSB1");
	expect_settings(115200, 8, SP_PARITY_NONE, 1, SP_FLOWCONTROL_NONE);
	assert_int_equal(con.ops->connect(&con, STILL_WAITING), 0);
	close_connected();
}

static void test_serial_close_releases_a_connected_port(void **state)
{
	assert_int_equal(open_yaml("type: serial\nusb_serial: FT8ZQ2XK\n"), 0);
	connect_usb1();
	expect_release();
	con.ops->close(&con);
	assert_null(con.priv);
	con.ops = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	    T(test_serial_open_needs_path_or_usb_serial),
	    T(test_serial_open_refuses_path_and_usb_serial_together),
	    T(test_serial_open_refuses_unknown_key),
	    T(test_serial_open_lists_valid_parity_and_flow),
	    T(test_serial_open_checks_ranges),
	    T(test_serial_connect_applies_every_setting),
	    T(test_serial_defaults_are_115200_8n1_without_flow_control),
	    T(test_serial_odd_parity_and_xonxoff_map_to_libserialport),
	    T(test_serial_rtscts_sets_crtscts_in_cflag),
	    T(test_serial_flow_none_clears_crtscts_left_by_another_program),
	    T(test_serial_consistent_flow_needs_no_extra_tcsetattr),
	    T(test_serial_missing_device_is_enoent_with_power_hint),
	    T(test_serial_node_gone_from_sysfs_is_enoent),
	    T(test_serial_not_a_tty_is_refused),
	    T(test_serial_path_outside_dev_is_refused),
	    T(test_serial_permission_denied_hints_dialout),
	    T(test_serial_busy_port_names_likely_holders),
	    T(test_serial_vanishing_between_lookup_and_open_is_enoent),
	    T(test_serial_refused_setting_names_it_and_closes_port),
	    T(test_serial_usb_serial_picks_the_matching_adapter),
	    T(test_serial_usb_serial_absent_is_enoent),
	    T(test_serial_usb_serial_shared_by_two_ports_is_refused),
	    T(test_serial_read_passes_bytes_and_idle_is_zero),
	    T(test_serial_hangup_eof_is_epipe),
	    T(test_serial_read_eio_is_epipe),
	    T(test_serial_read_other_error_is_reported),
	    T(test_serial_write_passes_bytes_and_maps_errors),
	    T(test_serial_reconnect_finds_reenumerated_adapter_by_usb_serial),
	    T(test_serial_reconnect_by_id_path_follows_the_new_node),
	    T(test_serial_close_releases_a_connected_port),
#undef T
	};

	return cmocka_run_group_tests_name("console_serial", tests, NULL, NULL);
}
