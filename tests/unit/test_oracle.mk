UNIT_TESTS += test_oracle
test_oracle_SRCS := harness/oracle.c harness/verdict.c harness/log.c
