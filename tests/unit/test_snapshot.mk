UNIT_TESTS += test_snapshot
test_snapshot_SRCS := qemu/snapshot.c qemu/launch.c qemu/overlay.c qemu/proc.c qemu/qmp.c \
	qemu/powerloss.c qemu/wlog.c qemu/crashdisk.c harness/cfg.c harness/log.c harness/timeline.c
test_snapshot_WRAPS :=
