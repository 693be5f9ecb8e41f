UNIT_TESTS += test_expect
test_expect_SRCS := harness/expect.c harness/log.c
