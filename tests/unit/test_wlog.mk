UNIT_TESTS += test_wlog
test_wlog_SRCS := qemu/wlog.c qemu/crashdisk.c qemu/proc.c lib/log.c
test_wlog_WRAPS :=
