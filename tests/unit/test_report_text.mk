UNIT_TESTS += test_report_text
test_report_text_SRCS := lib/text.c
