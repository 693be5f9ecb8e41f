UNIT_TESTS += test_engine
# The whole engine, drivers and lab included: a run end to end against a fake
# board in a thread (command power, tcp console), without QEMU.
test_engine_SRCS := $(filter-out harness/cli/% harness/explore/%,$(LIB_SRCS))
