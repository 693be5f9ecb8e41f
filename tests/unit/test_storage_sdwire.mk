UNIT_TESTS += test_storage_sdwire
test_storage_sdwire_SRCS := storage/sdwire.c storage/storage.c storage/command.c storage/qemu.c \
	storage/usbsdmux.c storage/argv.c storage/blockdev.c lib/cfg.c lib/log.c lib/stop.c \
	tests/unit/fakes/ftdi_fake.c
test_storage_sdwire_WRAPS := ftdi_new ftdi_free ftdi_usb_open_desc_index ftdi_usb_close \
	ftdi_set_bitmode
