UNIT_TESTS += test_cfg
test_cfg_SRCS := harness/cfg.c harness/log.c
