UNIT_TESTS += test_probes
test_probes_SRCS := harness/lab/probes.c harness/run/expect.c lib/cfg.c lib/log.c
