UNIT_TESTS += test_console_serial
test_console_serial_SRCS := harness/console/console_serial.c lib/cfg.c lib/log.c
test_console_serial_WRAPS := realpath sp_get_port_by_name sp_open sp_close sp_free_port \
	sp_set_baudrate sp_set_bits sp_set_parity sp_set_stopbits sp_set_flowcontrol \
	sp_get_port_handle sp_last_error_code sp_nonblocking_read sp_nonblocking_write \
	sp_list_ports sp_free_port_list sp_get_port_name sp_get_port_usb_serial \
	tcgetattr tcsetattr
