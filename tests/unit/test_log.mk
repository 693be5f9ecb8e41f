UNIT_TESTS += test_log
test_log_SRCS := lib/log.c
