UNIT_TESTS += test_command
test_command_SRCS := power/command.c lib/cfg.c lib/log.c
test_command_WRAPS :=
