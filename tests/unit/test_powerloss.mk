UNIT_TESTS += test_powerloss
test_powerloss_SRCS := qemu/powerloss.c qemu/launch.c qemu/overlay.c qemu/wlog.c qemu/crashdisk.c \
	qemu/proc.c harness/cfg.c harness/log.c harness/timeline.c
test_powerloss_WRAPS :=
