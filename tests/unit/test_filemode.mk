UNIT_TESTS += test_filemode
test_filemode_SRCS := lib/filemode.c
