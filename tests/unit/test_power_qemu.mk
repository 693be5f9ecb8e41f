UNIT_TESTS += test_power_qemu
# No library is faked: settings and argv are pure, and the process life
# cycle runs against a fake QEMU (a Python program the test writes).
test_power_qemu_SRCS := power/qemu.c qemu/snapshot.c qemu/launch.c qemu/netdev.c qemu/overlay.c qemu/proc.c qemu/qmp.c lib/waitset.c qemu/powerloss.c qemu/postfault.c qemu/wlog.c qemu/crashdisk.c lib/cfg.c lib/log.c \
	lib/timeline.c
test_power_qemu_WRAPS :=
