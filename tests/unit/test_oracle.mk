UNIT_TESTS += test_oracle
test_oracle_SRCS := harness/run/oracle.c lib/verdict.c lib/log.c
