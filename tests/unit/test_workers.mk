UNIT_TESTS += test_workers
test_workers_SRCS := harness/workers.c
