UNIT_TESTS += test_shard_board
test_shard_board_SRCS := harness/shard_board.c harness/log.c
test_shard_board_WRAPS := lock_try board_on_host lab_this_host
