UNIT_TESTS += test_shard_board
test_shard_board_SRCS := harness/campaign/shard_board.c lib/log.c
test_shard_board_WRAPS := lock_try board_on_host lab_this_host
