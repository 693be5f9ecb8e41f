UNIT_TESTS += test_report_not_injected
test_report_not_injected_SRCS := $(filter-out harness/cli/cmd_report.c,$(wildcard reports/*.c)) \
	lib/verdict.c lib/log.c lib/text.c
