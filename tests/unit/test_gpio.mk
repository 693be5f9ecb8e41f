UNIT_TESTS += test_gpio
test_gpio_SRCS := power/gpio.c lib/cfg.c lib/log.c tests/unit/fakes/gpiod_fake.c
test_gpio_WRAPS := gpiod_chip_open_lookup gpiod_chip_close gpiod_chip_name gpiod_chip_num_lines \
	gpiod_chip_get_line gpiod_chip_find_line gpiod_line_offset gpiod_line_request_output \
	gpiod_line_set_value gpiod_line_get_value gpiod_line_update gpiod_line_consumer \
	gpiod_line_release glob globfree access
