UNIT_TESTS += test_snapshot
test_snapshot_SRCS := qemu/snapshot.c qemu/launch.c qemu/netdev.c qemu/overlay.c qemu/proc.c qemu/qmp.c lib/waitset.c \
	qemu/powerloss.c qemu/wlog.c qemu/crashdisk.c lib/cfg.c lib/log.c lib/timeline.c
test_snapshot_WRAPS :=
