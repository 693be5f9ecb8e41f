UNIT_TESTS += test_console_qemu
test_console_qemu_SRCS := harness/console_qemu.c qemu/qmp.c qemu/launch.c qemu/powerloss.c qemu/wlog.c qemu/crashdisk.c \
	qemu/overlay.c qemu/proc.c harness/cfg.c \
	harness/log.c harness/timeline.c
test_console_qemu_WRAPS :=
