UNIT_TESTS += test_storage_command
test_storage_command_SRCS := storage/command.c storage/usbsdmux.c storage/storage.c \
	storage/sdwire.c storage/qemu.c storage/argv.c storage/blockdev.c lib/cfg.c lib/log.c lib/stop.c
