UNIT_TESTS += test_outcome
test_outcome_SRCS := harness/run/outcome.c harness/run/scenario.c lib/cfg.c lib/verdict.c lib/log.c
