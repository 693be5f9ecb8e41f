UNIT_TESTS += test_journal_write
test_journal_write_SRCS := reports/journal_write.c lib/log.c
