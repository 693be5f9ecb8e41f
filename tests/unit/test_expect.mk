UNIT_TESTS += test_expect
test_expect_SRCS := harness/run/expect.c lib/log.c
