UNIT_TESTS += test_shard_board
test_shard_board_SRCS := harness/campaign/shard_board.c lib/log.c
test_shard_board_WRAPS := lock_try lock_query lock_holder_is_us board_on_host lab_this_host
