/* tests/unit/test_storage_bmap.c — storage/bmap.c: a real bmap from Debian's
 * bmap-tools 3.6 (tests/unit/data/storage/small.bmap, made with `bmaptool
 * create` from a 1 MiB image with data in blocks 0, 10-12 and 255) parses to
 * exactly its ranges and checksums; the file's own checksum catches an edit;
 * older formats without checksums parse; malformed XML, inconsistent sizes,
 * ranges out of order or past the end and newer major versions are refused
 * with a message that names the problem; the nettle hashes match known
 * digests. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "storage/bmap.h"

#define SMALL "tests/unit/data/storage/small.bmap"

static char err[512];

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	assert_non_null(f);
	buf = malloc(1 << 16);
	*len = fread(buf, 1, 1 << 16, f);
	fclose(f);
	return buf;
}

static void sum_hex(const uint8_t *sum, char *out)
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", sum[i]);
}

static void test_bmap_real_file_parses_ranges_and_sums(void **state)
{
	struct bmap b;
	char hex[65];

	assert_int_equal(bmap_load(SMALL, &b, err, sizeof(err)), 0);
	assert_int_equal(b.version_major, 2);
	assert_int_equal(b.image_size, 1 << 20);
	assert_int_equal(b.block_size, 4096);
	assert_int_equal(b.blocks_count, 256);
	assert_int_equal(b.mapped_blocks, 5);
	assert_int_equal(b.sum_type, BMAP_SUM_SHA256);
	assert_int_equal(b.n_ranges, 3);
	assert_int_equal(b.ranges[0].first, 0);
	assert_int_equal(b.ranges[0].last, 0);
	assert_int_equal(b.ranges[1].first, 10);
	assert_int_equal(b.ranges[1].last, 12);
	assert_int_equal(b.ranges[2].first, 255);
	assert_int_equal(b.ranges[2].last, 255);
	assert_true(b.ranges[1].has_sum);
	sum_hex(b.ranges[1].sum, hex);
	assert_string_equal(hex,
	                    "9f8581ffbf27a220a57fec1f3721b31f87e559f2616cf54f671b497fb0d8d5d0");
	assert_int_equal(bmap_mapped_bytes(&b), 5 * 4096);
	bmap_free(&b);
}

static void test_bmap_edited_file_fails_its_own_checksum(void **state)
{
	size_t len;
	char *buf = slurp(SMALL, &len);
	char *at = strstr(buf, "9f8581ff");
	struct bmap b;

	assert_non_null(at);
	at[0] = 'a'; /* one range's checksum changed by hand */
	assert_int_equal(bmap_parse("edited.bmap", buf, len, &b, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "edited.bmap"));
	assert_non_null(strstr(err, "own sha256 checksum does not match"));
	free(buf);
}

static int parse_text(const char *text, struct bmap *b)
{
	return bmap_parse("t.bmap", text, strlen(text), b, err, sizeof(err));
}

#define HEAD(ver, size, bs, count)                                                                 \
	"<?xml version=\"1.0\" ?>\n<bmap version=\"" ver "\">\n<ImageSize> " size                  \
	" </ImageSize>\n<BlockSize> " bs " </BlockSize>\n<BlocksCount> " count " </BlocksCount>\n"

static void test_bmap_old_format_without_checksums(void **state)
{
	struct bmap b;

	assert_int_equal(
	    parse_text(HEAD("1.2", "10000", "4096",
	                    "3") "<MappedBlocksCount> 3 "
	                         "</MappedBlocksCount>\n<BlockMap>\n<Range> 0-1 </Range>\n"
	                         "<Range>2</Range>\n</BlockMap>\n</bmap>\n",
	               &b),
	    0);
	assert_int_equal(b.sum_type, BMAP_SUM_NONE);
	assert_int_equal(b.n_ranges, 2);
	assert_false(b.ranges[0].has_sum);
	/* The last block is cut at the image's end: 10000 bytes, not 12288. */
	assert_int_equal(bmap_mapped_bytes(&b), 10000);
	bmap_free(&b);
}

static void test_bmap_refuses_bad_files(void **state)
{
	static const struct {
		const char *text, *message;
	} cases[] = {
	    {"<bmap version=\"2.0\"><ImageSize>1", "not well-formed XML"},
	    {"<notbmap/>", "not a bmap file"},
	    {HEAD("3.0", "4096", "4096", "1") "</bmap>", "newer than the 2.x"},
	    {HEAD("1.0", "10000", "4096", "2") "</bmap>", "10000 bytes are not 2 blocks"},
	    {HEAD("1.0", "8192", "4096", "2") "<BlockMap><Range>1-2</Range></BlockMap></bmap>",
	     "past the image's end"},
	    {HEAD("1.0", "8192", "4096",
	          "2") "<BlockMap><Range>1</Range><Range>0</Range></BlockMap></bmap>",
	     "not after the range before it"},
	    {HEAD("1.0", "8192", "4096", "2") "<BlockMap><Range>1-0</Range></BlockMap></bmap>",
	     "bad range"},
	    {HEAD("2.0", "8192", "4096", "2") "<ChecksumType> md5 </ChecksumType></bmap>",
	     "is not sha256 or sha1"},
	    {HEAD("2.0", "8192", "4096", "2") "<ChecksumType>sha256</ChecksumType><BlockMap>"
	                                      "<Range chksum=\"xyz\">0</Range></BlockMap></bmap>",
	     "is not a sha256 digest"},
	    {HEAD("1.0", "8192", "4096", "2") "<MappedBlocksCount>2</MappedBlocksCount><BlockMap>"
	                                      "<Range>0</Range></BlockMap></bmap>",
	     "the ranges hold 1"},
	};
	struct bmap b;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = 0;
		assert_int_equal(parse_text(cases[i].text, &b), -EINVAL);
		if (!strstr(err, cases[i].message))
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, cases[i].message);
		assert_null(b.ranges);
	}
}

static void test_bmap_hash_known_digests(void **state)
{
	struct bmap_hash *h = bmap_hash_new(BMAP_SUM_SHA256);
	uint8_t out[32];
	char hex[65];

	bmap_hash_update(h, "abc", 3);
	bmap_hash_final(h, out);
	sum_hex(out, hex);
	assert_string_equal(hex,
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* final starts over */
	bmap_hash_update(h, "abc", 3);
	bmap_hash_final(h, out);
	sum_hex(out, hex);
	assert_string_equal(hex,
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	bmap_hash_free(h);
	h = bmap_hash_new(BMAP_SUM_SHA1);
	bmap_hash_update(h, "abc", 3);
	bmap_hash_final(h, out);
	for (int i = 0; i < 20; i++)
		sprintf(hex + 2 * i, "%02x", out[i]);
	assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
	bmap_hash_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bmap_real_file_parses_ranges_and_sums),
	    cmocka_unit_test(test_bmap_edited_file_fails_its_own_checksum),
	    cmocka_unit_test(test_bmap_old_format_without_checksums),
	    cmocka_unit_test(test_bmap_refuses_bad_files),
	    cmocka_unit_test(test_bmap_hash_known_digests),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
