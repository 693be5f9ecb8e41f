UNIT_TESTS += test_ftdi
test_ftdi_SRCS := power/ftdi.c lib/cfg.c lib/log.c tests/unit/fakes/ftdi_fake.c
test_ftdi_WRAPS := ftdi_new ftdi_free ftdi_usb_open_string ftdi_usb_find_all ftdi_list_free \
	ftdi_usb_open_dev ftdi_usb_close ftdi_set_bitmode ftdi_read_pins ftdi_write_data \
	libusb_get_bus_number libusb_get_device_address libusb_get_port_numbers
