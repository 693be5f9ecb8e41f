UNIT_TESTS += test_qmp
test_qmp_SRCS := qemu/qmp.c harness/log.c harness/timeline.c
test_qmp_WRAPS :=
