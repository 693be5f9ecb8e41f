UNIT_TESTS += test_cfg
test_cfg_SRCS := lib/cfg.c lib/log.c
