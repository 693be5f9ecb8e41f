UNIT_TESTS += test_report_writers
test_report_writers_SRCS := $(filter-out reports/cmd_report.c,$(wildcard reports/*.c)) \
	harness/verdict.c harness/log.c
