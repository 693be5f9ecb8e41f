UNIT_TESTS += test_console_tcp
test_console_tcp_SRCS := harness/console_tcp.c harness/cfg.c harness/log.c
test_console_tcp_WRAPS := getaddrinfo
