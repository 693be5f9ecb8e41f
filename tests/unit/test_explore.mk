UNIT_TESTS += test_explore
test_explore_SRCS := harness/explore_enum.c harness/explore_sel.c
