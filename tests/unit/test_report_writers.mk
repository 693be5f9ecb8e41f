UNIT_TESTS += test_report_writers
test_report_writers_SRCS := $(filter-out harness/cli/cmd_report.c,$(wildcard reports/*.c)) \
	lib/verdict.c lib/log.c lib/text.c
