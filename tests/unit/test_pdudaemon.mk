UNIT_TESTS += test_pdudaemon
test_pdudaemon_SRCS := power/pdudaemon.c lib/cfg.c lib/log.c
test_pdudaemon_WRAPS := curl_easy_init curl_easy_perform
