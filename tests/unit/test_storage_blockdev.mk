UNIT_TESTS += test_storage_blockdev
test_storage_blockdev_SRCS := storage/blockdev.c lib/stop.c
