UNIT_TESTS += test_console_tcp
test_console_tcp_SRCS := harness/console/console_tcp.c lib/cfg.c lib/log.c
test_console_tcp_WRAPS := getaddrinfo
