UNIT_TESTS += test_waitset
test_waitset_SRCS := lib/waitset.c
