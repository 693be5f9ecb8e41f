UNIT_TESTS += test_num
test_num_SRCS := lib/num.c lib/cfg.c lib/log.c
