UNIT_TESTS += test_console_qemu
test_console_qemu_SRCS := harness/console/console_qemu.c qemu/qmp.c lib/waitset.c qemu/launch.c qemu/netdev.c qemu/powerloss.c qemu/wlog.c qemu/crashdisk.c \
	qemu/overlay.c qemu/proc.c lib/cfg.c \
	lib/log.c lib/timeline.c
test_console_qemu_WRAPS :=
