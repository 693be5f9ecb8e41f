UNIT_TESTS += test_report_journal
test_report_journal_SRCS := reports/journal_read.c reports/journal_fields.c reports/journal_run.c \
	lib/text.c lib/verdict.c lib/log.c
