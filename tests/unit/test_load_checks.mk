UNIT_TESTS += test_load_checks
# lab_load() reaches every driver's check() through power.c's table.
test_load_checks_SRCS := $(filter-out harness/cli/% harness/explore/%,$(LIB_SRCS))
