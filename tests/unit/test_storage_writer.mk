UNIT_TESTS += test_storage_writer
test_storage_writer_SRCS := storage/writer.c storage/bmap.c storage/image.c storage/blockdev.c \
	lib/log.c lib/stop.c
test_storage_writer_WRAPS := pread pwrite
