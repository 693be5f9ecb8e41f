UNIT_TESTS += test_postfault
test_postfault_SRCS := qemu/postfault.c qemu/overlay.c qemu/launch.c qemu/netdev.c qemu/powerloss.c qemu/wlog.c \
	qemu/crashdisk.c qemu/proc.c lib/cfg.c lib/log.c lib/timeline.c
test_postfault_WRAPS :=
