UNIT_TESTS += test_report_gate
test_report_gate_SRCS := reports/gate.c reports/merge.c reports/journal_read.c reports/journal_fields.c \
	reports/journal_run.c lib/text.c lib/verdict.c lib/log.c
