/* tests/unit/fakes/ftdi_fake.h — stand-ins for the libftdi1 (and the few
 * libusb) calls that power/ftdi.c makes, linked in with -Wl,--wrap=SYMBOL
 * (see test_ftdi.mk).
 *
 * Every call records function_called() and checks its arguments against
 * expect_*(); return values come from will_return(). A failing libftdi call
 * also takes the text libftdi would leave in ctx->error_str (the real
 * ftdi_get_error_string() reads it) from will_return(ftdi_error_str, "..."). libusb device
 * handles are struct fake_usb_dev pointers: bus, address and port path. */
#ifndef HILCTL_FTDI_FAKE_H
#define HILCTL_FTDI_FAKE_H

#include <stdint.h>

#include <ftdi.h>
#include <libusb.h>

struct fake_usb_dev {
	uint8_t bus, address;
	uint8_t ports[7];
	int n_ports;
};

#define FAKE_USB_DEV(d) ((struct libusb_device *)(void *)(d))

/* The context ftdi_new() hands out; tests read the timeouts the driver set. */
extern struct ftdi_context fake_ftdi_ctx;

struct ftdi_context *__wrap_ftdi_new(void);
void __wrap_ftdi_free(struct ftdi_context *ftdi);
int __wrap_ftdi_usb_open_string(struct ftdi_context *ftdi, const char *description);
int __wrap_ftdi_usb_open_desc_index(struct ftdi_context *ftdi, int vendor, int product,
                                     const char *description, const char *serial,
                                     unsigned int index);
int __wrap_ftdi_usb_find_all(struct ftdi_context *ftdi, struct ftdi_device_list **devlist,
                             int vendor, int product);
void __wrap_ftdi_list_free(struct ftdi_device_list **devlist);
int __wrap_ftdi_usb_open_dev(struct ftdi_context *ftdi, struct libusb_device *dev);
int __wrap_ftdi_usb_close(struct ftdi_context *ftdi);
int __wrap_ftdi_set_bitmode(struct ftdi_context *ftdi, unsigned char bitmask, unsigned char mode);
int __wrap_ftdi_read_pins(struct ftdi_context *ftdi, unsigned char *pins);
int __wrap_ftdi_write_data(struct ftdi_context *ftdi, const unsigned char *buf, int size);
uint8_t __wrap_libusb_get_bus_number(struct libusb_device *dev);
uint8_t __wrap_libusb_get_device_address(struct libusb_device *dev);
int __wrap_libusb_get_port_numbers(struct libusb_device *dev, uint8_t *port_numbers,
                                   int port_numbers_len);

#endif
