UNIT_TESTS += test_expect
test_expect_SRCS := harness/run/expect.c lib/cfg.c lib/log.c
