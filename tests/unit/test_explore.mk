UNIT_TESTS += test_explore
test_explore_SRCS := harness/explore/explore_enum.c harness/explore/explore_sel.c
