/* tests/unit/test_storage_writer.c — storage/writer.c on image files, with
 * pread and pwrite wrapped at the link seam (-Wl,--wrap) to play a device
 * that lies or fails: a bmap write touches only the mapped blocks of a target
 * pre-filled with a pattern; a full write copies every byte; a read-back that
 * differs from what was written is a verify failure naming the byte range; a
 * device that fails mid-write names the offset and errno; a stop request ends
 * the write with -EINTR. The image is the one tests/unit/data/storage/
 * small.bmap was made from (1 MiB, data in blocks 0, 10-12, 255). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/log.h"
#include "lib/stop.h"
#include "storage/writer.h"

#define BMAP "tests/unit/data/storage/small.bmap"
#define SIZE (1 << 20)
#define BS 4096

static char dir[] = "/tmp/hilctl-test-writer-XXXXXX";
static char image[PATH_MAX], target[PATH_MAX], log_buf[4096];
static uint8_t *want;
static bool corrupt_reads;
static long long fail_write_at = -1; /* byte offset where pwrite starts failing */

ssize_t __real_pread(int fd, void *buf, size_t count, off_t offset);
ssize_t __wrap_pread(int fd, void *buf, size_t count, off_t offset);
ssize_t __real_pwrite(int fd, const void *buf, size_t count, off_t offset);
ssize_t __wrap_pwrite(int fd, const void *buf, size_t count, off_t offset);

/* A card whose read-back differs: one bit flipped in every read of a block
 * or more (the image's 8-byte magic sniff is left alone). */
ssize_t __wrap_pread(int fd, void *buf, size_t count, off_t offset)
{
	ssize_t n = __real_pread(fd, buf, count, offset);

	if (corrupt_reads && n >= BS)
		((uint8_t *)buf)[0] ^= 0x01;
	return n;
}

/* A card that fails (or vanishes) once the write reaches fail_write_at. */
ssize_t __wrap_pwrite(int fd, const void *buf, size_t count, off_t offset)
{
	if (fail_write_at >= 0 && offset + (off_t)count > fail_write_at) {
		errno = EIO;
		return -1;
	}
	return __real_pwrite(fd, buf, count, offset);
}

static void write_file(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static uint8_t *read_file(const char *path, size_t len)
{
	uint8_t *data = malloc(len);
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(read(fd, data, len), (ssize_t)len);
	close(fd);
	return data;
}

static int setup_group(void **state)
{
	assert_non_null(mkdtemp(dir));
	snprintf(image, sizeof(image), "%s/small.img", dir);
	snprintf(target, sizeof(target), "%s/card.img", dir);
	want = calloc(1, SIZE);
	for (int i = 0; i < BS; i++)
		want[i] = (uint8_t)i;
	memset(want + 10 * BS, 0xA5, 3 * BS);
	memset(want + SIZE - 100, 'E', 100);
	write_file(image, want, SIZE);
	return 0;
}

static int teardown_group(void **state)
{
	unlink(image);
	unlink(target);
	rmdir(dir);
	free(want);
	return 0;
}

static int setup(void **state)
{
	uint8_t *pattern = malloc(SIZE);

	memset(pattern, 0x77, SIZE);
	write_file(target, pattern, SIZE);
	free(pattern);
	corrupt_reads = false;
	fail_write_at = -1;
	log_buf[0] = 0;
	log_capture(log_buf, sizeof(log_buf));
	return 0;
}

static int teardown(void **state)
{
	log_capture(NULL, 0);
	stop_request(0);
	return 0;
}

static struct writer_opts opts(bool use_bmap)
{
	return (struct writer_opts){.image = image,
	                            .bmap = use_bmap ? BMAP : NULL,
	                            .no_bmap = !use_bmap,
	                            .verify = true,
	                            .target = target};
}

static bool mapped(size_t block)
{
	return block == 0 || (block >= 10 && block <= 12) || block == 255;
}

static void test_writer_bmap_writes_only_mapped_blocks(void **state)
{
	struct writer_opts o = opts(true);
	struct writer_result res;
	uint8_t *got, pattern[BS];

	assert_int_equal(writer_flash(&o, &res), 0);
	assert_int_equal(res.bytes_written, 5 * BS);
	assert_int_equal(res.bytes_verified, 5 * BS);
	assert_int_equal(res.image_size, SIZE);
	assert_string_equal(res.bmap_path, BMAP);
	memset(pattern, 0x77, BS);
	got = read_file(target, SIZE);
	for (size_t b = 0; b < SIZE / BS; b++)
		if (memcmp(got + b * BS, mapped(b) ? want + b * BS : pattern, BS) != 0)
			fail_msg("block %zu: %s", b, mapped(b) ? "not the image's" : "touched");
	free(got);
}

static void test_writer_full_write_copies_everything(void **state)
{
	struct writer_opts o = opts(false);
	struct writer_result res;
	uint8_t *got;

	assert_int_equal(writer_flash(&o, &res), 0);
	assert_int_equal(res.bytes_written, SIZE);
	assert_int_equal(res.bytes_verified, SIZE);
	got = read_file(target, SIZE);
	assert_memory_equal(got, want, SIZE);
	free(got);
}

static void test_writer_read_back_that_differs_fails_verify(void **state)
{
	struct writer_opts o = opts(true);
	struct writer_result res;

	corrupt_reads = true;
	assert_int_equal(writer_flash(&o, &res), -EIO);
	assert_non_null(strstr(log_buf, "verify failed: bytes 0-4095 read back differ from what "
	                                "was written"));
	assert_non_null(strstr(log_buf, target));
}

static void test_writer_device_failing_mid_write(void **state)
{
	struct writer_opts o = opts(true);
	struct writer_result res;

	fail_write_at = 11 * BS;
	assert_int_equal(writer_flash(&o, &res), -EIO);
	assert_non_null(strstr(log_buf, "write at byte 40960 failed: Input/output error"));
	assert_int_equal(res.bytes_written, BS);
}

static void test_writer_stops_on_request(void **state)
{
	struct writer_opts o = opts(false);
	struct writer_result res;

	stop_request(SIGTERM);
	assert_int_equal(writer_flash(&o, &res), -EINTR);
	assert_non_null(strstr(log_buf, "stopped after 0 bytes: the target holds a partial image"));
}

static void test_writer_without_verify_reads_nothing_back(void **state)
{
	struct writer_opts o = opts(true);
	struct writer_result res;

	o.verify = false;
	corrupt_reads = true; /* would fail a read-back */
	assert_int_equal(writer_flash(&o, &res), 0);
	assert_int_equal(res.bytes_verified, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_writer_bmap_writes_only_mapped_blocks, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_writer_full_write_copies_everything, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_writer_read_back_that_differs_fails_verify, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_writer_device_failing_mid_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_writer_stops_on_request, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_writer_without_verify_reads_nothing_back, setup,
	                                    teardown),
	};

	return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
