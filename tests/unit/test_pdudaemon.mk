UNIT_TESTS += test_pdudaemon
test_pdudaemon_SRCS := power/pdudaemon.c harness/cfg.c harness/log.c
test_pdudaemon_WRAPS := curl_easy_init curl_easy_perform
