UNIT_TESTS += test_powerloss
test_powerloss_SRCS := qemu/powerloss.c qemu/launch.c qemu/netdev.c qemu/overlay.c qemu/wlog.c qemu/crashdisk.c \
	qemu/proc.c lib/cfg.c lib/log.c lib/timeline.c
test_powerloss_WRAPS :=
