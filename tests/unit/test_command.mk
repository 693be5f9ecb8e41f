UNIT_TESTS += test_command
test_command_SRCS := power/command.c harness/cfg.c harness/log.c
test_command_WRAPS :=
