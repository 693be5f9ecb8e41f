/* tests/unit/fakes/ftdi_fake.c — the libftdi1/libusb fakes described in
 * ftdi_fake.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ftdi_fake.h"

struct ftdi_context fake_ftdi_ctx;

/* libftdi leaves the text of its last error in ctx->error_str. The fakes
 * take it from one queue of its own, will_return(ftdi_error_str, "..."), so
 * that a return code queued with will_return_always() does not interleave
 * with texts. */
static const char *ftdi_error_str(void)
{
	return mock_ptr_type(const char *);
}

/* A macro, since cmocka queues values per calling function. */
#define RETURN_CODE_SETTING_ERROR(ctx)                                                             \
	do {                                                                                       \
		int code_ = mock_type(int);                                                        \
		(ctx)->error_str = code_ < 0 ? ftdi_error_str() : "all fine";                      \
		return code_;                                                                      \
	} while (0)

static void check_ctx(struct ftdi_context *ftdi)
{
	assert_ptr_equal(ftdi, &fake_ftdi_ctx);
	/* Every USB transfer runs under a deadline. */
	assert_true(ftdi->usb_read_timeout > 0 && ftdi->usb_read_timeout <= 60000);
	assert_true(ftdi->usb_write_timeout > 0 && ftdi->usb_write_timeout <= 60000);
}

struct ftdi_context *__wrap_ftdi_new(void)
{
	function_called();
	return mock_ptr_type(struct ftdi_context *);
}

void __wrap_ftdi_free(struct ftdi_context *ftdi)
{
	function_called();
	assert_ptr_equal(ftdi, &fake_ftdi_ctx);
}

int __wrap_ftdi_usb_open_string(struct ftdi_context *ftdi, const char *description)
{
	function_called();
	check_ctx(ftdi);
	check_expected(description);
	RETURN_CODE_SETTING_ERROR(ftdi);
}

/* The SDWire driver's open (storage/sdwire.c): by VID, PID and serial. */
int __wrap_ftdi_usb_open_desc_index(struct ftdi_context *ftdi, int vendor, int product,
                                     const char *description, const char *serial,
                                     unsigned int index)
{
	function_called();
	check_ctx(ftdi);
	check_expected(vendor);
	check_expected(product);
	check_expected_ptr(description);
	check_expected(serial);
	check_expected(index);
	RETURN_CODE_SETTING_ERROR(ftdi);
}

int __wrap_ftdi_usb_find_all(struct ftdi_context *ftdi, struct ftdi_device_list **devlist,
                             int vendor, int product)
{
	function_called();
	check_ctx(ftdi);
	check_expected(vendor);
	check_expected(product);
	*devlist = mock_ptr_type(struct ftdi_device_list *);
	RETURN_CODE_SETTING_ERROR(ftdi);
}

void __wrap_ftdi_list_free(struct ftdi_device_list **devlist)
{
	function_called();
	*devlist = NULL; /* the test owns the fake list */
}

int __wrap_ftdi_usb_open_dev(struct ftdi_context *ftdi, struct libusb_device *dev)
{
	function_called();
	check_ctx(ftdi);
	check_expected_ptr(dev);
	RETURN_CODE_SETTING_ERROR(ftdi);
}

int __wrap_ftdi_usb_close(struct ftdi_context *ftdi)
{
	function_called();
	assert_ptr_equal(ftdi, &fake_ftdi_ctx);
	return 0;
}

int __wrap_ftdi_set_bitmode(struct ftdi_context *ftdi, unsigned char bitmask, unsigned char mode)
{
	function_called();
	check_ctx(ftdi);
	check_expected(bitmask);
	check_expected(mode);
	RETURN_CODE_SETTING_ERROR(ftdi);
}

int __wrap_ftdi_read_pins(struct ftdi_context *ftdi, unsigned char *pins)
{
	int code;

	function_called();
	check_ctx(ftdi);
	code = mock_type(int);
	if (code < 0) {
		ftdi->error_str = ftdi_error_str();
		return code;
	}
	*pins = (unsigned char)code; /* will_return(pins byte) */
	return 0;
}

int __wrap_ftdi_write_data(struct ftdi_context *ftdi, const unsigned char *buf, int size)
{
	unsigned char byte = buf[0];

	function_called();
	check_ctx(ftdi);
	check_expected(size);
	check_expected(byte);
	RETURN_CODE_SETTING_ERROR(ftdi);
}

uint8_t __wrap_libusb_get_bus_number(struct libusb_device *dev)
{
	return ((const struct fake_usb_dev *)(void *)dev)->bus;
}

uint8_t __wrap_libusb_get_device_address(struct libusb_device *dev)
{
	return ((const struct fake_usb_dev *)(void *)dev)->address;
}

int __wrap_libusb_get_port_numbers(struct libusb_device *dev, uint8_t *port_numbers,
                                   int port_numbers_len)
{
	const struct fake_usb_dev *d = (const void *)dev;

	if (d->n_ports > port_numbers_len)
		return LIBUSB_ERROR_OVERFLOW;
	memcpy(port_numbers, d->ports, (size_t)d->n_ports);
	return d->n_ports;
}
