UNIT_TESTS += test_storage_bmap
test_storage_bmap_SRCS := storage/bmap.c
