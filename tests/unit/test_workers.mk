UNIT_TESTS += test_workers
test_workers_SRCS := harness/campaign/workers.c lib/stop.c lib/waitset.c
