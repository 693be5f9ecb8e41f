UNIT_TESTS += test_qmp
test_qmp_SRCS := qemu/qmp.c lib/waitset.c lib/log.c lib/timeline.c
test_qmp_WRAPS :=
