UNIT_TESTS += test_outcome
test_outcome_SRCS := harness/run/outcome.c harness/run/scenario.c harness/run/expect.c lib/num.c lib/cfg.c lib/verdict.c lib/log.c
