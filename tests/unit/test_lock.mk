UNIT_TESTS += test_lock
test_lock_SRCS := harness/lab/lock.c lib/log.c
